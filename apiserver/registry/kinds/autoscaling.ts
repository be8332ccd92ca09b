// HorizontalPodAutoscalers and PodDisruptionBudgets: a status subresource starting from Go's zero status, and a
// generation bumped on spec changes (status.observedGeneration follows it).
import type { ResourceInfo } from '../../../api/resources.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

/** The status a new object gets: the fields that Go's zero struct serializes (no omitempty). */
const INITIAL_STATUS: Record<string, Record<string, number>> = {
  HorizontalPodAutoscaler: { desiredReplicas: 0 },
  PodDisruptionBudget: { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 },
};

export function statusKindStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: true,
    prepareForCreate(obj) {
      obj.status = { ...(INITIAL_STATUS[info.kind] ?? {}) };
    },
  });
}
