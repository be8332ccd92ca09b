// pods/eviction (kube's EvictionREST): an Eviction deletes the pod with its deleteOptions, as kubectl drain asks.
// (No PodDisruptionBudgets here yet: an eviction is a delete.)
import { isObject } from '../object.js';
import type { SubresourceFactory } from '../rest.js';

export const evictionStorage: SubresourceFactory = (parent) => ({
  // kubectl drain sends its Evictions as protobuf.
  bodies: 'any',
  async create(namespace, name, eviction, opts) {
    const deleteOptions = isObject(eviction) && isObject(eviction.deleteOptions) ? eviction.deleteOptions : {};
    await parent.delete(namespace, name, opts.deleteOptions(deleteOptions));
  },
});
