// InterPodAffinity: required pod affinity (the pod must share a topology domain with pods its terms select), required
// anti-affinity (it must not, and neither may it land where an existing pod's anti-affinity forbids it); preferred
// terms on both sides (and existing pods' required affinity, with hardPodAffinityWeight) score nodes.
import type { NodeInfo, PodInfo } from '../../framework/node-info.js';
import { termMatches, type AffinityTerm } from '../../framework/node-info.js';
import { MAX_NODE_SCORE, podCountingExtensions, Status, stateKey, type Cloneable, type FilterPlugin, type Handle, type PodCounting, type PreFilterPlugin, type PreScorePlugin, type ScorePlugin } from '../../framework/types.js';
import { numberArg } from '../helpers.js';

export const NAME = 'InterPodAffinity';
export const ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules";
export const ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

const pair = (key: string, value: string): string => `${key}\u0000${value}`;

function bump(m: Map<string, number>, key: string, d: number): void {
  const n = (m.get(key) ?? 0) + d;
  if (n) m.set(key, n);
  else m.delete(key);
}

class FilterState implements Cloneable<FilterState>, PodCounting {
  constructor(
    /** Domains where an existing pod's required anti-affinity selects the incoming pod. */
    readonly existingAnti = new Map<string, number>(),
    /** Domains with pods matching all of the incoming pod's required affinity terms. */
    readonly affinity = new Map<string, number>(),
    /** Domains with pods matching one of the incoming pod's required anti-affinity terms. */
    readonly anti = new Map<string, number>(),
  ) {}
  clone(): FilterState {
    return new FilterState(new Map(this.existingAnti), new Map(this.affinity), new Map(this.anti));
  }
  /** Counts `other` on `node` (d=1) or uncounts it (d=-1). */
  count(pod: PodInfo, other: PodInfo, node: NodeInfo, d: number): void {
    const labels = node.labels;
    for (const t of other.requiredAntiAffinity) {
      const v = labels[t.topologyKey];
      if (v !== undefined && termMatches(t, pod.pod)) bump(this.existingAnti, pair(t.topologyKey, v), d);
    }
    if (pod.requiredAffinity.length && pod.requiredAffinity.every((t) => termMatches(t, other.pod))) {
      for (const t of pod.requiredAffinity) {
        const v = labels[t.topologyKey];
        if (v !== undefined) bump(this.affinity, pair(t.topologyKey, v), d);
      }
    }
    for (const t of pod.requiredAntiAffinity) {
      const v = labels[t.topologyKey];
      if (v !== undefined && termMatches(t, other.pod)) bump(this.anti, pair(t.topologyKey, v), d);
    }
  }
}

type ScoreState = Map<string, Map<string, number>>;

const FILTER = stateKey<FilterState>(`PreFilter${NAME}`);
const SCORE = stateKey<ScoreState>(`PreScore${NAME}`);

export function interPodAffinity(args: Record<string, unknown>, handle: Handle): PreFilterPlugin & FilterPlugin & PreScorePlugin & ScorePlugin {
  const hardPodAffinityWeight = numberArg(args, 'hardPodAffinityWeight', 1);
  return {
    name: NAME,
    events: ['AssignedPodAdd', 'AssignedPodUpdate', 'AssignedPodDelete', 'NodeAdd', 'NodeLabelChange'],

    preFilter(state, pod) {
      const own = pod.requiredAffinity.length + pod.requiredAntiAffinity.length > 0;
      if (!own && handle.snapshot.podsWithAffinity === 0) return Status.skip();
      const s = new FilterState();
      for (const node of handle.snapshot.list()) {
        const others = own ? node.pods.values() : node.podsWithRequiredAntiAffinity.values();
        for (const other of others) s.count(pod, other, node, 1);
      }
      if (!own && s.existingAnti.size === 0) return Status.skip();
      state.write(FILTER, s);
      return Status.success();
    },
    ...podCountingExtensions(FILTER),

    filter(state, pod, node) {
      const s = state.read(FILTER);
      if (!s) return Status.success();
      const labels = node.labels;
      if (pod.requiredAffinity.length) {
        let exist = true;
        for (const t of pod.requiredAffinity) {
          const v = labels[t.topologyKey];
          if (v === undefined) return Status.unresolvable(ERR_REASON_AFFINITY);
          if (!s.affinity.get(pair(t.topologyKey, v))) exist = false;
        }
        // The first pod of a group with affinity to itself may go anywhere its topology keys exist.
        if (!exist && !(s.affinity.size === 0 && pod.requiredAffinity.every((t) => termMatches(t, pod.pod)))) {
          return Status.unresolvable(ERR_REASON_AFFINITY);
        }
      }
      for (const t of pod.requiredAntiAffinity) {
        const v = labels[t.topologyKey];
        if (v !== undefined && s.anti.get(pair(t.topologyKey, v))) return Status.unschedulable(ERR_REASON_ANTI_AFFINITY);
      }
      if (s.existingAnti.size) {
        for (const [k, v] of Object.entries(labels)) if (s.existingAnti.get(pair(k, v))) return Status.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
      }
      return Status.success();
    },

    preScore(state, pod) {
      const own = pod.preferredAffinity.length + pod.preferredAntiAffinity.length > 0;
      if (!own && handle.snapshot.podsWithAffinity === 0) return Status.skip();
      const scores: ScoreState = new Map();
      const add = (node: NodeInfo, t: AffinityTerm, w: number): void => {
        const v = node.labels[t.topologyKey];
        if (v === undefined || !w) return;
        let m = scores.get(t.topologyKey);
        if (!m) scores.set(t.topologyKey, (m = new Map()));
        m.set(v, (m.get(v) ?? 0) + w);
      };
      for (const node of handle.snapshot.list()) {
        for (const other of own ? node.pods.values() : node.podsWithAffinity.values()) {
          for (const t of pod.preferredAffinity) if (termMatches(t, other.pod)) add(node, t, t.weight);
          for (const t of pod.preferredAntiAffinity) if (termMatches(t, other.pod)) add(node, t, -t.weight);
          for (const t of other.requiredAffinity) if (termMatches(t, pod.pod)) add(node, t, hardPodAffinityWeight);
          for (const t of other.preferredAffinity) if (termMatches(t, pod.pod)) add(node, t, t.weight);
          for (const t of other.preferredAntiAffinity) if (termMatches(t, pod.pod)) add(node, t, -t.weight);
        }
      }
      if (!scores.size) return Status.skip();
      state.write(SCORE, scores);
      return Status.success();
    },

    score(state, _pod, node) {
      let sum = 0;
      for (const [k, m] of state.read(SCORE) ?? []) {
        const v = node.labels[k];
        if (v !== undefined) sum += m.get(v) ?? 0;
      }
      return sum;
    },

    normalizeScores(_state, _pod, scores) {
      let min = Infinity;
      let max = -Infinity;
      for (const s of scores) {
        min = Math.min(min, s.score);
        max = Math.max(max, s.score);
      }
      for (const s of scores) s.score = max > min ? Math.floor((MAX_NODE_SCORE * (s.score - min)) / (max - min)) : 0;
    },
  };
}
