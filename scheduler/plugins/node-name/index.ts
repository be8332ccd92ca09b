// NodeName: a pod that names its node (spec.nodeName) fits only that node.
import { Status, type FilterPlugin } from '../../framework/types.js';

export const NAME = 'NodeName';
export const ERR_REASON = "node(s) didn't match the requested node name";

export function nodeName(): FilterPlugin {
  return {
    name: NAME,
    events: ['NodeAdd'],
    filter(_state, pod, node) {
      const want = pod.pod.spec.nodeName;
      return !want || want === node.name ? Status.success() : Status.unresolvable(ERR_REASON);
    },
  };
}
