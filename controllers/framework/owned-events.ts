// Informer handlers for objects a controller owns (pods, ControllerRevisions), as the ReplicaSet, DaemonSet and
// StatefulSet controllers share them: a change to an object syncs its controller; a change to an orphan syncs the
// owners whose selector matches it, so that one of them may adopt it.
import { deepEqual } from '../../api/field.js';
import type { EventHandlers } from '../../client/informer.js';
import type { ObjectLike } from '../../client/rest.js';
import { controllerRefOf } from './owners.js';
import type { OwnerReference } from './types.js';

export interface OwnedEventHooks<O, T extends ObjectLike> {
  /** The owner a controller reference points at, if it is in the cache with that uid and of the right kind. */
  resolve(namespace: string | undefined, ref: OwnerReference): O | undefined;
  /** Owners whose selector matches an orphan. */
  matching(obj: T): O[];
  enqueue(owner: O): void;
  /** An owned object appeared (creation expectations). */
  added?(owner: O, obj: T): void;
  /** An owned object is being deleted or is gone (deletion expectations). */
  deleted?(owner: O, obj: T): void;
  /** An owned object changed (e.g. a pod became ready: look again after minReadySeconds). */
  updated?(owner: O, old: T, cur: T): void;
}

// Compared field by field, no serialization: every pod event of every owning controller asks (the caches share equal
// labels and references, so most answers are the identity check).
const sameLabels = (a: ObjectLike, b: ObjectLike): boolean => deepEqual(a.metadata?.labels ?? {}, b.metadata?.labels ?? {});
const sameRef = (a: OwnerReference | undefined, b: OwnerReference | undefined): boolean => deepEqual(a, b);

export function ownedEventHandlers<O, T extends ObjectLike>(h: OwnedEventHooks<O, T>): EventHandlers<T> {
  const deleted = (obj: T): void => {
    const ref = controllerRefOf(obj);
    const owner = ref && h.resolve(obj.metadata?.namespace, ref);
    if (!owner) return; // nobody cares about an orphan going away
    h.deleted?.(owner, obj);
    h.enqueue(owner);
  };
  return {
    onAdd(obj) {
      // After a restart an object may show up already being deleted.
      if (obj.metadata?.deletionTimestamp) return deleted(obj);
      const ref = controllerRefOf(obj);
      if (ref) {
        const owner = h.resolve(obj.metadata?.namespace, ref);
        if (!owner) return;
        h.added?.(owner, obj);
        h.enqueue(owner);
        return;
      }
      for (const owner of h.matching(obj)) h.enqueue(owner);
    },
    onUpdate(old, cur) {
      const labelsChanged = !sameLabels(old, cur);
      // A graceful deletion shows first as a deletionTimestamp: act on it now, not when the object is finally gone.
      if (cur.metadata?.deletionTimestamp) {
        deleted(cur);
        if (labelsChanged) deleted(old);
        return;
      }
      const curRef = controllerRefOf(cur);
      const oldRef = controllerRefOf(old);
      const refChanged = !sameRef(curRef, oldRef);
      if (refChanged && oldRef) {
        const owner = h.resolve(old.metadata?.namespace, oldRef);
        if (owner) h.enqueue(owner);
      }
      if (curRef) {
        const owner = h.resolve(cur.metadata?.namespace, curRef);
        if (!owner) return;
        h.enqueue(owner);
        h.updated?.(owner, old, cur);
        return;
      }
      if (labelsChanged || refChanged) for (const owner of h.matching(cur)) h.enqueue(owner);
    },
    onDelete: deleted,
  };
}
