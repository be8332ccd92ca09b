// Cluster DNS for the agent: the server, its sources, pod resolv.conf, and the kube-dns Service it is reached through.
export * from './types.js';
export { dnsSourcesFrom } from './sources.js';
export { ClusterDnsServer, type ClusterDnsOptions } from './server.js';
export { ClusterRecords } from './cluster-records.js';
export type { PodMode } from './kubernetes-zone.js';
export { podDnsConfig, formatResolvConf, parseResolvConf, readHostResolvConf, upstreamsFrom, type ResolvConf, type PodDns, type PodDnsOptions } from './resolv-conf.js';
export { KubeDnsPublisher, kubeDnsService, kubeDnsEndpointSlice, KUBE_DNS_NAMESPACE, KUBE_DNS_NAME, type KubeDnsPublisherOptions } from './kube-dns.js';
export { startNodeDns, CLUSTER_DNS_FLAGS, type NodeDns, type NodeDnsOptions } from './node-dns.js';
