// PriorityClasses: cluster-scoped, no status; value and preemptionPolicy are immutable (api/validation/scheduling.ts),
// the single global default and the undeletable system classes are admission's (apiserver/admission/priority.ts).
import type { ResourceInfo } from '../../../api/index.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

export function priorityClassStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info);
}
