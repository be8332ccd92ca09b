// TaintToleration: filters out nodes with a NoSchedule/NoExecute taint the pod does not tolerate, and prefers nodes
// with fewer untolerated PreferNoSchedule taints.
import type { Toleration } from '../../../api/index.js';
import { Status, stateKey, type FilterPlugin, type PreScorePlugin, type ScorePlugin } from '../../framework/types.js';
import { defaultNormalizeScore, findUntoleratedTaint, tolerates } from '../helpers.js';

export const NAME = 'TaintToleration';
const PREFER_TOLERATIONS = stateKey<Toleration[]>(`PreScore${NAME}`);

export const untoleratedTaintReason = (key: string, value: string | undefined): string => `node(s) had untolerated taint {${key}: ${value ?? ''}}`;

export function taintToleration(): FilterPlugin & PreScorePlugin & ScorePlugin {
  return {
    name: NAME,
    events: ['NodeAdd', 'NodeTaintChange'],
    filter(_state, pod, node) {
      if (!node.taints.length) return Status.success();
      const taint = findUntoleratedTaint(node.taints, pod.pod.spec.tolerations ?? [], ['NoSchedule', 'NoExecute']);
      return taint ? Status.unresolvable(untoleratedTaintReason(taint.key, taint.value)) : Status.success();
    },
    preScore(state, pod) {
      state.write(
        PREFER_TOLERATIONS,
        (pod.pod.spec.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule'),
      );
      return Status.success();
    },
    score(state, _pod, node) {
      if (!node.taints.length) return 0;
      const tols = state.read(PREFER_TOLERATIONS) ?? [];
      let n = 0;
      for (const taint of node.taints) if (taint.effect === 'PreferNoSchedule' && !tols.some((t) => tolerates(t, taint))) n++;
      return n;
    },
    normalizeScores(_state, _pod, scores) {
      defaultNormalizeScore(scores, true);
    },
  };
}
