// NodeResourcesFit: the pod's requests (cpu, memory, ephemeral-storage, extended resources, one pod slot) must fit in
// what the node has left; scores by the configured strategy (LeastAllocated by default, MostAllocated,
// RequestedToCapacityRatio).
import { ConfigError } from '../../config.js';
import type { NodeInfo, PodInfo } from '../../framework/node-info.js';
import { CPU, MEMORY, PODS } from '../../framework/resources.js';
import { MAX_NODE_SCORE, Status, type FilterPlugin, type ScorePlugin } from '../../framework/types.js';

export const NAME = 'NodeResourcesFit';
export const TOO_MANY_PODS = 'Too many pods';
export const insufficient = (resource: string): string => `Insufficient ${resource}`;

export interface ResourceSpec {
  name: string;
  weight: number;
}
export type ScoringStrategyType = 'LeastAllocated' | 'MostAllocated' | 'RequestedToCapacityRatio';
export const DEFAULT_RESOURCES: readonly ResourceSpec[] = [
  { name: CPU, weight: 1 },
  { name: MEMORY, weight: 1 },
];

/** The requested amount the scorers use: cpu and memory count containers without requests at the defaults. */
export function requestedWith(node: NodeInfo, pod: PodInfo, resource: string, nonZero: boolean): number {
  if (resource === CPU) return nonZero ? node.nonZeroRequestedCpu + pod.nonZero.cpu : node.requestedCpu + pod.cpu;
  if (resource === MEMORY) return nonZero ? node.nonZeroRequestedMemory + pod.nonZero.memory : node.requestedMemory + pod.memory;
  return (node.requested[resource] ?? 0) + (pod.requests[resource] ?? 0);
}

/** The node's allocatable amount of a resource (cpu and memory from the NodeInfo's own fields). */
export function allocatableOf(node: NodeInfo, resource: string): number {
  if (resource === CPU) return node.allocatableCpu;
  if (resource === MEMORY) return node.allocatableMemory;
  return node.allocatable[resource] ?? 0;
}

/** Whether the pod fits in the node's free resources (insufficientResources would be empty). Runs for every node. */
export function fitsResources(pod: PodInfo, node: NodeInfo, ignored?: ReadonlySet<string>): boolean {
  if (ignored) return insufficientResources(pod, node, ignored).length === 0;
  if (node.podCount + 1 > node.allocatablePods) return false;
  if (pod.cpu > 0 && pod.cpu > node.allocatableCpu - node.requestedCpu) return false;
  if (pod.memory > 0 && pod.memory > node.allocatableMemory - node.requestedMemory) return false;
  const list = pod.otherRequests;
  for (let i = 0; i < list.length; i++) {
    const [k, v] = list[i]!;
    if (v > (node.allocatable[k] ?? 0) - (node.requested[k] ?? 0)) return false;
  }
  return true;
}

/** Why the pod does not fit in the node's free resources (empty when it fits). */
export function insufficientResources(pod: PodInfo, node: NodeInfo, ignored?: ReadonlySet<string>): string[] {
  const out: string[] = [];
  if (node.pods.size + 1 > (node.allocatable[PODS] ?? 0)) out.push(TOO_MANY_PODS);
  for (const [k, v] of pod.requestList) {
    if (ignored?.has(k)) continue;
    if (v > (node.allocatable[k] ?? 0) - (node.requested[k] ?? 0)) out.push(insufficient(k));
  }
  return out;
}

type Scorer = (requested: number, allocatable: number) => number;
const leastRequested: Scorer = (r, c) => (c === 0 || r > c ? 0 : Math.floor(((c - r) * MAX_NODE_SCORE) / c));
const mostRequested: Scorer = (r, c) => (c === 0 ? 0 : Math.floor((Math.min(r, c) * MAX_NODE_SCORE) / c));

/** A piecewise-linear function of utilization (0..100) given as points with scores 0..10. */
function ratioScorer(shape: Array<{ utilization: number; score: number }>): Scorer {
  if (!shape.length) throw new ConfigError(`${NAME}: requestedToCapacityRatio.shape must not be empty`);
  const pts = [...shape].sort((a, b) => a.utilization - b.utilization).map((p) => ({ u: p.utilization, s: (p.score * MAX_NODE_SCORE) / 10 }));
  return (r, c) => {
    if (c === 0) return 0;
    const u = Math.min(100, (r * 100) / c);
    const first = pts[0]!;
    if (u <= first.u) return Math.floor(first.s);
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1]!;
      const b = pts[i]!;
      if (u <= b.u) return Math.floor(a.s + ((b.s - a.s) * (u - a.u)) / (b.u - a.u));
    }
    return Math.floor(pts[pts.length - 1]!.s);
  };
}

interface FitArgs {
  ignoredResources?: string[];
  scoringStrategy?: {
    type?: ScoringStrategyType;
    resources?: ResourceSpec[];
    requestedToCapacityRatio?: { shape?: Array<{ utilization: number; score: number }> };
  };
}

export function nodeResourcesFit(rawArgs: Record<string, unknown> = {}): FilterPlugin & ScorePlugin {
  const args = rawArgs as FitArgs;
  const ignored = args.ignoredResources?.length ? new Set(args.ignoredResources) : undefined;
  const strategy = args.scoringStrategy?.type ?? 'LeastAllocated';
  const resources = args.scoringStrategy?.resources ?? DEFAULT_RESOURCES;
  let scorer: Scorer;
  if (strategy === 'LeastAllocated') scorer = leastRequested;
  else if (strategy === 'MostAllocated') scorer = mostRequested;
  else if (strategy === 'RequestedToCapacityRatio') scorer = ratioScorer(args.scoringStrategy?.requestedToCapacityRatio?.shape ?? []);
  else throw new ConfigError(`${NAME}: unknown scoringStrategy.type ${JSON.stringify(strategy)}`);
  return {
    name: NAME,
    events: ['NodeAdd', 'NodeAllocatableChange', 'AssignedPodDelete', 'AssignedPodUpdate'],
    filter(_state, pod, node) {
      if (fitsResources(pod, node, ignored)) return Status.success();
      const reasons = insufficientResources(pod, node, ignored);
      return reasons.length ? Status.unschedulable(...reasons) : Status.success();
    },
    score(_state, pod, node) {
      let sum = 0;
      let weights = 0;
      for (const r of resources) {
        const alloc = allocatableOf(node, r.name);
        if (alloc === 0) continue;
        sum += scorer(requestedWith(node, pod, r.name, true), alloc) * r.weight;
        weights += r.weight;
      }
      return weights ? Math.floor(sum / weights) : 0;
    },
  };
}
