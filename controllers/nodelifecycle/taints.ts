// Taints and tolerations for node lifecycle: which NoExecute taints a pod tolerates and for how long.
import { tolerates } from '../../api/node-selection.js';
import type { Pod, Taint } from '../framework/types.js';

export { tolerates };

export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
/** What the DefaultTolerationSeconds admission plugin gives every pod for the two taints above. */
export const DEFAULT_TOLERATION_SECONDS = 300;

/**
 * When a pod on a node with these NoExecute taints must go: 0 at once, a time in ms, or undefined for never.
 * A pod with no toleration for not-ready/unreachable gets the admission default (300 s), as the API server would add.
 */
export function evictionTime(pod: Pod, taints: Taint[]): number | undefined {
  let at: number | undefined;
  let never = true;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    never = false;
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : 0;
    const matching = (pod.spec.tolerations ?? []).filter((t) => tolerates(t, taint));
    let seconds: number | undefined;
    if (!matching.length) {
      if (taint.key !== TAINT_UNREACHABLE && taint.key !== TAINT_NOT_READY) return 0;
      seconds = DEFAULT_TOLERATION_SECONDS;
    } else {
      const bounded = matching.filter((t) => t.tolerationSeconds !== undefined).map((t) => Math.max(0, t.tolerationSeconds ?? 0));
      if (bounded.length < matching.length) continue; // tolerated forever
      seconds = Math.min(...bounded);
    }
    const when = added + seconds * 1000;
    at = at === undefined ? when : Math.min(at, when);
  }
  return never ? undefined : at;
}
