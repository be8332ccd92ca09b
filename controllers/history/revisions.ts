// ControllerRevisions (pkg/controller/history): the pod template a DaemonSet or StatefulSet had at each revision,
// stored as the strategic merge patch that restores it (what `kubectl rollout undo` applies), named by its hash.
import { isAlreadyExists, isConflict } from '../../api/errors.js';
import type { Informer } from '../../client/informer.js';
import type { ObjectLike, ResourceClient } from '../../client/rest.js';
import { hashOf, stableJson } from '../../lib/hash.js';
import type { Logger } from '../../lib/logger.js';
import { claimObjects, indexByController, newControllerRef, ownedAndOrphans } from '../framework/owners.js';
import type { ControllerRevision, LabelSelector, PodTemplateSpec } from '../framework/types.js';

/** apps.ControllerRevisionHashLabelKey: on a DaemonSet's or StatefulSet's pods, the revision they were made from. */
export const CONTROLLER_REVISION_HASH = 'controller-revision-hash';
/** history.ControllerRevisionHashLabel: on a StatefulSet's ControllerRevisions, their hash. */
export const REVISION_HASH_LABEL = 'controller.kubernetes.io/hash';

type Data = Record<string, unknown>;

/** The patch that restores a template: {"spec":{"template":{...,"$patch":"replace"}}} (getPatch). */
export function templatePatch(template: PodTemplateSpec | undefined): Data {
  return { spec: { template: { ...structuredClone(template ?? {}), $patch: 'replace' } } };
}

/** The template a revision restores, or undefined when its data is not a template patch. */
export function templateOfRevision(cr: Pick<ControllerRevision, 'data'>): PodTemplateSpec | undefined {
  const spec = (cr.data as Data | undefined)?.spec;
  const template = spec && typeof spec === 'object' ? (spec as Data).template : undefined;
  if (!template || typeof template !== 'object') return undefined;
  const { $patch: _directive, ...rest } = template as Data;
  return rest as PodTemplateSpec;
}

/** history.ControllerRevisionName: the parent's name (cut to 223 characters) and the hash. */
export function revisionName(parent: string, hash: string): string {
  return `${parent.length > 223 ? parent.slice(0, 223) : parent}-${hash}`;
}

/** Whether two revisions hold the same data (history.EqualRevision). */
export function equalRevision(a: Pick<ControllerRevision, 'data'>, b: Pick<ControllerRevision, 'data'>): boolean {
  return stableJson(a.data ?? null) === stableJson(b.data ?? null);
}

const created = (cr: ControllerRevision): number => Date.parse(cr.metadata.creationTimestamp ?? '') || 0;

/** By revision, then creation time, then name (history.SortControllerRevisions); a new array. */
export function sortRevisions(list: readonly ControllerRevision[]): ControllerRevision[] {
  return [...list].sort((a, b) => a.revision - b.revision || created(a) - created(b) || ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
}

/** The revisions in list equal to needle (history.FindEqualRevisions), in list order. */
export const findEqualRevisions = (list: readonly ControllerRevision[], needle: ControllerRevision): ControllerRevision[] =>
  list.filter((cr) => equalRevision(cr, needle));

/** One more than the highest revision of a sorted list, 1 for none. */
export const nextRevision = (sorted: readonly ControllerRevision[]): number => (sorted.length ? sorted[sorted.length - 1]!.revision + 1 : 1);

export const maxRevision = (list: readonly ControllerRevision[]): number => list.reduce((m, cr) => Math.max(m, cr.revision), 0);

/** A ControllerRevision of parent (history.NewControllerRevision): template labels, hash label, controller reference. */
export function newRevision(
  parent: ObjectLike,
  gvk: { apiVersion: string; kind: string },
  templateLabels: Record<string, string> | undefined,
  data: Data,
  revision: number,
  collisionCount: number,
): ControllerRevision {
  const hash = hashOf(data, collisionCount);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revisionName(parent.metadata?.name ?? '', hash),
      namespace: parent.metadata?.namespace ?? '',
      labels: { ...(templateLabels ?? {}), [REVISION_HASH_LABEL]: hash },
      ownerReferences: [newControllerRef(parent, gvk)],
    },
    data,
    revision,
  };
}

/** The revisions of DaemonSets and StatefulSets: read from a shared informer, written through the API (history.Interface). */
export class RevisionHistory {
  constructor(
    readonly informer: Informer<ControllerRevision>,
    private readonly client: ResourceClient<ControllerRevision>,
  ) {
    indexByController(informer);
  }

  /** The revisions owner controls after adopting matching orphans and releasing what stopped matching. */
  claim(owner: ObjectLike, gvk: { apiVersion: string; kind: string }, selector: LabelSelector, canAdopt: () => Promise<void>, log: Logger): Promise<ControllerRevision[]> {
    return claimObjects({ owner, gvk, selector, candidates: ownedAndOrphans(this.informer, owner, selector), client: this.client, canAdopt, log });
  }

  /**
   * Creates cr, renaming it with a higher collision count while its name is taken by a revision with other data
   * (history.CreateControllerRevision); returns the revision stored and the collision count used.
   */
  async create(parent: ObjectLike, cr: ControllerRevision, collisionCount: number): Promise<{ revision: ControllerRevision; collisionCount: number }> {
    const ns = parent.metadata?.namespace;
    for (let count = collisionCount; ; count++) {
      const named = { ...cr, metadata: { ...cr.metadata, name: revisionName(parent.metadata?.name ?? '', hashOf(cr.data, count)) } };
      try {
        return { revision: await this.client.create(ns, named), collisionCount: count };
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const exists = await this.client.get(ns, named.metadata.name ?? '');
        if (equalRevision(exists, named)) return { revision: exists, collisionCount: count };
      }
    }
  }

  /** Sets a revision's number, rereading it on a conflict (history.UpdateControllerRevision). */
  async setRevision(cr: ControllerRevision, revision: number): Promise<ControllerRevision> {
    let current = cr;
    for (let attempt = 0; ; attempt++) {
      if (current.revision === revision) return current;
      try {
        return await this.client.update({ ...current, revision });
      } catch (err) {
        if (!isConflict(err) || attempt >= 4) throw err;
        current = await this.client.get(cr.metadata.namespace, cr.metadata.name ?? '');
      }
    }
  }

  async delete(cr: ControllerRevision): Promise<void> {
    await this.client.delete(cr.metadata.namespace, cr.metadata.name ?? '', { preconditions: { uid: cr.metadata.uid ?? '' } });
  }

  /** The API client (for kind-specific writes such as adding a label). */
  get api(): ResourceClient<ControllerRevision> {
    return this.client;
  }
}
