// The HPA's replica count for one resource metric (pkg/controller/podautoscaler/replica_calculator.go): pods grouped
// into ready, unready, missing-metric and ignored; the usage ratio against the target; the 0.1 tolerance; missing pods
// counted at the target on a scale-down and at zero on a scale-up; unready pods at zero on a scale-up; no change when
// those assumptions flip the direction.
import { cpuMillis } from '../../api/quantity.js';
import type { Pod } from '../framework/types.js';

/** One pod's usage in milli-units (milli-cores, milli-bytes), when it was sampled and over what window. */
export interface PodMetric {
  value: number;
  timestampMs: number;
  windowMs: number;
}

export type PodMetrics = Map<string, PodMetric>;

export interface CalculatorOptions {
  /** kube's --horizontal-pod-autoscaler-tolerance. */
  tolerance: number;
  /** --horizontal-pod-autoscaler-cpu-initialization-period: CPU samples of pods started this recently are checked harder. */
  cpuInitializationPeriodMs: number;
  /** --horizontal-pod-autoscaler-initial-readiness-delay. */
  initialReadinessDelayMs: number;
}

export const DEFAULT_CALCULATOR_OPTIONS: CalculatorOptions = { tolerance: 0.1, cpuInitializationPeriodMs: 5 * 60_000, initialReadinessDelayMs: 30_000 };

export interface Proposal {
  replicas: number;
  /** Utilization in percent of the requests (Utilization targets). */
  utilization?: number;
  /** The average usage per pod in milli-units. */
  rawAverage: number;
  timestampMs: number;
}

interface Groups {
  readyCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** kube's groupPods: deleting and failed pods are ignored, pending ones unready; CPU samples from a pod's start-up are unready too. */
export function groupPods(pods: Pod[], metrics: PodMetrics, resource: string, opts: CalculatorOptions, now: number): Groups {
  const g: Groups = { readyCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    const name = pod.metadata.name ?? '';
    if (pod.metadata.deletionTimestamp || pod.status?.phase === 'Failed') g.ignored.add(name);
    else if (pod.status?.phase === 'Pending') g.unready.add(name);
    else if (!metrics.has(name)) g.missing.add(name);
    else if (resource === 'cpu' && cpuSampleUnready(pod, metrics.get(name)!, opts, now)) g.unready.add(name);
    else g.readyCount++;
  }
  return g;
}

function cpuSampleUnready(pod: Pod, metric: PodMetric, opts: CalculatorOptions, now: number): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const started = Date.parse(pod.status?.startTime ?? '');
  if (!ready || Number.isNaN(started)) return true;
  const transition = Date.parse(ready.lastTransitionTime ?? '') || 0;
  // Within the initialization period: unready, or no full metric window since the last readiness change.
  if (started + opts.cpuInitializationPeriodMs > now) return ready.status === 'False' || metric.timestampMs < transition + metric.windowMs;
  // Later: unready only if it has never been ready.
  return ready.status === 'False' && started + opts.initialReadinessDelayMs > transition;
}

/** Each pod's requests of the resource in milli-units, summed over its containers (or one container); throws when one has none. */
export function podRequests(pods: Pod[], resource: string, container?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pod of pods) {
    let sum = 0;
    for (const c of pod.spec.containers) {
      if (container && c.name !== container) continue;
      const req = c.resources?.requests?.[resource];
      if (req === undefined) throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata.name ?? ''}`);
      sum += cpuMillis(req);
    }
    out.set(pod.metadata.name ?? '', sum);
  }
  return out;
}

/** kube's GetResourceUtilizationRatio: the pods' usage against their requests and the target percentage. */
function utilizationRatio(metrics: Map<string, number>, requests: Map<string, number>, target: number): { ratio: number; utilization: number; rawAverage: number } {
  let usage = 0;
  let requested = 0;
  let n = 0;
  for (const [name, value] of metrics) {
    const req = requests.get(name);
    if (req === undefined) continue;
    usage += value;
    requested += req;
    n++;
  }
  if (requested === 0) throw new Error('no metrics returned matched known pods');
  const utilization = Math.trunc((usage * 100) / requested);
  return { ratio: utilization / target, utilization, rawAverage: Math.trunc(usage / n) };
}

/** kube's GetMetricUsageRatio for an average-value target: the mean usage against the target. */
function averageRatio(metrics: Map<string, number>, target: number): { ratio: number; rawAverage: number } {
  let usage = 0;
  for (const v of metrics.values()) usage += v;
  const rawAverage = Math.trunc(usage / metrics.size);
  return { ratio: rawAverage / target, rawAverage };
}

export interface ResourceTarget {
  resource: string;
  container?: string;
  /** averageUtilization (percent) or averageValue (milli-units). */
  utilization?: number;
  averageValue?: number;
}

/** kube's GetResourceReplicas and GetRawResourceReplicas: the proposed replica count for one resource metric. */
export function resourceReplicas(currentReplicas: number, target: ResourceTarget, pods: Pod[], metrics: PodMetrics, opts: CalculatorOptions, now: number): Proposal {
  if (!pods.length) throw new Error('no pods returned by selector while calculating replica count');
  const groups = groupPods(pods, metrics, target.resource, opts, now);
  const values = new Map<string, number>();
  let timestampMs = 0;
  for (const [name, m] of metrics) {
    if (groups.ignored.has(name) || groups.unready.has(name) || !pods.some((p) => p.metadata.name === name)) continue;
    values.set(name, m.value);
    timestampMs = Math.max(timestampMs, m.timestampMs);
  }
  if (!values.size) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const requests = target.utilization !== undefined ? podRequests(pods, target.resource, target.container) : new Map<string, number>();
  const ratioOf = (m: Map<string, number>): { ratio: number; utilization?: number; rawAverage: number } =>
    target.utilization !== undefined ? utilizationRatio(m, requests, target.utilization) : averageRatio(m, target.averageValue ?? 1);
  const first = ratioOf(values);
  const proposal = (replicas: number): Proposal => ({ replicas, rawAverage: first.rawAverage, timestampMs, ...(first.utilization !== undefined ? { utilization: first.utilization } : {}) });
  const within = (r: number): boolean => Math.abs(1 - r) <= opts.tolerance;
  const scaleUpWithUnready = groups.unready.size > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && !groups.missing.size) return proposal(within(first.ratio) ? currentReplicas : Math.ceil(first.ratio * groups.readyCount));
  // Assume the worst for the pods without a usable sample: at the target when scaling down, at zero when scaling up.
  for (const name of groups.missing) {
    if (first.ratio < 1) values.set(name, target.utilization !== undefined ? Math.trunc(((requests.get(name) ?? 0) * Math.max(100, target.utilization)) / 100) : (target.averageValue ?? 0));
    else if (first.ratio > 1) values.set(name, 0);
  }
  if (scaleUpWithUnready) for (const name of groups.unready) values.set(name, 0);
  const next = ratioOf(values).ratio;
  if (within(next) || (first.ratio < 1 && next > 1) || (first.ratio > 1 && next < 1)) return proposal(currentReplicas);
  const replicas = Math.ceil(next * values.size);
  if ((next < 1 && replicas > currentReplicas) || (next > 1 && replicas < currentReplicas)) return proposal(currentReplicas);
  return proposal(replicas);
}
