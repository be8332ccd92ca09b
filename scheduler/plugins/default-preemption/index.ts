// DefaultPreemption: when a pod fits nowhere, find the node where evicting the fewest, lowest-priority pods makes it
// fit, evict them gracefully and nominate the node for the pod (status.nominatedNodeName).
import { FitError } from '../../framework/fit-error.js';
import type { NodeInfo, PodInfo } from '../../framework/node-info.js';
import { Status, type CycleState, type Handle, type PostFilterPlugin } from '../../framework/types.js';
import { numberArg } from '../helpers.js';

export const NAME = 'DefaultPreemption';
export const NOT_HELPFUL = 'Preemption is not helpful for scheduling';
export const NO_VICTIMS = 'No preemption victims found for incoming pod';
export const NOT_ELIGIBLE_POLICY = 'not eligible due to preemptionPolicy=Never.';
export const NOT_ELIGIBLE_TERMINATING = 'not eligible due to a terminating pod on the nominated node.';

export interface Candidate {
  node: string;
  victims: PodInfo[];
}

const startTime = (p: PodInfo): number => Date.parse(p.pod.status?.startTime ?? p.pod.metadata?.creationTimestamp ?? '') || 0;

/** More important first: higher priority, then the one that started earlier. */
const moreImportant = (a: PodInfo, b: PodInfo): number => b.priority - a.priority || startTime(a) - startTime(b);

/**
 * The fewest victims on one node (SelectVictimsOnNode): remove every lower-priority pod; if the pod then fits, add them
 * back one by one, most important first, keeping each that still lets it fit.
 */
export function selectVictimsOnNode(handle: Handle, state: CycleState, pod: PodInfo, node: NodeInfo): { victims: PodInfo[] } | { status: Status } {
  const lower = [...node.pods.values()].filter((p) => p.priority < pod.priority);
  if (!lower.length) return { status: Status.unresolvable(NO_VICTIMS) };
  for (const p of lower) {
    node.removePod(p.key);
    handle.runPreFilterRemovePod(state, pod, p, node);
  }
  const st = handle.runFilters(state, pod, node);
  if (!st.isSuccess()) return { status: st };
  const victims: PodInfo[] = [];
  for (const p of lower.sort(moreImportant)) {
    node.addPod(p);
    handle.runPreFilterAddPod(state, pod, p, node);
    if (!handle.runFilters(state, pod, node).isSuccess()) {
      node.removePod(p.key);
      handle.runPreFilterRemovePod(state, pod, p, node);
      victims.push(p);
    }
  }
  return { victims };
}

/**
 * pickOneNodeForPreemption: the candidate whose most important victim has the lowest priority, then the lowest sum
 * of victim priorities, then the fewest victims, then the latest start among the most important victims.
 */
export function pickCandidate(candidates: readonly Candidate[]): Candidate | undefined {
  const zero = candidates.find((c) => c.victims.length === 0);
  if (zero) return zero;
  const OFFSET = 2 ** 31; // makes negative priorities sum sensibly, as Kubernetes does
  const key = (c: Candidate): number[] => {
    const maxPrio = Math.max(...c.victims.map((v) => v.priority));
    const sum = c.victims.reduce((a, v) => a + v.priority + OFFSET, 0);
    const earliestTop = Math.min(...c.victims.filter((v) => v.priority === maxPrio).map(startTime));
    return [maxPrio, sum, c.victims.length, -earliestTop];
  };
  const less = (a: number[], b: number[]): boolean => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
    return false;
  };
  let best: Candidate | undefined;
  let bestKey: number[] = [];
  for (const c of candidates) {
    const k = key(c);
    if (!best || less(k, bestKey)) {
      best = c;
      bestKey = k;
    }
  }
  return best;
}

export function defaultPreemption(args: Record<string, unknown>, handle: Handle): PostFilterPlugin {
  const minPct = numberArg(args, 'minCandidateNodesPercentage', 10);
  const minAbs = numberArg(args, 'minCandidateNodesAbsolute', 100);

  const eligible = (pod: PodInfo, statuses: ReadonlyMap<string, Status>): string | undefined => {
    if (pod.pod.spec.preemptionPolicy === 'Never') return NOT_ELIGIBLE_POLICY;
    const nominated = pod.pod.status?.nominatedNodeName;
    if (nominated && statuses.get(nominated)?.code !== 'UnschedulableAndUnresolvable') {
      const ni = handle.snapshot.get(nominated);
      for (const p of ni?.pods.values() ?? []) if (p.priority < pod.priority && p.pod.metadata?.deletionTimestamp) return NOT_ELIGIBLE_TERMINATING;
    }
    return undefined;
  };

  return {
    name: NAME,
    async postFilter(state, pod, statuses) {
      const notEligible = eligible(pod, statuses);
      if (notEligible) return { status: Status.unschedulable(`preemption: ${notEligible}`) };

      const all = handle.snapshot.list();
      const potential = all.filter((n) => statuses.get(n.name)?.code === 'Unschedulable');
      const failed = new Map<string, Status>();
      const candidates: Candidate[] = [];
      if (potential.length) {
        const want = Math.min(potential.length, Math.max(Math.floor((all.length * minPct) / 100), minAbs));
        const offset = Math.floor(handle.random() * potential.length);
        for (let i = 0; i < potential.length && candidates.length < want; i++) {
          const node = potential[(offset + i) % potential.length]!;
          const r = selectVictimsOnNode(handle, state.clone(), pod, node.clone());
          if ('victims' in r) candidates.push({ node: node.name, victims: r.victims });
          else failed.set(node.name, r.status);
        }
      }
      const best = pickCandidate(candidates);
      if (!best) {
        for (const n of all) if (!failed.has(n.name)) failed.set(n.name, Status.unresolvable(NOT_HELPFUL));
        const fe = new FitError(all.length, failed);
        return { status: Status.unschedulable(`preemption: ${fe.message}`), ...(pod.pod.status?.nominatedNodeName ? { nominatedNodeName: '' } : {}) };
      }
      await Promise.all(best.victims.map((v) => handle.api.evict(v.pod, pod.pod, best.node)));
      // Lower-priority pods nominated to this node lose their nomination: the room is for this pod now.
      const displaced = handle.nominatedPods(best.node).filter((p) => p.priority < pod.priority && p.key !== pod.key);
      await Promise.all(displaced.map((p) => handle.api.setNominatedNodeName(p.pod, '')));
      return { status: Status.success(), nominatedNodeName: best.node };
    },
  };
}
