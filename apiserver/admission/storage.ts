// Storage admission, as kube-apiserver's plugins: DefaultStorageClass (a claim that names no class gets the default
// one at create), StorageObjectInUseProtection (claims and volumes get their protection finalizers at create) and
// PersistentVolumeClaimResize (a bound claim may grow only when its class allows expansion).
import {
  ANN_BETA_STORAGE_CLASS, PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER, claimClass, compareQuantities, defaultClass,
  type PersistentVolumeClaim, type StorageClass,
} from '../../api/index.js';
import type { Obj } from '../registry/object.js';
import type { Admission } from '../registry/rest.js';
import type { Store } from '../registry/store.js';
import { forbiddenBy } from './namespace-lifecycle.js';

/** What the storage plugins read (from the stores' in-memory caches, as kube-apiserver reads informers). */
export interface StorageAdmissionSource {
  classes(): Promise<StorageClass[]>;
  storageClass(name: string): Promise<StorageClass | undefined>;
  /** The stored claim (the state an update starts from). */
  claim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined>;
}

const isCore = (info: { group: string; resource: string }, resource: string): boolean => info.group === '' && info.resource === resource;

function addFinalizer(obj: Obj, finalizer: string): void {
  const f = obj.metadata.finalizers ?? [];
  if (!f.includes(finalizer)) obj.metadata.finalizers = [...f, finalizer];
}

/** DefaultStorageClass: only a nil storageClassName (and no beta annotation) gets the default; "" means no class. */
async function defaultClassFor(pvc: PersistentVolumeClaim, src: StorageAdmissionSource): Promise<void> {
  const spec = (pvc.spec ??= {});
  if (spec.storageClassName !== undefined || pvc.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS] !== undefined) return;
  const dflt = defaultClass(await src.classes());
  if (dflt?.metadata.name) spec.storageClassName = dflt.metadata.name;
}

const RESIZE_REFUSED = 'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize';

/** PersistentVolumeClaimResize: growing a bound claim needs a class with allowVolumeExpansion. */
async function checkResize(pvc: PersistentVolumeClaim, old: PersistentVolumeClaim, src: StorageAdmissionSource): Promise<string | undefined> {
  if (pvc.status?.phase !== 'Bound' || old.status?.phase !== 'Bound') return undefined;
  const next = pvc.spec?.resources?.requests?.storage;
  const prev = old.spec?.resources?.requests?.storage;
  if (next === undefined || prev === undefined || compareQuantities(next, prev) <= 0) return undefined;
  const name = claimClass(old);
  const sc = name ? await src.storageClass(name) : undefined;
  return sc?.allowVolumeExpansion === true ? undefined : RESIZE_REFUSED;
}

export function storageAdmission(src: StorageAdmissionSource): Admission {
  return async ({ operation, info, namespace, name, obj }) => {
    if (!obj) return;
    if (isCore(info, 'persistentvolumes') && operation === 'create') {
      addFinalizer(obj, PV_PROTECTION_FINALIZER);
      return;
    }
    if (!isCore(info, 'persistentvolumeclaims')) return;
    const pvc = obj as unknown as PersistentVolumeClaim;
    if (operation === 'create') {
      await defaultClassFor(pvc, src);
      addFinalizer(obj, PVC_PROTECTION_FINALIZER);
    } else if (operation === 'update') {
      const old = await src.claim(namespace, name);
      const refused = old ? await checkResize(pvc, old, src) : undefined;
      if (refused) throw forbiddenBy(info, name, refused);
    }
  };
}

/** The plugins over the API server's own stores (their in-memory caches). */
export function storageAdmissionFromStores(storeOf: (group: string, resource: string) => Store): Admission {
  const classes = storeOf('storage.k8s.io', 'storageclasses');
  const claims = storeOf('', 'persistentvolumeclaims');
  return storageAdmission({
    classes: async () => (await classes.lookupAll()) as unknown as StorageClass[],
    storageClass: async (name) => (await classes.lookup('', name)) as unknown as StorageClass | undefined,
    claim: async (ns, name) => (await claims.lookup(ns, name)) as unknown as PersistentVolumeClaim | undefined,
  });
}
