// Helpers shared by several plugins: tolerations, node selector terms, and score normalization.
import { MAX_NODE_SCORE, type NodeScore } from '../framework/types.js';

export { findUntoleratedTaint, podMatchesNodeSelectorAndAffinity, termMatchesNode, tolerates } from '../../api/node-selection.js';

/** Scales scores so that the highest becomes MAX_NODE_SCORE (reverse: the highest becomes 0), as DefaultNormalizeScore. */
export function defaultNormalizeScore(scores: NodeScore[], reverse = false): void {
  let max = 0;
  for (const s of scores) max = Math.max(max, s.score);
  if (max === 0) {
    if (reverse) for (const s of scores) s.score = MAX_NODE_SCORE;
    return;
  }
  for (const s of scores) {
    const v = Math.floor((MAX_NODE_SCORE * s.score) / max);
    s.score = reverse ? MAX_NODE_SCORE - v : v;
  }
}

/** Narrowing helpers for pluginConfig args (unknown YAML). */
export function numberArg(args: Record<string, unknown>, key: string, fallback: number): number {
  const v = args[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}
