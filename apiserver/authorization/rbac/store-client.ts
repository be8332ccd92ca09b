// The RbacClient that reconciliation uses inside the API server: the registry's stores of the four kinds, written as
// the server itself (fieldManager kube-apiserver), through the same admission and validation as any write.
import { isNotFound } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
import type { Store } from '../../registry/index.js';
import type { Obj } from '../../registry/object.js';
import type { RbacKind } from './authorizer.js';
import type { RbacClient } from './reconcile.js';

const FIELD_MANAGER = 'kube-apiserver';

export function storeRbacClient(storeOf: (kind: RbacKind) => Pick<Store, 'get' | 'create' | 'update' | 'delete'>): RbacClient {
  return {
    async get(kind, namespace, name) {
      try {
        return (await storeOf(kind).get(namespace, name)) as KubeObject;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(kind, obj) {
      return (await storeOf(kind).create(obj.metadata.namespace ?? '', obj as Obj, { fieldManager: FIELD_MANAGER })) as KubeObject;
    },
    async update(kind, obj) {
      const r = await storeOf(kind).update(obj.metadata.namespace ?? '', obj.metadata.name ?? '', () => obj as Obj, { fieldManager: FIELD_MANAGER, allowCreate: false });
      return r.obj as KubeObject;
    },
    async delete(kind, namespace, name, uid) {
      await storeOf(kind).delete(namespace, name, { preconditions: { uid } });
    },
  };
}
