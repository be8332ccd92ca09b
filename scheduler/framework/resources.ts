// Resource arithmetic for scheduling: a pod's effective requests (init containers, sidecars, overhead) and a node's
// allocatable, in integer units (cpu in millicores, everything else in whole units: bytes, pods, devices).
import { bytes, cpuMillis, type Container, type Node, type Pod } from '../../api/index.js';

export type Resources = Record<string, number>;

export const CPU = 'cpu';
export const MEMORY = 'memory';
export const EPHEMERAL_STORAGE = 'ephemeral-storage';
export const PODS = 'pods';

/** What the scoring plugins assume a container without requests uses (schedutil.DefaultMilliCPURequest/MemoryRequest). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** Parsed quantities ("100m", "128Mi"), by unit: pods repeat a handful of them, and parsing one costs microseconds. */
const parsed = { cpu: new Map<string, number>(), other: new Map<string, number>() };
const MAX_PARSED = 4096;

function amount(name: string, q: string | number): number {
  if (typeof q === 'number') return name === CPU ? cpuMillis(q) : bytes(q);
  const memo = name === CPU ? parsed.cpu : parsed.other;
  let v = memo.get(q);
  if (v === undefined) {
    v = name === CPU ? cpuMillis(q) : bytes(q); // throws on a malformed quantity: nothing is remembered
    if (memo.size >= MAX_PARSED) memo.clear();
    memo.set(q, v);
  }
  return v;
}

/** A ResourceList (quantities) as integers. */
export function toResources(list: Record<string, string | number> | undefined): Resources {
  const out: Resources = {};
  for (const [k, v] of Object.entries(list ?? {})) out[k] = amount(k, v);
  return out;
}

function addInto(a: Resources, b: Resources, sign = 1): void {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + sign * v;
}

function maxInto(a: Resources, b: Resources): void {
  for (const [k, v] of Object.entries(b)) a[k] = Math.max(a[k] ?? 0, v);
}

/**
 * The pod's effective request (resource.PodRequests): the larger of the sum of its containers (plus sidecars, i.e.
 * init containers with restartPolicy Always, which keep running) and the largest init container (plus the sidecars
 * started before it), then the pod overhead on top.
 */
export function podRequests(pod: Pod, containerRequests: (c: Container) => Resources = (c) => toResources(c.resources?.requests)): Resources {
  const reqs: Resources = {};
  for (const c of pod.spec.containers ?? []) addInto(reqs, containerRequests(c));
  const sidecars: Resources = {};
  const initMax: Resources = {};
  for (const c of pod.spec.initContainers ?? []) {
    const r = containerRequests(c);
    if (c.restartPolicy === 'Always') {
      addInto(sidecars, r);
      maxInto(initMax, sidecars);
    } else {
      const withSidecars = { ...sidecars };
      addInto(withSidecars, r);
      maxInto(initMax, withSidecars);
    }
  }
  addInto(reqs, sidecars);
  maxInto(reqs, initMax);
  if (pod.spec.overhead) addInto(reqs, toResources(pod.spec.overhead));
  return reqs;
}

/**
 * Requests with the scoring defaults for a container that asks for no cpu or memory (so such pods still spread).
 * `requests` (podRequests of the pod), when given, is the answer if every container asks for both.
 */
export function podNonZeroRequests(pod: Pod, requests?: Resources): { cpu: number; memory: number } {
  if (requests && asksCpuAndMemory(pod.spec.containers) && asksCpuAndMemory(pod.spec.initContainers)) return { cpu: requests[CPU] ?? 0, memory: requests[MEMORY] ?? 0 };
  const r = podRequests(pod, (c) => {
    const x = toResources(c.resources?.requests);
    if (!x[CPU]) x[CPU] = DEFAULT_MILLI_CPU_REQUEST;
    if (!x[MEMORY]) x[MEMORY] = DEFAULT_MEMORY_REQUEST;
    return x;
  });
  return { cpu: r[CPU] ?? 0, memory: r[MEMORY] ?? 0 };
}

function asksCpuAndMemory(containers: readonly Container[] | undefined): boolean {
  for (const c of containers ?? []) {
    const r = c.resources?.requests;
    if (r?.[CPU] === undefined || r[MEMORY] === undefined || !amount(CPU, r[CPU]) || !amount(MEMORY, r[MEMORY])) return false;
  }
  return true;
}

/** status.allocatable, falling back to capacity. */
export function nodeAllocatable(node: Node): Resources {
  return toResources(node.status?.allocatable ?? node.status?.capacity);
}

export { addInto as addResources };
