// Where the API server may connect when it proxies to a node's agent. A Node object is written by its node (or by
// anyone allowed to update nodes), so its addresses are not trusted: the API server never dials a link-local address
// (169.254.0.0/16 holds cloud metadata services, fe80::/10), an unspecified or multicast one, and dials loopback only
// when it serves on loopback itself (a one-machine cluster, as tests and `ketch up --bind-address 127.0.0.1` run;
// then every agent is on this machine). A name is checked once resolved, at connect time (no DNS rebinding).
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { errors } from '../../api/errors.js';

export interface AgentAddressPolicy {
  /** Agents on 127.0.0.0/8 and ::1 may be dialled (the API server itself listens on loopback). */
  allowLoopback: boolean;
}

function v4(a: string): number[] {
  return a.split('.').map(Number);
}

/** Why `address` (an IP literal) may not be dialled, or undefined when it may. */
export function refusedAddress(address: string, policy: AgentAddressPolicy): string | undefined {
  const family = isIP(address);
  if (family === 4) {
    const [a = 0, b = 0] = v4(address);
    if (a === 127) return policy.allowLoopback ? undefined : 'a loopback address';
    if (a === 169 && b === 254) return 'a link-local address';
    if (a === 0) return 'an unspecified address';
    if (a >= 224) return 'a multicast or reserved address';
    return undefined;
  }
  if (family === 6) {
    const a = address.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (mapped?.[1]) return refusedAddress(mapped[1], policy);
    if (a === '::1') return policy.allowLoopback ? undefined : 'a loopback address';
    if (a === '::') return 'an unspecified address';
    if (/^fe[89ab]/.test(a)) return 'a link-local address';
    if (a.startsWith('ff')) return 'a multicast address';
    return undefined;
  }
  return undefined;
}

/** Refuses, as a Status, a node whose agent address is one the API server does not dial. */
export function checkAgentHost(nodeName: string, host: string, policy: AgentAddressPolicy): void {
  if (!isIP(host)) return;
  const why = refusedAddress(host, policy);
  if (why) throw errors.badRequest(`node ${nodeName}: refusing to proxy to ${host}, ${why}`);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http/tls connects to agents: names resolved as usual, then refused when they land on a refused address. */
export function agentLookup(policy: AgentAddressPolicy): (hostname: string, options: LookupOptions, cb: LookupCallback) => void {
  return (hostname, options, cb) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, []);
      const list = addresses as LookupAddress[];
      const bad = list.map((a) => [a.address, refusedAddress(a.address, policy)] as const).find(([, why]) => why);
      if (bad) return cb(Object.assign(new Error(`${hostname} resolves to ${bad[0]}, ${bad[1] ?? ''}: not dialled`), { code: 'EREFUSED' }), []);
      if (options.all) return cb(null, list);
      const first = list[0];
      if (!first) return cb(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), []);
      return cb(null, first.address, first.family);
    });
  };
}

/** Whether the API server's own bind address is loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopbackAddress(bind: string): boolean {
  return bind === 'localhost' || bind === '::1' || /^127\./.test(bind);
}
