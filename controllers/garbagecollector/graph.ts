// The garbage collector's dependency graph (pkg/controller/garbagecollector/graph.go, graph_builder.go): one node per
// object uid, edges from owner to dependents, and "virtual" nodes for owners known only from references. Changes
// report which items must be looked at: dependents that may be garbage, owners that may finish a foreground deletion.
import type { ObjectLike } from '../../client/rest.js';
import { metaOf } from '../framework/owners.js';
import type { OwnerReference } from '../framework/types.js';

export const FOREGROUND = 'foregroundDeletion';
export const ORPHAN = 'orphan';

export interface Identity {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

const NO_DEPENDENTS: ReadonlySet<GraphNode> = new Set();

export class GraphNode {
  /** Made on the first dependent: most objects (pods) never have one, and an empty Set costs ~100 bytes. */
  private dependentSet: Set<GraphNode> | undefined;
  owners: OwnerReference[] = [];
  beingDeleted = false;
  deletingDependents = false;
  constructor(
    readonly uid: string,
    public identity: Identity,
    public virtual: boolean,
  ) {}

  get dependents(): ReadonlySet<GraphNode> {
    return this.dependentSet ?? NO_DEPENDENTS;
  }

  addDependent(d: GraphNode): void {
    (this.dependentSet ??= new Set()).add(d);
  }

  removeDependent(d: GraphNode): void {
    this.dependentSet?.delete(d);
    if (this.dependentSet?.size === 0) this.dependentSet = undefined;
  }

  /** Dependents whose reference to this node blocks its foreground deletion. */
  blockingDependents(): GraphNode[] {
    return [...this.dependents].filter((d) => d.owners.some((r) => r.uid === this.uid && r.blockOwnerDeletion === true));
  }
}

/** Work the graph asks for: "delete" checks whether an item is garbage; "orphan" frees its dependents. */
export interface Work {
  kind: 'delete' | 'orphan';
  uid: string;
}

const hasFinalizer = (obj: ObjectLike, f: string): boolean => metaOf(obj).finalizers?.includes(f) ?? false;
export const isDeletingDependents = (obj: ObjectLike): boolean => !!metaOf(obj).deletionTimestamp && hasFinalizer(obj, FOREGROUND);
export const isWaitingForOrphaning = (obj: ObjectLike): boolean => !!metaOf(obj).deletionTimestamp && hasFinalizer(obj, ORPHAN);

export class Graph {
  private readonly nodes = new Map<string, GraphNode>();

  constructor(
    /** Whether a kind is namespaced; an owner of a namespaced kind lives in its dependent's namespace. */
    private readonly namespaced: (apiVersion: string, kind: string) => boolean,
  ) {}

  get(uid: string): GraphNode | undefined {
    return this.nodes.get(uid);
  }

  get size(): number {
    return this.nodes.size;
  }

  /** An object was added or changed. */
  observe(obj: ObjectLike, identity: Identity, old?: ObjectLike): Work[] {
    const m = metaOf(obj);
    const uid = m.uid;
    if (!uid) return [];
    const work: Work[] = [];
    const owners = m.ownerReferences ?? [];
    let n = this.nodes.get(uid);
    if (!n) {
      n = new GraphNode(uid, identity, false);
      this.nodes.set(uid, n);
      n.owners = owners;
      this.link(n, owners, work);
    } else {
      if (n.virtual) {
        n.virtual = false;
        n.identity = identity;
      }
      const before = new Map(n.owners.map((r) => [r.uid, r]));
      const after = new Map(owners.map((r) => [r.uid, r]));
      const added = owners.filter((r) => !before.has(r.uid));
      const removed = n.owners.filter((r) => !after.has(r.uid));
      // A reference that stopped blocking (removed, or blockOwnerDeletion now false) may let an owner finish.
      const unblocked = [...removed, ...owners.filter((r) => before.get(r.uid)?.blockOwnerDeletion === true && r.blockOwnerDeletion !== true)];
      for (const r of unblocked) if (this.nodes.get(r.uid)?.deletingDependents) work.push({ kind: 'delete', uid: r.uid });
      n.owners = owners;
      this.link(n, added, work);
      for (const r of removed) this.nodes.get(r.uid)?.removeDependent(n);
    }
    n.beingDeleted = !!m.deletionTimestamp;
    if (isWaitingForOrphaning(obj) && !(old && isWaitingForOrphaning(old))) work.push({ kind: 'orphan', uid });
    if (isDeletingDependents(obj)) {
      const starts = !n.deletingDependents || !(old && isDeletingDependents(old));
      n.deletingDependents = true;
      if (starts) {
        for (const d of n.dependents) work.push({ kind: 'delete', uid: d.uid });
        work.push({ kind: 'delete', uid });
      }
    } else n.deletingDependents = false;
    return work;
  }

  private link(n: GraphNode, refs: OwnerReference[], work: Work[]): void {
    for (const r of refs) {
      let owner = this.nodes.get(r.uid);
      if (!owner) {
        const ns = this.namespaced(r.apiVersion, r.kind) ? n.identity.namespace : undefined;
        owner = new GraphNode(r.uid, { apiVersion: r.apiVersion, kind: r.kind, name: r.name, ...(ns ? { namespace: ns } : {}) }, true);
        this.nodes.set(r.uid, owner);
        work.push({ kind: 'delete', uid: r.uid }); // does this owner exist at all?
      }
      owner.addDependent(n);
      // A new dependent of an owner already deleting in the foreground must go too.
      if (owner.deletingDependents) work.push({ kind: 'delete', uid: n.uid });
    }
  }

  /** An object is gone (or a virtual owner was found not to exist). */
  remove(uid: string): Work[] {
    const n = this.nodes.get(uid);
    if (!n) return [];
    this.nodes.delete(uid);
    const work: Work[] = [];
    for (const r of n.owners) {
      const owner = this.nodes.get(r.uid);
      if (!owner) continue;
      owner.removeDependent(n);
      if (owner.deletingDependents) work.push({ kind: 'delete', uid: owner.uid });
      // A virtual owner nobody points at any more is forgotten.
      if (owner.virtual && owner.dependents.size === 0) this.nodes.delete(owner.uid);
    }
    // Its dependents may be garbage now.
    for (const d of n.dependents) work.push({ kind: 'delete', uid: d.uid });
    return work;
  }
}

export type Verdict =
  | { action: 'none' }
  | { action: 'removeOwners'; uids: string[] }
  | { action: 'delete'; propagationPolicy: 'Background' | 'Foreground' | 'Orphan' };

export type OwnerState = 'solid' | 'dangling' | 'waiting';

/**
 * What to do with an object given the states of its owners (attemptToDeleteItem): keep it while some owner is solid
 * (dropping references to owners that are gone or deleting in the foreground), else delete it, in the foreground
 * when an owner waits for it and it has dependents of its own.
 */
export function decide(obj: ObjectLike, owners: Array<{ ref: OwnerReference; state: OwnerState }>, hasDependents: boolean): Verdict {
  if (!owners.length) return { action: 'none' };
  const solid = owners.filter((o) => o.state === 'solid');
  const waiting = owners.filter((o) => o.state === 'waiting');
  const dangling = owners.filter((o) => o.state === 'dangling');
  if (solid.length) {
    if (!waiting.length && !dangling.length) return { action: 'none' };
    return { action: 'removeOwners', uids: [...dangling, ...waiting].map((o) => o.ref.uid) };
  }
  if (waiting.length && hasDependents) return { action: 'delete', propagationPolicy: 'Foreground' };
  const f = metaOf(obj).finalizers ?? [];
  return { action: 'delete', propagationPolicy: f.includes(ORPHAN) ? 'Orphan' : f.includes(FOREGROUND) ? 'Foreground' : 'Background' };
}
