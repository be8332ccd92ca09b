// NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods that tolerate its unschedulable taint.
import { Status, type FilterPlugin } from '../../framework/types.js';
import { tolerates } from '../helpers.js';

export const NAME = 'NodeUnschedulable';
export const ERR_REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const UNSCHEDULABLE_TAINT = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' } as const;

export function nodeUnschedulable(): FilterPlugin {
  return {
    name: NAME,
    events: ['NodeAdd', 'NodeSpecUnschedulableChange', 'NodeTaintChange'],
    filter(_state, pod, node) {
      if (!node.unschedulable) return Status.success();
      const ok = (pod.pod.spec.tolerations ?? []).some((t) => tolerates(t, UNSCHEDULABLE_TAINT));
      return ok ? Status.success() : Status.unresolvable(ERR_REASON_UNSCHEDULABLE);
    },
  };
}
