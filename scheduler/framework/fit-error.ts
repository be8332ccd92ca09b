// Why a pod fits nowhere, worded as Kubernetes words it:
// "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: ...".
import type { Status } from './types.js';

export const NO_NODES_AVAILABLE = 'no nodes available to schedule pods';

/** " %v." with the message's own final period dropped, so that nested messages do not end in "..". */
const sep = (msg: string): string => ` ${msg.replace(/\.$/, '')}.`;

export class FitError {
  preFilterMsg = '';
  postFilterMsg = '';

  constructor(
    readonly numAllNodes: number,
    /** Node name -> the status of the plugin that rejected it. */
    readonly statuses: Map<string, Status>,
  ) {}

  /** The plugins that rejected the pod somewhere: the queue moves it on events these plugins registered for. */
  get unschedulablePlugins(): Set<string> {
    const s = new Set<string>();
    for (const st of this.statuses.values()) if (st.plugin) s.add(st.plugin);
    return s;
  }

  /** Reason -> number of nodes, as in the message. */
  histogram(): Map<string, number> {
    const h = new Map<string, number>();
    for (const st of this.statuses.values()) for (const r of st.reasons) h.set(r, (h.get(r) ?? 0) + 1);
    return h;
  }

  get message(): string {
    let msg = `0/${this.numAllNodes} nodes are available:`;
    if (this.preFilterMsg) msg += sep(this.preFilterMsg);
    else {
      // sort.Strings over "<count> <reason>", as FitError.Error() does.
      const parts = [...this.histogram()].map(([r, n]) => `${n} ${r}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (parts.length) msg += sep(parts.join(', '));
    }
    if (this.postFilterMsg) msg += sep(this.postFilterMsg);
    return msg;
  }
}
