// References to an object, built from the object: an event's involvedObject, an owner reference, a bound token's
// object. The kind comes from the caller when the object may lack it (objects from a typed list often do).
import type { ObjectReference, OwnerReference } from '../api/index.js';
import type { ObjectLike } from './rest.js';

export interface GroupVersionKind {
  apiVersion: string;
  kind: string;
}

/**
 * {apiVersion, kind, namespace, name, uid, resourceVersion} of obj (client-go's GetReference); gvk wins over the
 * object's own apiVersion and kind. Fields the object lacks are left out rather than set empty.
 */
export function objectReference(obj: ObjectLike, gvk?: GroupVersionKind): ObjectReference {
  const m = obj.metadata ?? {};
  const apiVersion = gvk?.apiVersion ?? obj.apiVersion;
  const kind = gvk?.kind ?? obj.kind;
  return {
    ...(apiVersion ? { apiVersion } : {}),
    ...(kind ? { kind } : {}),
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.name ? { name: m.name } : {}),
    ...(m.uid ? { uid: m.uid } : {}),
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
  };
}

/**
 * An owner reference to owner. `controller` marks the managing controller, which also blocks the owner's foreground
 * deletion until the dependent is gone (what controllers set on the objects they create).
 */
export function ownerReference(owner: ObjectLike, gvk: GroupVersionKind, opts: { controller?: boolean } = {}): OwnerReference {
  const m = owner.metadata ?? {};
  return {
    apiVersion: gvk.apiVersion,
    kind: gvk.kind,
    name: m.name ?? '',
    uid: m.uid ?? '',
    ...(opts.controller ? { controller: true, blockOwnerDeletion: true } : {}),
  };
}
