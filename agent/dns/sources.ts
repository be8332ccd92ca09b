// The informers the cluster DNS reads, made from the agent's shared informer factory.
import type { InformerFactory } from '../../client/index.js';
import { ENDPOINTSLICES_REF, NAMESPACES_REF, PODS_REF, SERVICES_REF, type DnsSources, type EndpointSlice, type Namespace, type Pod, type Service } from './types.js';

/** Services, EndpointSlices and Namespaces; Pods only when asked (a watch of every pod in the cluster). */
export function dnsSourcesFrom(factory: InformerFactory, opts: { pods?: boolean } = {}): DnsSources {
  const sources: DnsSources = {
    services: factory.for<Service>(SERVICES_REF),
    endpointSlices: factory.for<EndpointSlice>(ENDPOINTSLICES_REF),
    namespaces: factory.for<Namespace>(NAMESPACES_REF),
  };
  if (opts.pods) sources.pods = factory.for<Pod>(PODS_REF);
  return sources;
}
