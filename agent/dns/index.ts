// Cluster DNS for the agent: the server, its sources, pod resolv.conf, and the kube-dns Service it is reached through.
import type { InformerFactory } from '../../client/index.js';
import { ENDPOINTSLICES_REF, NAMESPACES_REF, PODS_REF, SERVICES_REF, type DnsSources, type EndpointSlice, type Namespace, type Pod, type Service } from './types.js';

export * from './types.js';
export { ClusterDnsServer, type ClusterDnsOptions } from './server.js';
export { ClusterRecords } from './cluster-records.js';
export type { PodMode } from './kubernetes-zone.js';
export { podDnsConfig, formatResolvConf, parseResolvConf, readHostResolvConf, upstreamsFrom, type ResolvConf, type PodDns, type PodDnsOptions } from './resolv-conf.js';
export { KubeDnsPublisher, kubeDnsService, kubeDnsEndpointSlice, KUBE_DNS_NAMESPACE, KUBE_DNS_NAME, type KubeDnsPublisherOptions } from './kube-dns.js';

/** The informers DNS reads, from the agent's factory (pods only when asked: a watch of every pod in the cluster). */
export function dnsSourcesFrom(factory: InformerFactory, opts: { pods?: boolean } = {}): DnsSources {
  const sources: DnsSources = {
    services: factory.for<Service>(SERVICES_REF),
    endpointSlices: factory.for<EndpointSlice & { metadata: { name?: string } }>(ENDPOINTSLICES_REF),
    namespaces: factory.for<Namespace>(NAMESPACES_REF),
  };
  if (opts.pods) sources.pods = factory.for<Pod>(PODS_REF);
  return sources;
}
