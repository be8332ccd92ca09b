// A pod's quality-of-service class (GetPodQOS), from its containers' cpu and memory requests and limits.
import type { Pod } from './schemas/core.js';
import { parseQuantityExact } from './quantity.js';

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const COMPUTE = ['cpu', 'memory'] as const;

/** In nano-units: exact for every suffix a quantity may carry. */
const nanos = (q: string | number): bigint => {
  const r = parseQuantityExact(q);
  return (r.num * 1_000_000_000n) / r.den;
};

/** Adds a positive quantity to m's total for name; false when q is absent or not positive. */
function add(m: Map<string, bigint>, name: string, q: string | number | undefined): boolean {
  if (q === undefined) return false;
  const n = nanos(q);
  if (n <= 0n) return false;
  m.set(name, (m.get(name) ?? 0n) + n);
  return true;
}

/** Run after defaulting (requests default to limits). Quantities must be valid. */
export function podQOSClass(pod: Pick<Pod, 'spec'>): QOSClass {
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  for (const c of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])]) {
    for (const name of COMPUTE) {
      add(requests, name, c.resources?.requests?.[name]);
      if (!add(limits, name, c.resources?.limits?.[name])) guaranteed = false;
    }
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed && COMPUTE.every((name) => (requests.get(name) ?? limits.get(name)) === limits.get(name))) return 'Guaranteed';
  return 'Burstable';
}
