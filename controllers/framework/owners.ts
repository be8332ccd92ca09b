// Owner references (pkg/controller/controller_ref_manager.go): finding an object's controller, and claiming objects
// for an owner: adopt matching orphans, release owned objects whose labels stopped matching, ignore others' objects.
import { isNotFound } from '../../api/errors.js';
import { matchesLabelSelector } from '../../api/selectors.js';
import { ownerReference, type GroupVersionKind } from '../../client/object-ref.js';
import type { Informer } from '../../client/informer.js';
import type { ObjectLike, ResourceClient } from '../../client/rest.js';
import type { Logger } from '../../lib/logger.js';
import { ensureIndex } from './controller.js';
import type { LabelSelector, ObjectMeta, OwnerReference } from './types.js';

export const metaOf = (obj: ObjectLike): ObjectMeta => (obj.metadata ?? {}) as ObjectMeta;

/** The owner reference with controller: true, if any. */
export function controllerRefOf(obj: ObjectLike): OwnerReference | undefined {
  return metaOf(obj).ownerReferences?.find((r) => r.controller === true);
}

/** A controller reference to owner, blocking the owner's foreground deletion, as controllers set on their children. */
export const newControllerRef = (owner: ObjectLike, gvk: GroupVersionKind): OwnerReference => ownerReference(owner, gvk, { controller: true });

export interface ClaimOptions<T extends ObjectLike> {
  owner: ObjectLike;
  gvk: { apiVersion: string; kind: string };
  selector: LabelSelector;
  candidates: T[];
  client: ResourceClient<T>;
  /** Throws when the owner may not adopt (it is gone or being deleted), read fresh from the server. */
  canAdopt: () => Promise<void>;
  log: Logger;
  /** A further condition beside the selector (a StatefulSet's pods carry its name): objects failing it are not its. */
  filter?: (obj: T) => boolean;
}

/**
 * The candidates that belong to owner after adopting orphans that match its selector and releasing its objects that
 * no longer match. Writes carry the object's resourceVersion, so a stale cache makes them fail (and the sync retry).
 */
export async function claimObjects<T extends ObjectLike>(o: ClaimOptions<T>): Promise<T[]> {
  const ownerMeta = metaOf(o.owner);
  const ownerDeleting = !!ownerMeta.deletionTimestamp;
  const claimed: T[] = [];
  const errors: unknown[] = [];
  let adoptable: Promise<void> | undefined;
  for (const obj of o.candidates) {
    const m = metaOf(obj);
    const ref = controllerRefOf(obj);
    const matches = matchesLabelSelector(o.selector, m.labels) && (o.filter?.(obj) ?? true);
    if (ref) {
      if (ref.uid !== ownerMeta.uid) continue;
      if (matches || ownerDeleting) {
        if (matches) claimed.push(obj);
        continue;
      }
      try {
        await patchOwnerRefs(o.client, obj, (m.ownerReferences ?? []).filter((r) => r.uid !== ownerMeta.uid));
        o.log.info('released object', { object: m.name });
      } catch (err) {
        if (!isNotFound(err)) errors.push(err);
      }
      continue;
    }
    if (!matches || ownerDeleting || m.deletionTimestamp) continue;
    try {
      await (adoptable ??= o.canAdopt());
      const adopted = await patchOwnerRefs(o.client, obj, [...(m.ownerReferences ?? []), newControllerRef(o.owner, o.gvk)]);
      o.log.info('adopted object', { object: m.name });
      claimed.push(adopted);
    } catch (err) {
      if (!isNotFound(err)) errors.push(err);
    }
  }
  if (errors.length) throw errors[0];
  return claimed;
}

/** Replaces obj's owner references, on the condition that obj has not changed since it was read. */
export function patchOwnerRefs<T extends ObjectLike>(client: ResourceClient<T>, obj: T, refs: OwnerReference[]): Promise<T> {
  const m = metaOf(obj);
  return client.patch(m.namespace, m.name ?? '', { metadata: { uid: m.uid, resourceVersion: m.resourceVersion, ownerReferences: refs } }, 'merge');
}

const BY_CONTROLLER = 'controller-uid';
const ORPHANS = 'orphan-namespace';
const ORPHAN_LABELS = 'orphan-namespace-label';

/**
 * Indexes an informer's objects by their controller's uid, and the orphans by namespace and by "namespace/key=value"
 * of each label (for ownedAndOrphans and orphansMatching). An owned object costs the label index nothing.
 */
export function indexByController<T extends ObjectLike>(informer: Informer<T>): void {
  // The caches share equal owner references and labels among objects (client/string-pool.ts): the same ones on both
  // sides of an update leave these indexes as they are.
  const sameRefs = (a: T, b: T): boolean => a.metadata?.ownerReferences === b.metadata?.ownerReferences;
  ensureIndex(
    informer,
    BY_CONTROLLER,
    (o) => {
      const ref = controllerRefOf(o);
      return ref ? [ref.uid] : [];
    },
    sameRefs,
  );
  ensureIndex(informer, ORPHANS, (o) => (controllerRefOf(o) ? [] : [o.metadata?.namespace ?? '']), sameRefs);
  ensureIndex(
    informer,
    ORPHAN_LABELS,
    (o) => {
      if (controllerRefOf(o)) return [];
      const ns = o.metadata?.namespace ?? '';
      return Object.entries(o.metadata?.labels ?? {}).map(([k, v]) => `${ns}/${k}=${v}`);
    },
    (a, b) => sameRefs(a, b) && a.metadata?.labels === b.metadata?.labels,
  );
}

/**
 * What claimObjects needs to look at for owner: the objects it controls and the orphans of its namespace its selector
 * may match, read from the indexes (indexByController) so that a sync costs what the owner has, not what its
 * namespace holds.
 */
export function ownedAndOrphans<T extends ObjectLike>(informer: Informer<T>, owner: ObjectLike, selector: LabelSelector): T[] {
  const m = metaOf(owner);
  return [...ownedBy(informer, m.uid ?? ''), ...orphansMatching(informer, m.namespace ?? '', selector)];
}

/**
 * The orphans of a namespace that may match selector: the smallest bucket of its matchLabels pairs (a superset of
 * the matches; claimObjects checks the whole selector), or every orphan of the namespace for a selector without
 * matchLabels.
 */
export function orphansMatching<T extends ObjectLike>(informer: Informer<T>, namespace: string, selector: LabelSelector): T[] {
  const terms = Object.entries(selector.matchLabels ?? {});
  if (!terms.length) return orphansIn(informer, namespace);
  let smallest: T[] | undefined;
  for (const [k, v] of terms) {
    const bucket = informer.indexer.byIndex(ORPHAN_LABELS, `${namespace}/${k}=${v}`);
    if (!smallest || bucket.length < smallest.length) smallest = bucket;
    if (!bucket.length) break;
  }
  return smallest ?? [];
}

/** The objects whose controller reference has this uid (indexByController). */
export const ownedBy = <T extends ObjectLike>(informer: Informer<T>, uid: string): T[] => informer.indexer.byIndex(BY_CONTROLLER, uid);

/** The objects of a namespace with no controller (indexByController). */
export const orphansIn = <T extends ObjectLike>(informer: Informer<T>, namespace: string): T[] => informer.indexer.byIndex(ORPHANS, namespace);
