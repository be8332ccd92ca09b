// The proxy's view of a Service (kube-proxy's ServicePortInfo and EndpointsMap, pkg/proxy/servicechangetracker.go and
// endpointslicecache.go): one entry per service port with its virtual addresses, and the endpoints of that port from
// the service's EndpointSlices; then CategorizeEndpoints (pkg/proxy/topology.go, without topology hints): which
// endpoints Cluster and Local traffic policy use, with serving-and-terminating endpoints as the fallback.
import type { EndpointSlice, Service } from '../../api/index.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePortInfo {
  /** "namespace/name:portName", kube-proxy's ServicePortName. */
  name: string;
  namespace: string;
  service: string;
  portName: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  nodePort: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  /** ClientIP affinity timeout in seconds; 0 without affinity. */
  affinitySeconds: number;
  internalPolicyLocal: boolean;
  externalPolicyLocal: boolean;
}

export interface EndpointInfo {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** On this node. */
  local: boolean;
}

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** "ip:port" of an endpoint. */
export const endpointString = (ep: Pick<EndpointInfo, 'ip' | 'port'>): string => `${ep.ip}:${ep.port}`;

/** The ports a service is proxied on; none for headless and ExternalName services (or without a cluster IP). */
export function servicePorts(svc: Service): ServicePortInfo[] {
  const spec = svc.spec ?? {};
  const clusterIP = spec.clusterIP ?? '';
  if (spec.type === 'ExternalName' || !IPV4.test(clusterIP)) return [];
  const externalIPs = (spec.externalIPs ?? []).filter((ip) => IPV4.test(ip));
  const loadBalancerIPs = spec.type === 'LoadBalancer' ? (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => IPV4.test(ip)) : [];
  const affinitySeconds = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0;
  const out: ServicePortInfo[] = [];
  for (const p of spec.ports ?? []) {
    const nodePort = spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? (p.nodePort ?? 0) : 0;
    const externallyAccessible = nodePort !== 0 || externalIPs.length > 0 || loadBalancerIPs.length > 0;
    out.push({
      name: `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}:${p.name ?? ''}`,
      namespace: svc.metadata.namespace ?? '',
      service: svc.metadata.name ?? '',
      portName: p.name ?? '',
      protocol: (p.protocol ?? 'TCP') as Protocol,
      clusterIP,
      port: p.port,
      nodePort,
      externalIPs,
      loadBalancerIPs,
      affinitySeconds,
      internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
      externalPolicyLocal: externallyAccessible && spec.externalTrafficPolicy === 'Local',
    });
  }
  return out;
}

/** The endpoints of one service port across the service's slices (IPv4 slices, ports matched by name and protocol). */
export function portEndpoints(slices: Iterable<EndpointSlice>, port: Pick<ServicePortInfo, 'portName' | 'protocol'>, nodeName: string): EndpointInfo[] {
  const byAddress = new Map<string, EndpointInfo>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === port.portName && (p.protocol ?? 'TCP') === port.protocol);
    if (sp?.port === undefined) continue;
    for (const e of slice.endpoints ?? []) {
      const ip = e.addresses[0];
      if (!ip || !IPV4.test(ip)) continue;
      const ready = e.conditions?.ready ?? true;
      const ep: EndpointInfo = {
        ip,
        port: sp.port,
        ready,
        serving: e.conditions?.serving ?? ready,
        terminating: e.conditions?.terminating ?? false,
        local: !!e.nodeName && e.nodeName === nodeName,
      };
      // The same address in two slices (a slice being rewritten): the ready one wins.
      const key = endpointString(ep);
      const seen = byAddress.get(key);
      if (!seen || (!seen.ready && ep.ready)) byAddress.set(key, ep);
    }
  }
  return [...byAddress.values()].sort((a, b) => endpointString(a).localeCompare(endpointString(b)));
}

export const usesClusterEndpoints = (p: ServicePortInfo): boolean => !p.internalPolicyLocal || externallyAccessible(p);
export const usesLocalEndpoints = (p: ServicePortInfo): boolean => p.internalPolicyLocal || p.externalPolicyLocal;
export const externallyAccessible = (p: ServicePortInfo): boolean => p.nodePort !== 0 || p.externalIPs.length > 0 || p.loadBalancerIPs.length > 0;

export interface Categorized {
  cluster: EndpointInfo[];
  local: EndpointInfo[];
  /** Every endpoint some rule may send traffic to (cluster and local, without duplicates). */
  reachable: EndpointInfo[];
  /** Whether the service has usable endpoints anywhere. */
  hasAny: boolean;
}

/** CategorizeEndpoints: ready endpoints, or serving-and-terminating ones when none is ready. */
export function categorize(endpoints: EndpointInfo[], port: ServicePortInfo): Categorized {
  let cluster: EndpointInfo[] = [];
  let hasAny = false;
  if (usesClusterEndpoints(port)) {
    cluster = endpoints.filter((e) => e.ready);
    if (!cluster.length) cluster = endpoints.filter((e) => e.serving && e.terminating);
    hasAny = cluster.length > 0;
  }
  if (!usesLocalEndpoints(port)) return { cluster, local: [], reachable: cluster, hasAny };
  for (const e of endpoints) if (e.ready || (e.serving && e.terminating)) hasAny = true;
  let local = endpoints.filter((e) => e.local && e.ready);
  if (!local.length) local = endpoints.filter((e) => e.local && e.serving && e.terminating);
  if (!usesClusterEndpoints(port)) return { cluster, local, reachable: local, hasAny };
  const reachable = [...cluster];
  for (const e of local) if (!reachable.includes(e)) reachable.push(e);
  return { cluster, local, reachable, hasAny };
}
