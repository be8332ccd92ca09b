// IPv4 addresses as numbers (0 .. 2^32-1): parsing and formatting shared by node IPAM, the runtime's pod network,
// the agent's pod routes and the API server's service addresses; and this host's primary address.
import { networkInterfaces } from 'node:os';

/** "10.42.0.1" -> 170524673; throws on anything that is not a dotted-quad IPv4 address. */
export function parseIPv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address "${s}"`);
  let n = 0;
  for (const p of parts) {
    const b = Number(p);
    if (!/^\d{1,3}$/.test(p) || b > 255) throw new Error(`invalid IPv4 address "${s}"`);
    n = n * 256 + b;
  }
  return n;
}

export const formatIPv4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** "10.42.7.9/16" -> the network's first address as a number and the prefix length; throws on anything else. */
export function parseCIDR(cidr: string): { base: number; prefix: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) throw new Error(`invalid CIDR "${cidr}"`);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new Error(`invalid CIDR "${cidr}"`);
  const ip = parseIPv4(m[1]!);
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}

/** The n-th address of a CIDR (n = 1: the first after the network address, kube's `kubernetes` Service IP). */
export function nthIPv4(cidr: string, n: number): string {
  const { base, prefix } = parseCIDR(cidr);
  if (n < 0 || n >= 2 ** (32 - prefix)) throw new Error(`${cidr} has no address number ${n}`);
  return formatIPv4(base + n);
}

/** Whether an IPv4 address is loopback (127.0.0.0/8): no endpoint may have one, no other machine can reach it. */
export const isLoopbackIPv4 = (ip: string): boolean => ip.startsWith('127.');

/**
 * The first non-loopback IPv4 address of this host (what Kubernetes defaults a node's InternalIP and an API server's
 * advertise address to), skipping the interfaces container networks make; 127.0.0.1 on a host with none.
 */
export function primaryIPv4(): string {
  const preferred = Object.entries(networkInterfaces())
    .filter(([name]) => !/^(lo|ketch|veth|cni|docker|br-|rtv)/.test(name))
    .flatMap(([, addrs]) => addrs ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal);
  return preferred?.address ?? '127.0.0.1';
}
