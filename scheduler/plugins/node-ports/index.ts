// NodePorts: a pod's hostPorts must be free on the node (same protocol and port, and either address is 0.0.0.0 or
// both are the same).
import type { HostPort } from '../../framework/node-info.js';
import { Status, type FilterPlugin, type PreFilterPlugin } from '../../framework/types.js';

export const NAME = 'NodePorts';
export const ERR_REASON = "node(s) didn't have free ports for the requested pod ports";

const ANY = '0.0.0.0';
const conflicts = (a: HostPort, b: HostPort): boolean =>
  a.port === b.port && a.protocol === b.protocol && (a.ip === ANY || b.ip === ANY || a.ip === b.ip);

export function nodePorts(): PreFilterPlugin & FilterPlugin {
  return {
    name: NAME,
    events: ['NodeAdd', 'AssignedPodDelete'],
    preFilter(_state, pod) {
      return pod.hostPorts.length ? Status.success() : Status.skip();
    },
    filter(_state, pod, node) {
      for (const want of pod.hostPorts) for (const used of node.usedPorts) if (conflicts(want, used)) return Status.unschedulable(ERR_REASON);
      return Status.success();
    },
  };
}
