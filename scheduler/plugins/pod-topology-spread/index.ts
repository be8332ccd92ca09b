// PodTopologySpread: DoNotSchedule constraints filter out nodes where placing the pod would make the number of
// matching pods in its topology domain exceed the least-loaded domain by more than maxSkew; ScheduleAnyway
// constraints prefer nodes in domains with fewer matching pods.
import { matchesLabelSelector, type LabelSelector, type TopologySpreadConstraint } from '../../../api/index.js';
import type { NodeInfo, PodInfo } from '../../framework/node-info.js';
import { MAX_NODE_SCORE, podCountingExtensions, Status, stateKey, type Cloneable, type FilterPlugin, type Handle, type PodCounting, type PreFilterPlugin, type PreScorePlugin, type ScorePlugin } from '../../framework/types.js';
import { findUntoleratedTaint, podMatchesNodeSelectorAndAffinity } from '../helpers.js';

export const NAME = 'PodTopologySpread';
export const ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints";
export const ERR_REASON_NODE_LABEL_NOT_MATCH = `${ERR_REASON_CONSTRAINTS_NOT_MATCH} (missing required label)`;

interface Constraint {
  maxSkew: number;
  topologyKey: string;
  selector: LabelSelector | undefined;
  minDomains: number;
  honorAffinity: boolean;
  honorTaints: boolean;
}

function constraintsOf(pod: PodInfo, when: TopologySpreadConstraint['whenUnsatisfiable']): Constraint[] {
  const labels = pod.labels;
  return (pod.pod.spec.topologySpreadConstraints ?? [])
    .filter((c) => c.whenUnsatisfiable === when)
    .map((c) => {
      let selector = c.labelSelector;
      const extra = (c.matchLabelKeys ?? []).filter((k) => labels[k] !== undefined).map((k) => ({ key: k, operator: 'In' as const, values: [labels[k]!] }));
      if (selector && extra.length) selector = { ...selector, matchExpressions: [...(selector.matchExpressions ?? []), ...extra] };
      return {
        maxSkew: c.maxSkew,
        topologyKey: c.topologyKey,
        selector,
        minDomains: c.minDomains ?? 1,
        honorAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
        honorTaints: (c.nodeTaintsPolicy ?? 'Ignore') === 'Honor',
      };
    });
}

/** Whether the node counts for this pod's spreading: it has every constraint's key and passes the policies. */
function nodeEligible(pod: PodInfo, node: NodeInfo, constraints: readonly Constraint[]): boolean {
  if (!node.node) return false;
  const labels = node.labels;
  for (const c of constraints) {
    if (labels[c.topologyKey] === undefined) return false;
    if (c.honorAffinity && !podMatchesNodeSelectorAndAffinity(pod.pod, node.node)) return false;
    if (c.honorTaints && findUntoleratedTaint(node.taints, pod.pod.spec.tolerations ?? [], ['NoSchedule', 'NoExecute'])) return false;
  }
  return true;
}

function podCounts(c: Constraint, namespace: string, other: PodInfo): boolean {
  return !other.pod.metadata?.deletionTimestamp && other.namespace === namespace && matchesLabelSelector(c.selector, other.labels);
}

function countOnNode(c: Constraint, namespace: string, node: NodeInfo): number {
  let n = 0;
  for (const p of node.pods.values()) if (podCounts(c, namespace, p)) n++;
  return n;
}

/** The two domains with the fewest matching pods (Kubernetes' criticalPaths): enough to know the minimum quickly. */
class CriticalPaths {
  paths = [
    { value: '', num: Number.MAX_SAFE_INTEGER },
    { value: '', num: Number.MAX_SAFE_INTEGER },
  ];
  update(value: string, num: number): void {
    const [a, b] = this.paths as [{ value: string; num: number }, { value: string; num: number }];
    const i = value === a.value ? 0 : value === b.value ? 1 : -1;
    if (i >= 0) {
      this.paths[i]!.num = num;
      if (a.num > b.num) this.paths = [b, a];
    } else if (num < a.num) this.paths = [{ value, num }, { ...a }];
    else if (num < b.num) this.paths = [a, { value, num }];
  }
  get min(): number {
    return this.paths[0]!.num;
  }
  clone(): CriticalPaths {
    const c = new CriticalPaths();
    c.paths = this.paths.map((p) => ({ ...p }));
    return c;
  }
}

class FilterState implements Cloneable<FilterState>, PodCounting {
  constructor(
    readonly constraints: Constraint[],
    readonly counts: Array<Map<string, number>>,
    readonly critical: CriticalPaths[],
  ) {}
  clone(): FilterState {
    return new FilterState(this.constraints, this.counts.map((m) => new Map(m)), this.critical.map((c) => c.clone()));
  }
  /** A pod was added (d=1) or removed (d=-1) on a node in a simulation. */
  count(pod: PodInfo, other: PodInfo, node: NodeInfo, d: number): void {
    if (!nodeEligible(pod, node, this.constraints)) return;
    this.constraints.forEach((c, i) => {
      if (!podCounts(c, pod.namespace, other)) return;
      const v = node.labels[c.topologyKey]!;
      const n = (this.counts[i]!.get(v) ?? 0) + d;
      this.counts[i]!.set(v, n);
      this.critical[i]!.update(v, n);
    });
  }
}

interface ScoreState {
  constraints: Constraint[];
  ignored: Set<string>;
  /** Per constraint: domain value -> matching pods. */
  counts: Array<Map<string, number>>;
  weights: number[];
}

const FILTER = stateKey<FilterState>(`PreFilter${NAME}`);
const SCORE = stateKey<ScoreState>(`PreScore${NAME}`);

export function podTopologySpread(_args: Record<string, unknown>, handle: Handle): PreFilterPlugin & FilterPlugin & PreScorePlugin & ScorePlugin {
  return {
    name: NAME,
    events: ['NodeAdd', 'NodeDelete', 'NodeLabelChange', 'NodeTaintChange', 'AssignedPodAdd', 'AssignedPodUpdate', 'AssignedPodDelete'],

    preFilter(state, pod) {
      const constraints = constraintsOf(pod, 'DoNotSchedule');
      if (!constraints.length) return Status.skip();
      const counts = constraints.map(() => new Map<string, number>());
      for (const node of handle.snapshot.list()) {
        if (!nodeEligible(pod, node, constraints)) continue;
        constraints.forEach((c, i) => {
          const v = node.labels[c.topologyKey]!;
          counts[i]!.set(v, (counts[i]!.get(v) ?? 0) + countOnNode(c, pod.namespace, node));
        });
      }
      const critical = counts.map((m) => {
        const cp = new CriticalPaths();
        for (const [v, n] of m) cp.update(v, n);
        return cp;
      });
      state.write(FILTER, new FilterState(constraints, counts, critical));
      return Status.success();
    },
    ...podCountingExtensions(FILTER),

    filter(state, pod, node) {
      const s = state.read(FILTER);
      if (!s) return Status.success();
      for (let i = 0; i < s.constraints.length; i++) {
        const c = s.constraints[i]!;
        const v = node.labels[c.topologyKey];
        if (v === undefined) return Status.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
        const self = matchesLabelSelector(c.selector, pod.labels) ? 1 : 0;
        const min = s.counts[i]!.size < c.minDomains ? 0 : s.critical[i]!.min;
        const skew = (s.counts[i]!.get(v) ?? 0) + self - min;
        if (skew > c.maxSkew) return Status.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
      }
      return Status.success();
    },

    preScore(state, pod, nodes) {
      const constraints = constraintsOf(pod, 'ScheduleAnyway');
      if (!constraints.length) return Status.skip();
      const ignored = new Set<string>();
      const counts = constraints.map(() => new Map<string, number>());
      for (const n of nodes) {
        if (!constraints.every((c) => n.labels[c.topologyKey] !== undefined)) ignored.add(n.name);
        else constraints.forEach((c, i) => counts[i]!.set(n.labels[c.topologyKey]!, 0));
      }
      for (const node of handle.snapshot.list()) {
        if (!nodeEligible(pod, node, constraints)) continue;
        constraints.forEach((c, i) => {
          const v = node.labels[c.topologyKey]!;
          const cur = counts[i]!.get(v);
          if (cur !== undefined) counts[i]!.set(v, cur + countOnNode(c, pod.namespace, node));
        });
      }
      const weights = counts.map((m) => Math.log(m.size + 2));
      state.write(SCORE, { constraints, ignored, counts, weights });
      return Status.success();
    },

    score(state, _pod, node) {
      const s = state.read(SCORE);
      if (!s || s.ignored.has(node.name)) return 0;
      let score = 0;
      s.constraints.forEach((c, i) => {
        const n = s.counts[i]!.get(node.labels[c.topologyKey] ?? '') ?? 0;
        score += n * s.weights[i]! + (c.maxSkew - 1);
      });
      return Math.round(score);
    },

    normalizeScores(state, _pod, scores) {
      const s = state.read(SCORE);
      if (!s) return;
      let min = Infinity;
      let max = 0;
      for (const x of scores) {
        if (s.ignored.has(x.name)) continue;
        min = Math.min(min, x.score);
        max = Math.max(max, x.score);
      }
      for (const x of scores) {
        if (s.ignored.has(x.name)) x.score = 0;
        else if (max === 0) x.score = MAX_NODE_SCORE;
        else x.score = Math.floor((MAX_NODE_SCORE * (max + min - x.score)) / max);
      }
    },
  };
}
