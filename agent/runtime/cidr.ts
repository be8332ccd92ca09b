// IPv4 CIDRs as the runtime takes them (pod CIDRs): parsed, checked, compared.
import { invalid } from '../cri/errors.js';

export interface Cidr {
  base: number;
  prefix: number;
}

export function parseCidr(s: string): Cidr {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw invalid(`pod CIDR "${s}" is not an IPv4 CIDR`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < 8 || prefix > 30) throw invalid(`pod CIDR "${s}" is out of range (prefix /8../30)`);
  const ip = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}

/** [first, end) of any IPv4 CIDR (routes too: /0../32), or undefined for what is not one. */
function range(s: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(s.trim());
  const prefix = Number(m?.[5]);
  if (!m || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const ip = m.slice(1, 5).reduce((n, o) => n * 256 + Number(o), 0);
  return [ip - (ip % size), ip - (ip % size) + size];
}

/** Whether every address of `inner` is in `outer` (a route to inner is as specific as outer's, or more). */
export function cidrWithin(inner: string, outer: string): boolean {
  const x = range(inner);
  const y = range(outer);
  return Boolean(x && y && x[0] >= y[0] && x[1] <= y[1]);
}
