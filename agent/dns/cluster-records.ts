// The cluster's Services, EndpointSlices, Pods and Namespaces, reduced to what DNS answers from and indexed the way
// questions arrive: by service key (name.namespace) and by IP for reverse lookups. Fed by informer events.
import { isIP } from 'node:net';
import type { Clock } from '../../lib/clock.js';
import { LABEL_SERVICE_NAME, type DnsSources, type EndpointSlice, type Namespace, type Pod, type Service } from './types.js';

export interface PortRecord {
  name: string;
  /** -1 when an EndpointSlice lists no ports (CoreDNS's sentinel: no SRV record for it). */
  port: number;
  protocol: string;
}

export interface ServiceRecord {
  name: string;
  namespace: string;
  headless: boolean;
  /** Set for type ExternalName: answered as a CNAME. */
  externalName?: string;
  clusterIPs: string[];
  ports: PortRecord[];
  publishNotReadyAddresses: boolean;
}

export interface EndpointRecord {
  ip: string;
  /** The DNS label of the endpoint: its hostname, or its IP with dashes (CoreDNS's endpointHostname). */
  hostname: string;
  ready: boolean;
}

interface SliceRecord {
  service: string;
  ports: PortRecord[];
  endpoints: EndpointRecord[];
}

/** One endpoint address reached by IP: the service it belongs to and its DNS label. */
export interface EndpointByIP {
  service: string;
  namespace: string;
  hostname: string;
}

/**
 * The one text of an address, so that a name and a reverse lookup meet the stored form: IPv6 compressed and lower-case
 * (the WHATWG URL parser's form), IPv4 as is; '' for what is not an address (a zone index such as %eth0 included).
 */
export function canonicalIP(ip: string): string {
  const fam = isIP(ip);
  if (fam === 4) return ip;
  if (fam !== 6 || ip.includes('%')) return '';
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

export const serviceKey = (name: string, namespace: string): string => `${name}.${namespace}`;

/** The DNS label of an endpoint address, as CoreDNS builds it (endpoint_pod_names off). */
export function endpointHostname(ip: string, hostname: string | undefined): string {
  if (hostname) return hostname;
  if (ip.includes('.')) return ip.replaceAll('.', '-');
  if (ip.includes(':')) {
    const h = ip.replaceAll(':', '-');
    return h.endsWith('-') ? h + '0' : h;
  }
  return '';
}

function toServiceRecord(svc: Service): ServiceRecord {
  const spec = svc.spec;
  const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  const rec: ServiceRecord = {
    name: svc.metadata.name ?? '',
    namespace: svc.metadata.namespace ?? '',
    headless: spec.clusterIP === 'None',
    clusterIPs: ips.map(canonicalIP).filter(Boolean),
    ports: (spec.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
  };
  if (spec.type === 'ExternalName' && spec.externalName) rec.externalName = spec.externalName.replace(/\.$/, '');
  return rec;
}

function toSliceRecord(slice: EndpointSlice, service: string): SliceRecord {
  const ports = slice.ports?.length
    ? slice.ports.map((p) => ({ name: p.name ?? '', port: p.port ?? -1, protocol: p.protocol ?? 'TCP' }))
    : [{ name: '', port: -1, protocol: '' }];
  const endpoints: EndpointRecord[] = [];
  for (const ep of slice.endpoints ?? []) {
    // A missing ready condition means unknown, which consumers treat as ready (EndpointConditions docs).
    const ready = ep.conditions?.ready !== false;
    for (const addr of ep.addresses ?? []) {
      const ip = canonicalIP(addr);
      if (!ip) continue;
      endpoints.push({ ip, hostname: endpointHostname(ip, ep.hostname), ready });
    }
  }
  return { service, ports, endpoints };
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (!s.size) m.delete(k);
}

const objKey = (o: { metadata: { name?: string; namespace?: string } }): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

/** The indexed state; objects from informers are read, never kept or mutated. */
export class ClusterRecords {
  private readonly services = new Map<string, ServiceRecord>();
  private readonly slices = new Map<string, SliceRecord>();
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly serviceIPs = new Map<string, Set<string>>();
  private readonly endpointIPs = new Map<string, Set<string>>();
  private readonly podIPs = new Map<string, Map<string, string>>();
  private readonly podIPByKey = new Map<string, string>();
  private namespaces: Set<string> | undefined;
  private readonly synced: Array<{ readonly hasSynced: boolean }> = [];
  /** Unix seconds of the last change: the SOA serial, as CoreDNS's. */
  modified: number;
  /** Counts every change of anything an answer depends on (answers computed before a change are stale after it). */
  generation = 0;

  constructor(private readonly clock: Clock) {
    this.modified = Math.floor(clock.now() / 1000);
  }

  /** Subscribes to the sources; the agent passes its informers. */
  connect(sources: DnsSources): void {
    this.synced.push(sources.services, sources.endpointSlices);
    sources.services.addEventHandler({ onAdd: (s) => this.setService(s), onUpdate: (_, s) => this.setService(s), onDelete: (s) => this.deleteService(s) });
    sources.endpointSlices.addEventHandler({ onAdd: (s) => this.setSlice(s), onUpdate: (_, s) => this.setSlice(s), onDelete: (s) => this.deleteSlice(s) });
    if (sources.pods) {
      this.synced.push(sources.pods);
      sources.pods.addEventHandler({ onAdd: (p) => this.setPod(p), onUpdate: (_, p) => this.setPod(p), onDelete: (p) => this.deletePod(p) });
    }
    if (sources.namespaces) {
      this.synced.push(sources.namespaces);
      this.namespaces = new Set();
      const ns = this.namespaces;
      sources.namespaces.addEventHandler({
        onAdd: (n: Namespace) => {
          ns.add(n.metadata.name ?? '');
          this.generation++;
        },
        onDelete: (n: Namespace) => {
          ns.delete(n.metadata.name ?? '');
          this.generation++;
        },
      });
    }
  }

  /** Whether every source has listed once (before that, name errors are SERVFAIL, as CoreDNS answers). */
  get hasSynced(): boolean {
    return this.synced.every((s) => s.hasSynced);
  }

  namespaceExists(ns: string): boolean {
    return this.namespaces ? this.namespaces.has(ns) : true;
  }

  service(name: string, namespace: string): ServiceRecord | undefined {
    return this.services.get(serviceKey(name, namespace));
  }

  /** Each slice of the service: its ports and its addresses. */
  *endpoints(svc: ServiceRecord): Iterable<{ ports: PortRecord[]; endpoints: EndpointRecord[] }> {
    for (const k of this.slicesByService.get(serviceKey(svc.name, svc.namespace)) ?? []) {
      const s = this.slices.get(k);
      if (s) yield s;
    }
  }

  /** The services whose cluster IP is ip. */
  servicesByIP(ip: string): ServiceRecord[] {
    return [...(this.serviceIPs.get(ip) ?? [])].map((k) => this.services.get(k)).filter((s): s is ServiceRecord => !!s);
  }

  /** The ready (or published) endpoint addresses equal to ip, with the service each belongs to. */
  endpointsByIP(ip: string): EndpointByIP[] {
    const out: EndpointByIP[] = [];
    for (const k of this.endpointIPs.get(ip) ?? []) {
      const s = this.slices.get(k);
      const svc = s && this.services.get(s.service);
      if (!s || !svc) continue;
      for (const e of s.endpoints) if (e.ip === ip && (e.ready || svc.publishNotReadyAddresses)) out.push({ service: svc.name, namespace: svc.namespace, hostname: e.hostname });
    }
    return out;
  }

  /** Namespaces of the pods whose IP is ip. */
  podNamespaces(ip: string): string[] {
    return [...(this.podIPs.get(ip)?.values() ?? [])];
  }

  private touch(): void {
    this.modified = Math.floor(this.clock.now() / 1000);
    this.generation++;
  }

  private setService(svc: Service): void {
    this.deleteService(svc);
    const rec = toServiceRecord(svc);
    const key = serviceKey(rec.name, rec.namespace);
    this.services.set(key, rec);
    for (const ip of rec.clusterIPs) addTo(this.serviceIPs, ip, key);
    this.touch();
  }

  private deleteService(svc: Service): void {
    const key = serviceKey(svc.metadata.name ?? '', svc.metadata.namespace ?? '');
    const old = this.services.get(key);
    if (!old) return;
    for (const ip of old.clusterIPs) removeFrom(this.serviceIPs, ip, key);
    this.services.delete(key);
    this.touch();
  }

  private setSlice(slice: EndpointSlice): void {
    this.deleteSlice(slice);
    const svcName = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    if (!svcName || slice.addressType === 'FQDN') return;
    const k = objKey(slice);
    const rec = toSliceRecord(slice, serviceKey(svcName, slice.metadata.namespace ?? ''));
    this.slices.set(k, rec);
    addTo(this.slicesByService, rec.service, k);
    for (const e of rec.endpoints) addTo(this.endpointIPs, e.ip, k);
    this.touch();
  }

  private deleteSlice(slice: EndpointSlice): void {
    const k = objKey(slice);
    const old = this.slices.get(k);
    if (!old) return;
    for (const e of old.endpoints) removeFrom(this.endpointIPs, e.ip, k);
    removeFrom(this.slicesByService, old.service, k);
    this.slices.delete(k);
    this.touch();
  }

  private setPod(pod: Pod): void {
    this.deletePod(pod);
    const ip = canonicalIP(pod.status?.podIP ?? '');
    // A host-network pod's IP is the node's: it names the node, not the pod.
    if (!ip || pod.spec.hostNetwork) return;
    const k = objKey(pod);
    let m = this.podIPs.get(ip);
    if (!m) this.podIPs.set(ip, (m = new Map()));
    m.set(k, pod.metadata.namespace ?? '');
    this.podIPByKey.set(k, ip);
    this.generation++;
  }

  private deletePod(pod: Pod): void {
    const k = objKey(pod);
    const ip = this.podIPByKey.get(k);
    if (ip === undefined) return;
    const m = this.podIPs.get(ip);
    m?.delete(k);
    if (m && !m.size) this.podIPs.delete(ip);
    this.podIPByKey.delete(k);
    this.generation++;
  }
}
