// Which pods a ReplicaSet deletes first when it scales down (controller.ActivePodsWithRanks): unscheduled before
// scheduled, pending before running, not ready before ready, lower deletion cost, doubled-up on a node, ready for less
// time, more restarts, newer before older.
import { isPodActive, isPodReady, podReadyCondition } from '../framework/pods.js';
import type { Pod } from '../framework/types.js';

export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

const PHASE_ORDER: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function deletionCost(pod: Pod): number {
  const v = pod.metadata.annotations?.[POD_DELETION_COST];
  const n = v === undefined ? 0 : Number(v);
  return Number.isInteger(n) ? n : 0;
}

const time = (s: string | undefined): number | undefined => {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) ? t : undefined;
};

/** Empty first, then later first: "a goes before b" for times where newer is deleted first. */
function afterOrZero(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined) return a === undefined && b !== undefined ? -1 : a !== undefined && b === undefined ? 1 : 0;
  return b - a;
}

const maxRestarts = (pod: Pod): number => Math.max(0, ...(pod.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));

/** Negative when a should be deleted before b. */
export function compareForDeletion(a: Pod, b: Pod, rankA: number, rankB: number): number {
  const na = a.spec.nodeName ?? '';
  const nb = b.spec.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
  const pa = PHASE_ORDER[a.status?.phase ?? 'Pending'] ?? 0;
  const pb = PHASE_ORDER[b.status?.phase ?? 'Pending'] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  if (rankA !== rankB) return rankB - rankA;
  if (ra && rb) {
    const d = afterOrZero(time(podReadyCondition(a)?.lastTransitionTime), time(podReadyCondition(b)?.lastTransitionTime));
    if (d !== 0) return d;
  }
  const restarts = maxRestarts(b) - maxRestarts(a);
  if (restarts !== 0) return restarts;
  return afterOrZero(time(a.metadata.creationTimestamp), time(b.metadata.creationTimestamp));
}

/**
 * The diff pods to delete from filtered; related are the pods of all ReplicaSets of the same owner, and a pod on a
 * node that holds more of them goes first (spreading the survivors).
 */
export function podsToDelete(filtered: Pod[], related: Pod[], diff: number): Pod[] {
  if (diff >= filtered.length) return [...filtered];
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(p.spec.nodeName ?? '', (onNode.get(p.spec.nodeName ?? '') ?? 0) + 1);
  const ranked = filtered.map((pod) => ({ pod, rank: onNode.get(pod.spec.nodeName ?? '') ?? 0 }));
  ranked.sort((x, y) => compareForDeletion(x.pod, y.pod, x.rank, y.rank));
  return ranked.slice(0, diff).map((x) => x.pod);
}
