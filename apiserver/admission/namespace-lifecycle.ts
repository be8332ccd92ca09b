// Built-in admission: namespace lifecycle (content only in existing, non-terminating namespaces; system namespaces stay).
import { ApiError, errors } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { Obj } from '../registry/object.js';
import type { Admission } from '../registry/rest.js';

/** An admission refusal as kube-apiserver's admission.NewForbidden words it: `pods "x" is forbidden: why`. */
export function forbiddenBy(info: Pick<ResourceInfo, 'group' | 'resource'>, name: string, why: string): ApiError {
  return errors.forbiddenOn({ group: info.group, resource: info.resource, name }, why);
}

/** A lookup that answers undefined for NotFound. */
export function orMissing<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch((err: unknown) => {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  });
}

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;
const UNDELETABLE = new Set(['default', 'kube-system', 'kube-public']);

export function namespaceLifecycle(getNamespace: (name: string) => Promise<Obj | undefined>): Admission {
  return async ({ operation, info, namespace, name, subresource }) => {
    if (operation === 'delete' && info.group === '' && info.resource === 'namespaces' && UNDELETABLE.has(name)) {
      throw forbiddenBy(info, name, 'this namespace may not be deleted');
    }
    // A subresource create (an eviction, a token) acts on an object that exists: its namespace was checked then.
    if (operation !== 'create' || subresource || !info.namespaced) return;
    const ns = await getNamespace(namespace);
    if (!ns) throw errors.notFound({ group: '', resource: 'namespaces', name: namespace });
    const phase = typeof ns.status === 'object' && ns.status !== null ? (ns.status as { phase?: unknown }).phase : undefined;
    // Events may still be recorded about objects that are being torn down.
    if ((ns.metadata.deletionTimestamp || phase === 'Terminating') && info.kind !== 'Event') {
      throw forbiddenBy(info, name, `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  };
}
