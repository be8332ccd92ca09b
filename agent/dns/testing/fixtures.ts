// Test support: objects as the API server serves them (Services, EndpointSlices, Pods, Namespaces), the cluster the
// DNS tests answer from (CoreDNS's handler_test fixtures, in ketch's shape), and queries built with dns-packet.
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type RecordType } from 'dns-packet';
import type { ServiceSpec } from '../../../api/index.js';
import { LABEL_SERVICE_NAME, type DnsSources, type EndpointSlice, type Namespace, type Pod, type Service } from '../types.js';
import { StaticSource } from './static-source.js';

export function service(namespace: string, name: string, spec: Partial<ServiceSpec>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { type: 'ClusterIP', ...spec } };
}

export interface EndpointSpec {
  ip: string;
  ready?: boolean;
  hostname?: string;
}

export function slice(namespace: string, svcName: string, name: string, endpoints: EndpointSpec[], ports: Array<{ name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }> = []): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { [LABEL_SERVICE_NAME]: svcName } },
    addressType: endpoints.some((e) => e.ip.includes(':')) ? 'IPv6' : 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.hostname ? { hostname: e.hostname } : {}),
    })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

export function pod(namespace: string, name: string, ip: string, extra: Partial<Pod['spec']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...extra }, status: { phase: 'Running', podIP: ip } };
}

export const namespace = (name: string): Namespace => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

const http = [{ name: 'http', port: 80, protocol: 'TCP' as const }];

/** The test cluster: namespaces testns and podns, and the services CoreDNS's handler tests use. */
export function fixtureSources(synced = true): DnsSources & {
  services: StaticSource<Service>;
  endpointSlices: StaticSource<EndpointSlice>;
  pods: StaticSource<Pod>;
  namespaces: StaticSource<Namespace>;
} {
  const ns = 'testns';
  return {
    namespaces: new StaticSource([namespace(ns), namespace('podns')], synced),
    services: new StaticSource(
      [
        service(ns, 'svc1', { clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
        service(ns, 'svcempty', { clusterIP: '10.0.0.2', clusterIPs: ['10.0.0.2'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
        service(ns, 'svc6', { clusterIP: '1234:abcd::1', clusterIPs: ['1234:abcd::1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
        service(ns, 'hdls1', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
        service(ns, 'hdlsprtls', { clusterIP: 'None', clusterIPs: ['None'] }),
        service(ns, 'web', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
        service(ns, 'pub', { clusterIP: 'None', clusterIPs: ['None'], publishNotReadyAddresses: true, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
        service(ns, 'dns', { clusterIP: '10.0.0.3', clusterIPs: ['10.0.0.3'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }),
        service(ns, 'external', { type: 'ExternalName', externalName: 'ext.interwebs.test' }),
        service(ns, 'external-to-service', { type: 'ExternalName', externalName: 'svc1.testns.svc.cluster.local' }),
        service(ns, 'external-ip', { type: 'ExternalName', externalName: '1.2.3.4' }),
      ],
      synced,
    ),
    endpointSlices: new StaticSource(
      [
        slice(ns, 'svc1', 'svc1-a', [{ ip: '172.0.0.1', hostname: 'ep1a' }], http),
        slice(ns, 'hdls1', 'hdls1-a', [{ ip: '172.0.0.2' }, { ip: '172.0.0.3' }, { ip: '172.0.0.4', hostname: 'dup-name' }, { ip: '172.0.0.9', ready: false }], http),
        slice(ns, 'hdls1', 'hdls1-b', [{ ip: '172.0.0.5', hostname: 'dup-name' }], http),
        slice(ns, 'hdlsprtls', 'hdlsprtls-a', [{ ip: '172.0.0.20' }]),
        slice(ns, 'web', 'web-a', [{ ip: '10.42.0.5', hostname: 'web-0' }, { ip: '10.42.1.6', hostname: 'web-1' }], http),
        slice(ns, 'pub', 'pub-a', [{ ip: '10.42.0.7' }, { ip: '10.42.0.8', ready: false }], http),
      ],
      synced,
    ),
    pods: new StaticSource([pod('podns', 'p1', '10.240.0.1'), pod('podns', 'hostnet', '192.168.5.5', { hostNetwork: true })], synced),
  };
}

export interface QueryOptions {
  id?: number;
  /** EDNS0 buffer size; undefined sends no OPT record. */
  edns?: number;
  flags?: number;
}

export function query(name: string, type: RecordType | `UNKNOWN_${number}`, opts: QueryOptions = {}): Buffer {
  const p: Packet = {
    type: 'query',
    id: opts.id ?? 4242,
    flags: opts.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as RecordType, class: 'IN' }],
    additionals: opts.edns !== undefined ? [{ name: '.', type: 'OPT', udpPayloadSize: opts.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  };
  return dnsPacket.encode(p);
}

/** A record as one line: "name ttl class type data", data as dig prints it. */
export function rr(a: Answer): string {
  if (a.type === 'OPT') return `OPT ${a.udpPayloadSize} ${a.extendedRcode}`;
  const d = a.data as unknown;
  let data: string;
  if (a.type === 'SRV') {
    const s = a.data;
    data = `${s.priority ?? 0} ${s.weight ?? 0} ${s.port} ${s.target}`;
  } else if (a.type === 'SOA') {
    const s = a.data;
    data = `${s.mname} ${s.rname} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
  } else if (a.type === 'TXT') data = (Array.isArray(d) ? d : [d]).map((x) => String(x)).join(' ');
  else data = String(d);
  return `${a.name} ${a.ttl ?? 0} ${a.class ?? 'IN'} ${a.type} ${data}`;
}

export const rcodeOf = (p: DecodedPacket): string => (p as DecodedPacket & { rcode: string }).rcode;
