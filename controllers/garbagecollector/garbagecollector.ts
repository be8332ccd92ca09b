// The garbage collector (pkg/controller/garbagecollector): watches every kind, keeps the owner/dependent graph, and
// deletes objects whose owners are all gone; runs foreground deletion (foregroundDeletion finalizer, waiting for
// blockOwnerDeletion dependents) and orphaning (orphan finalizer: owner references removed from dependents).
import { setMaxListeners } from 'node:events';
import { isConflict, isNotFound } from '../../api/errors.js';
import { findByKind, RESOURCES, apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import type { Informer } from '../../client/informer.js';
import type { ObjectLike, ResourceClient, RestClient } from '../../client/rest.js';
import type { Logger } from '../../lib/logger.js';
import { Controller, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { metaOf } from '../framework/owners.js';
import type { OwnerReference } from '../framework/types.js';
import { CRDS, customResourceInfos, type CrdLike } from '../framework/custom-resources.js';
import { decide, FOREGROUND, Graph, isDeletingDependents, ORPHAN, type GraphNode, type Identity, type OwnerState, type Work } from './graph.js';

/** Kinds the collector does not track (as kube-controller-manager ignores events). */
const IGNORED = new Set(['events']);

export interface GarbageCollectorOptions {
  workers?: number;
  /** Start collecting after this long even if some kind's informer has not synced (default 30 s). */
  syncTimeoutMs?: number;
}

export class GarbageCollector extends Controller {
  readonly graph: Graph;
  private readonly rest: RestClient;
  private readonly clients = new Map<string, ResourceClient<ObjectLike>>();
  /** Custom kinds by apiVersion/kind, and the custom resources watched (resource.group). */
  private readonly custom = new Map<string, ResourceInfo>();
  private readonly customWatched = new Set<string>();
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: GarbageCollectorOptions = {}) {
    super({ name: 'garbage-collector-controller', clock: ctx.clock, workers: opts.workers ?? 20 });
    this.rest = ctx.rest;
    this.graph = new Graph((apiVersion, kind) => this.infoOf(apiVersion, kind)?.namespaced ?? true);
    const watched: Informer<ObjectLike>[] = [];
    for (const info of RESOURCES) if (!IGNORED.has(info.resource)) watched.push(this.watchKind(ctx, info));
    // Custom resources: their kinds are learnt from the CRDs, and each gets an informer when its CRD is established.
    const crds = ctx.informers.for<CrdLike>(CRDS);
    crds.addEventHandler({ onAdd: (c) => this.learn(ctx, c), onUpdate: (_o, c) => this.learn(ctx, c), onDelete: (c) => void this.forget(ctx, c) });
    watched.push(crds as unknown as Informer<ObjectLike>);
    // Decisions before every kind is known could orphan or block wrongly; a kind that never lists must not stop GC.
    const timeout = opts.syncTimeoutMs ?? 30_000;
    this.informers = [
      {
        waitForSync: async (signal?: AbortSignal): Promise<void> => {
          const ac = new AbortController();
          setMaxListeners(0, ac.signal); // one listener per watched kind
          const onAbort = (): void => ac.abort();
          signal?.addEventListener('abort', onAbort, { once: true });
          try {
            await Promise.race([Promise.all(watched.map((i) => i.waitForSync(ac.signal))), this.clock.sleep(timeout, ac.signal)]);
          } finally {
            signal?.removeEventListener('abort', onAbort);
            ac.abort();
          }
          if (signal?.aborted) throw signal.reason;
          const unsynced = watched.filter((i) => !i.hasSynced).map((i) => i.client.ref.resource);
          if (unsynced.length) this.log.warn('starting without synced informers', { resources: unsynced });
        },
      },
    ];
  }

  /** An informer of one kind feeding the graph. */
  private watchKind(ctx: ControllerContext, info: ResourceInfo): Informer<ObjectLike> {
    const inf = ctx.informers.for<ObjectLike>(info);
    const identity = (o: ObjectLike): Identity => ({
      apiVersion: apiVersionOf(info),
      kind: info.kind,
      name: o.metadata?.name ?? '',
      ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
    });
    inf.addEventHandler({
      onAdd: (o) => this.schedule(this.graph.observe(o, identity(o))),
      onUpdate: (old, o) => this.schedule(this.graph.observe(o, identity(o), old)),
      onDelete: (o) => this.schedule(this.graph.remove(o.metadata?.uid ?? '')),
    });
    return inf;
  }

  /** Learns the kinds of an established CRD and watches its storage version (once). */
  private learn(ctx: ControllerContext, crd: CrdLike): void {
    const infos = customResourceInfos(crd);
    for (const info of infos) this.custom.set(`${apiVersionOf(info)}/${info.kind}`, info);
    const storage = infos[0];
    if (!storage || this.customWatched.has(`${storage.resource}.${storage.group}`)) return;
    this.customWatched.add(`${storage.resource}.${storage.group}`);
    this.watchKind(ctx, storage).start();
  }

  /** Stops watching a deleted CRD's resource (its objects were deleted before it). */
  private async forget(ctx: ControllerContext, crd: CrdLike): Promise<void> {
    const { group, names } = crd.spec;
    for (const [k, info] of this.custom) if (info.group === group && info.resource === names.plural) this.custom.delete(k);
    const storage = crd.spec.versions.find((v) => v.storage);
    if (!storage || !this.customWatched.delete(`${names.plural}.${group}`)) return;
    await ctx.informers.for<ObjectLike>({ group, version: storage.name, resource: names.plural, namespaced: crd.spec.scope === 'Namespaced' }).stop();
  }

  /** A kind this collector can act on: a built-in one, or a custom one its CRD announced. */
  private infoOf(apiVersion: string, kind: string): ResourceInfo | undefined {
    return findByKind(apiVersion, kind) ?? this.custom.get(`${apiVersion}/${kind}`);
  }

  private schedule(work: Work[]): void {
    for (const w of work) this.queue.add(`${w.kind}/${w.uid}`);
  }

  protected async sync(key: string, { log }: SyncContext): Promise<void> {
    const i = key.indexOf('/');
    const kind = key.slice(0, i);
    const uid = key.slice(i + 1);
    const node = this.graph.get(uid);
    if (!node) return;
    if (kind === 'orphan') return this.orphanDependents(node, log);
    return this.attemptToDelete(node, log);
  }

  private client(identity: Pick<Identity, 'apiVersion' | 'kind'>): { client: ResourceClient<ObjectLike>; info: ResourceInfo } | undefined {
    const info = this.infoOf(identity.apiVersion, identity.kind);
    if (!info) return undefined;
    let c = this.clients.get(info.resource + '.' + info.group);
    if (!c) this.clients.set(info.resource + '.' + info.group, (c = this.rest.resource<ObjectLike>(info)));
    return { client: c, info };
  }

  /** The object as the server has it now; undefined when it is gone (or replaced by another with the same name). */
  private async live(identity: Identity, uid: string): Promise<ObjectLike | undefined | 'unknown'> {
    const c = this.client(identity);
    if (!c) return 'unknown';
    if (c.info.namespaced && !identity.namespace) return undefined; // a namespaced owner of a cluster-scoped object cannot exist
    try {
      const obj = await c.client.get(c.info.namespaced ? identity.namespace : undefined, identity.name);
      return metaOf(obj).uid === uid ? obj : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async attemptToDelete(node: GraphNode, log: Logger): Promise<void> {
    const latest = await this.live(node.identity, node.uid);
    if (latest === 'unknown') return; // a kind this server does not serve: nothing to decide
    if (!latest) {
      // Gone (a virtual owner that never existed, or a delete the watch has not shown yet): its dependents are orphans.
      if (node.virtual) this.schedule(this.graph.remove(node.uid));
      return;
    }
    if (node.virtual) return; // it exists; its informer will report it
    if (isDeletingDependents(latest)) return this.processDeletingDependents(node, latest, log);
    if (metaOf(latest).deletionTimestamp) return; // being deleted already, by someone else's finalizers
    const refs = metaOf(latest).ownerReferences ?? [];
    if (!refs.length) return;
    const owners: Array<{ ref: OwnerReference; state: OwnerState }> = [];
    for (const ref of refs) owners.push({ ref, state: await this.ownerState(ref, node) });
    const verdict = decide(latest, owners, node.dependents.size > 0);
    const m = metaOf(latest);
    const c = this.client(node.identity)!;
    if (verdict.action === 'removeOwners') {
      log.info('removing references to owners that are gone or deleting', { object: m.name, kind: node.identity.kind, owners: verdict.uids });
      await c.client.patch(m.namespace, m.name ?? '', { metadata: { uid: m.uid, resourceVersion: m.resourceVersion, ownerReferences: refs.filter((r) => !verdict.uids.includes(r.uid)) } });
    } else if (verdict.action === 'delete') {
      log.info('deleting object whose owners are gone', { object: m.name, namespace: m.namespace, kind: node.identity.kind, propagationPolicy: verdict.propagationPolicy });
      try {
        await c.client.delete(m.namespace, m.name ?? '', { propagationPolicy: verdict.propagationPolicy, preconditions: { uid: m.uid ?? '' } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  }

  private async ownerState(ref: OwnerReference, dependent: GraphNode): Promise<OwnerState> {
    const known = this.graph.get(ref.uid);
    if (known && !known.virtual) return known.deletingDependents ? 'waiting' : 'solid';
    const ns = this.infoOf(ref.apiVersion, ref.kind)?.namespaced ? dependent.identity.namespace : undefined;
    const owner = await this.live({ apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, ...(ns ? { namespace: ns } : {}) }, ref.uid);
    if (owner === 'unknown') return 'solid';
    if (!owner) return 'dangling';
    return isDeletingDependents(owner) ? 'waiting' : 'solid';
  }

  /** Foreground deletion: delete the dependents; once none blocks, remove the foregroundDeletion finalizer. */
  private async processDeletingDependents(node: GraphNode, latest: ObjectLike, log: Logger): Promise<void> {
    const blocking = node.blockingDependents();
    if (!blocking.length) {
      log.info('dependents gone, finishing foreground deletion', { object: node.identity.name, kind: node.identity.kind });
      return this.removeFinalizer(node, latest, FOREGROUND);
    }
    for (const d of blocking) if (!d.beingDeleted) this.queue.add(`delete/${d.uid}`);
  }

  /** Orphan propagation: drop this owner from every dependent's references, then the orphan finalizer. */
  private async orphanDependents(node: GraphNode, log: Logger): Promise<void> {
    const latest = await this.live(node.identity, node.uid);
    if (!latest || latest === 'unknown' || !metaOf(latest).finalizers?.includes(ORPHAN)) return;
    for (const d of [...node.dependents]) {
      const dep = await this.live(d.identity, d.uid);
      if (!dep || dep === 'unknown') continue;
      const m = metaOf(dep);
      const refs = m.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === node.uid)) continue;
      try {
        await this.client(d.identity)!.client.patch(m.namespace, m.name ?? '', {
          metadata: { uid: m.uid, resourceVersion: m.resourceVersion, ownerReferences: refs.filter((r) => r.uid !== node.uid) },
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    log.info('orphaned dependents', { object: node.identity.name, kind: node.identity.kind, dependents: node.dependents.size });
    await this.removeFinalizer(node, latest, ORPHAN);
  }

  private async removeFinalizer(node: GraphNode, latest: ObjectLike, finalizer: string): Promise<void> {
    const m = metaOf(latest);
    const finalizers = (m.finalizers ?? []).filter((f) => f !== finalizer);
    try {
      await this.client(node.identity)!.client.patch(m.namespace, m.name ?? '', { metadata: { uid: m.uid, resourceVersion: m.resourceVersion, finalizers } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
