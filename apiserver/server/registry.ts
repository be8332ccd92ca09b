// The registry as the server runs it: every store over the (timed) storage, and the admission plugins, which read the
// stores' in-memory caches (informers, in kube-apiserver): no storage round trip per pod.
import type { PriorityClass, ServiceAccount } from '../../api/index.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { ValueTransformer } from '../registry/codec.js';
import type { Logger } from '../../lib/logger.js';
import { namespaceLifecycle } from '../admission/namespace-lifecycle.js';
import { priorityAdmission } from '../admission/priority.js';
import { storageAdmissionFromStores } from '../admission/storage.js';
import type { ServiceRanges } from '../registry/kinds/service.js';
import { Registry, type Admission, type Clock, type Store } from '../registry/index.js';
import { serviceAccountAdmission } from '../serviceaccount/admission.js';
import { trackUpdate } from '../patch/managed-fields.js';
import { extensionAdmission } from '../admission/extension.js';
import type { Storage } from '../storage/interface.js';

/** The stores the server's own parts use (admission, tokens, node proxy, publisher, post-start hooks). */
export interface CoreStores {
  namespaces: Store;
  pods: Store;
  nodes: Store;
  serviceAccounts: Store;
  configMaps: Store;
  secrets: Store;
  priorityClasses: Store;
  services: Store;
  endpoints: Store;
  endpointSlices: Store;
  leases: Store;
}

export function newRegistry(
  storage: Storage,
  o: { clock: Clock; log: Logger; bookmarkIntervalMs: number; serviceRanges?: ServiceRanges; transformerFor?: (info: ResourceInfo) => ValueTransformer | undefined },
): { registry: Registry; stores: CoreStores; admission: Admission[] } {
  const admission: Admission[] = [];
  const registry = new Registry(storage, {
    clock: o.clock,
    admission,
    ...(o.serviceRanges ? { serviceRanges: o.serviceRanges } : {}),
    ...(o.transformerFor ? { transformerFor: o.transformerFor } : {}),
    trackFields: trackUpdate,
    cacher: { bookmarkIntervalMs: o.bookmarkIntervalMs, onError: (msg, fields) => o.log.warn(msg, fields) },
  });
  const storeOf = (group: string, resource: string): Store => {
    const s = registry.byResource(group, 'v1', resource);
    if (!s) throw new Error(`${resource} missing from the resource table`);
    return s;
  };
  const stores: CoreStores = {
    namespaces: storeOf('', 'namespaces'),
    pods: storeOf('', 'pods'),
    nodes: storeOf('', 'nodes'),
    serviceAccounts: storeOf('', 'serviceaccounts'),
    configMaps: storeOf('', 'configmaps'),
    secrets: storeOf('', 'secrets'),
    priorityClasses: storeOf('scheduling.k8s.io', 'priorityclasses'),
    services: storeOf('', 'services'),
    endpoints: storeOf('', 'endpoints'),
    endpointSlices: storeOf('discovery.k8s.io', 'endpointslices'),
    leases: storeOf('coordination.k8s.io', 'leases'),
  };
  const { namespaces, priorityClasses, serviceAccounts } = stores;
  admission.push(
    namespaceLifecycle((name) => namespaces.lookup('', name)),
    priorityAdmission({
      get: async (name) => (await priorityClasses.lookup('', name)) as unknown as PriorityClass | undefined,
      list: async () => (await priorityClasses.lookupAll()) as unknown as PriorityClass[],
    }),
    serviceAccountAdmission({ getServiceAccount: async (ns, name) => (await serviceAccounts.lookup(ns, name)) as unknown as ServiceAccount | undefined }),
    storageAdmissionFromStores(storeOf),
    ...extensionAdmission(registry, o.log),
  );
  return { registry, stores, admission };
}
