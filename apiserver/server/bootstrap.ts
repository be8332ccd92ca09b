// Post-start hooks, as kube-apiserver's: the objects every cluster has, created when missing.
import { ApiError } from '../../api/errors.js';
import { SYSTEM_PRIORITY_CLASSES } from '../../api/index.js';
import type { Logger } from '../../lib/logger.js';
import { SYSTEM_NAMESPACES } from '../admission/namespace-lifecycle.js';
import type { Obj } from '../registry/object.js';
import type { Store } from '../registry/store.js';

/** Creates obj unless it exists; true when it was created. */
async function ensure(store: Store, obj: Obj): Promise<boolean> {
  try {
    await store.create('', obj, { fieldManager: 'ketch-apiserver' });
    return true;
  } catch (err) {
    // Created before (an earlier start, or another server sharing the storage): nothing to do.
    if (err instanceof ApiError && err.reason === 'AlreadyExists') return false;
    throw err;
  }
}

/** default, kube-system, kube-public and kube-node-lease. */
export async function bootstrapNamespaces(namespaces: Store, log: Logger): Promise<void> {
  for (const name of SYSTEM_NAMESPACES) {
    if (await ensure(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })) log.info('namespace created', { namespace: name });
  }
}

/** The built-in PriorityClasses (system-node-critical, system-cluster-critical). */
export async function bootstrapPriorityClasses(priorityClasses: Store, log: Logger): Promise<void> {
  for (const pc of SYSTEM_PRIORITY_CLASSES) {
    const obj = { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: pc.name }, value: pc.value, description: pc.description };
    if (await ensure(priorityClasses, obj)) log.info('priority class created', { name: pc.name });
  }
}
