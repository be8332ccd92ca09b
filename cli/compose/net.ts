// Compose networking as Services: every service (and each network alias, container_name and link alias) is a
// headless Service, so its name resolves to the pods and any port answers as on a Compose network; published ports
// are a LoadBalancer Service `<service>-published` on the same numbers; `mode: host` ports are host ports.
import { ComposeError } from './load.js';
import { dnsName } from './units.js';
import type { Obj } from './volumes.js';

export interface PortSpec {
  target: number;
  published?: number;
  protocol: 'TCP' | 'UDP';
  hostMode: boolean;
}

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function range(s: string, where: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new ComposeError(`${where}: "${s}" is not a port or a port range`);
  const a = Number(m[1]);
  const b = m[2] ? Number(m[2]) : a;
  if (a < 1 || b > 65535 || b < a || b - a > 100) throw new ComposeError(`${where}: port range ${s} is not 1-65535 (at most 100 ports)`);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

function protocolOf(p: string | undefined, where: string): 'TCP' | 'UDP' {
  const proto = (p ?? 'tcp').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') throw new ComposeError(`${where}: protocol ${proto} is not supported (tcp, udp)`);
  return proto === 'tcp' ? 'TCP' : 'UDP';
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

/** `[[HOST:]PUBLISHED:]TARGET[/PROTO]` and the long form, ranges expanded. */
export function parsePorts(list: unknown, where: string): PortSpec[] {
  if (!Array.isArray(list)) return [];
  const out: PortSpec[] = [];
  for (const [i, p] of list.entries()) {
    const at = `${where}[${i}]`;
    if (isMap(p)) {
      for (const k of Object.keys(p)) if (!['target', 'published', 'protocol', 'mode', 'host_ip', 'name'].includes(k)) throw new ComposeError(`${at}.${k}: not supported`);
      if (p.host_ip !== undefined && !WILDCARD_HOSTS.has(String(p.host_ip))) throw new ComposeError(`${at}.host_ip: binding to ${String(p.host_ip)} only is not supported (ports are published on every address)`);
      const targets = range(String(p.target), `${at}.target`);
      const published = p.published === undefined ? undefined : range(String(p.published), `${at}.published`);
      if (published && published.length !== targets.length) throw new ComposeError(`${at}: published and target ranges differ in length`);
      targets.forEach((t, j) => out.push({ target: t, ...(published ? { published: published[j]! } : {}), protocol: protocolOf(p.protocol as string | undefined, at), hostMode: p.mode === 'host' }));
      continue;
    }
    const [spec, proto] = String(p).split('/');
    const parts = (spec ?? '').split(':');
    if (parts.length > 3) throw new ComposeError(`${at}: IPv6 host addresses are not supported in "${String(p)}"`);
    const target = parts[parts.length - 1]!;
    const published = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    const host = parts.length === 3 ? parts[0]! : '';
    if (!WILDCARD_HOSTS.has(host)) throw new ComposeError(`${at}: binding to ${host} only is not supported (ports are published on every address)`);
    const targets = range(target, at);
    const pubs = published ? range(published, at) : undefined;
    if (pubs && pubs.length !== targets.length) throw new ComposeError(`${at}: published and target ranges differ in length`);
    targets.forEach((t, j) => out.push({ target: t, ...(pubs ? { published: pubs[j]! } : {}), protocol: protocolOf(proto, at), hostMode: false }));
  }
  return out;
}

export function parseExpose(list: unknown, where: string): PortSpec[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((e, i) => {
    const [spec, proto] = String(e).split('/');
    return range(spec ?? '', `${where}[${i}]`).map((t) => ({ target: t, protocol: protocolOf(proto, `${where}[${i}]`), hostMode: false }));
  });
}

const portName = (p: { target: number; protocol: string }): string => `p${p.target}-${p.protocol.toLowerCase()}`;

/** The headless Services of a service (its name and aliases) and the LoadBalancer of its published ports. */
export function serviceObjects(name: string, ports: PortSpec[], aliases: string[], selector: Record<string, string>, meta: (n: string) => Obj): Obj[] {
  const seen = new Set<string>();
  const internal = ports.filter((p) => !seen.has(portName(p)) && seen.add(portName(p))).map((p) => ({ name: portName(p), port: p.target, targetPort: p.target, protocol: p.protocol }));
  const objects: Obj[] = [name, ...aliases].map((n) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(n),
    spec: { clusterIP: 'None', selector, publishNotReadyAddresses: true, ...(internal.length ? { ports: internal } : {}) },
  }));
  const published = ports.filter((p) => !p.hostMode && p.published !== undefined);
  if (published.length) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${name}-published`),
      spec: { type: 'LoadBalancer', selector, ports: published.map((p) => ({ name: `${p.protocol.toLowerCase()}-${p.published}`, port: p.published, targetPort: p.target, protocol: p.protocol })) },
    });
  }
  return objects;
}

/** Network aliases, container_name and link aliases of a service (each a DNS name of the service). */
export function aliasesOf(svcName: string, svc: Obj, all: Record<string, Obj>): string[] {
  const out = new Set<string>();
  if (typeof svc.container_name === 'string') out.add(dnsName(svc.container_name, `services.${svcName}.container_name`));
  if (isMap(svc.networks)) {
    for (const cfg of Object.values(svc.networks)) {
      for (const a of isMap(cfg) && Array.isArray(cfg.aliases) ? cfg.aliases : []) out.add(dnsName(String(a), `services.${svcName} network alias`));
    }
  }
  // A link "db:database" in another service names db "database" too.
  for (const [other, o] of Object.entries(all)) {
    for (const link of Array.isArray(o.links) ? o.links : []) {
      const [target, alias] = String(link).split(':');
      if (target === svcName && alias && alias !== svcName) out.add(dnsName(alias, `services.${other}.links`));
    }
  }
  out.delete(svcName);
  return [...out];
}

/** The networks a service is on (the default one when it names none). */
function networksOf(svc: Obj): string[] {
  if (Array.isArray(svc.networks)) return svc.networks.map(String);
  if (isMap(svc.networks)) return Object.keys(svc.networks);
  return ['default'];
}

/**
 * All of a project's pods share one network, so services that Compose would keep apart (no network in common) are
 * refused rather than joined silently.
 */
export function checkNetworks(services: Record<string, Obj>, declared: Record<string, unknown>): void {
  const names = Object.keys(services);
  for (const n of names) {
    for (const net of networksOf(services[n]!)) {
      if (net !== 'default' && !(net in declared)) throw new ComposeError(`services.${n}.networks: network "${net}" is not declared in the top-level networks`);
    }
  }
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = networksOf(services[names[i]!]!);
      const b = networksOf(services[names[j]!]!);
      if (!a.some((x) => b.includes(x))) {
        throw new ComposeError(`services ${names[i]} and ${names[j]} share no network: isolation between networks is not supported (a project's pods share one network)`);
      }
    }
  }
}

