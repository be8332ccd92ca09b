// NodeAffinity: spec.nodeSelector and required node affinity filter nodes; preferred node affinity scores them
// (the sum of the weights of the matching terms, scaled so the best node gets the maximum).
import type { NodeAffinity } from '../../../api/index.js';
import { Status, stateKey, type FilterPlugin, type PreFilterPlugin, type PreScorePlugin, type ScorePlugin } from '../../framework/types.js';
import { defaultNormalizeScore, podMatchesNodeSelectorAndAffinity, termMatchesNode } from '../helpers.js';

export const NAME = 'NodeAffinity';
export const ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector";
type PreferredSchedulingTerm = NonNullable<NodeAffinity['preferredDuringSchedulingIgnoredDuringExecution']>[number];
const PREFERRED = stateKey<PreferredSchedulingTerm[]>(`PreScore${NAME}`);

export function nodeAffinity(): PreFilterPlugin & FilterPlugin & PreScorePlugin & ScorePlugin {
  return {
    name: NAME,
    events: ['NodeAdd', 'NodeLabelChange'],
    preFilter(_state, pod) {
      const s = pod.pod.spec;
      const hasSelector = Object.keys(s.nodeSelector ?? {}).length > 0;
      return hasSelector || s.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ? Status.success() : Status.skip();
    },
    filter(_state, pod, node) {
      if (!node.node) return Status.unresolvable(ERR_REASON_POD);
      return podMatchesNodeSelectorAndAffinity(pod.pod, node.node) ? Status.success() : Status.unresolvable(ERR_REASON_POD);
    },
    preScore(state, pod) {
      const terms = pod.pod.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
      if (!terms.length) return Status.skip();
      state.write(PREFERRED, terms);
      return Status.success();
    },
    score(state, _pod, node) {
      let sum = 0;
      for (const t of state.read(PREFERRED) ?? []) if (t.weight && node.node && termMatchesNode(t.preference, node.node)) sum += t.weight;
      return sum;
    },
    normalizeScores(_state, _pod, scores) {
      defaultNormalizeScore(scores);
    },
  };
}
