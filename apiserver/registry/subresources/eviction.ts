// pods/eviction (kube's EvictionREST): an Eviction deletes the pod with its deleteOptions, as kubectl drain asks.
// (No PodDisruptionBudgets here yet: an eviction is a delete.)
import { isObject, type Obj } from '../object.js';
import type { SubresourceFactory } from '../rest.js';

export const evictionStorage: SubresourceFactory = (parent) => ({
  // kubectl drain sends its Evictions as protobuf.
  bodies: 'any',
  async create(namespace, name, eviction, opts) {
    const deleteOptions = isObject(eviction) && isObject(eviction.deleteOptions) ? eviction.deleteOptions : {};
    // Admitted as a pods/eviction create (NodeRestriction lets a node evict only its own pods), then deleted as asked.
    const body = isObject(eviction) && isObject(eviction.metadata) ? (eviction as Obj) : undefined;
    await parent.admit({ operation: 'create', subresource: 'eviction', namespace, name, ...(body ? { obj: body } : {}), scope: opts.scope, dryRun: opts.dryRun });
    await parent.delete(namespace, name, { ...opts.deleteOptions(deleteOptions), scope: opts.scope });
  },
});
