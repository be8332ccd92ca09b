// PodDisruptionBudget status helpers shared by the eviction subresource and the disruption controller (kube's pdbhelper).
import type { Condition } from './schemas/meta.js';
import type { PodDisruptionBudget } from './schemas/policy.js';

/** kube's apimeta.SetStatusCondition: the condition of that type replaced in place; its transition time moves only when its status changes. */
export function setStatusCondition(conditions: readonly Condition[] | undefined, cond: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === cond.type);
  const old = i >= 0 ? list[i] : undefined;
  const next: Condition = { ...cond, lastTransitionTime: old && old.status === cond.status ? old.lastTransitionTime : now };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** The conditions with DisruptionAllowed as kube's UpdateDisruptionAllowedCondition sets it (SufficientPods or InsufficientPods). */
export function withDisruptionAllowedCondition(pdb: PodDisruptionBudget, now: string): Condition[] {
  const st = pdb.status;
  const allowed = (st?.disruptionsAllowed ?? 0) > 0;
  return setStatusCondition(
    st?.conditions,
    { type: 'DisruptionAllowed', status: allowed ? 'True' : 'False', reason: allowed ? 'SufficientPods' : 'InsufficientPods', message: '', observedGeneration: st?.observedGeneration ?? 0 },
    now,
  );
}
