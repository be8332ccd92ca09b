// Pending pods nominated to a node by preemption: while their victims terminate, lower-priority pods must not take
// the room they freed.
import type { Pod } from '../../api/index.js';
import { PodInfo, podKey } from './node-info.js';

export class Nominator {
  private readonly byNode = new Map<string, Map<string, PodInfo>>();
  private readonly nodeOf = new Map<string, string>();

  /** Records pod as nominated to nodeName ('' or undefined: to none). */
  set(pod: Pod | PodInfo, nodeName: string | undefined): void {
    if (!nodeName) {
      this.delete(pod instanceof PodInfo ? pod.pod : pod);
      return;
    }
    const pi = pod instanceof PodInfo ? pod : new PodInfo(pod);
    this.delete(pi.pod);
    let m = this.byNode.get(nodeName);
    if (!m) this.byNode.set(nodeName, (m = new Map()));
    m.set(pi.key, pi);
    this.nodeOf.set(pi.key, nodeName);
  }

  /** Follows a pending pod's status.nominatedNodeName. */
  update(pod: Pod): void {
    this.set(pod, pod.status?.nominatedNodeName);
  }

  delete(pod: Pod): void {
    const key = podKey(pod);
    const node = this.nodeOf.get(key);
    if (node === undefined) return;
    this.nodeOf.delete(key);
    const m = this.byNode.get(node);
    m?.delete(key);
    if (m && !m.size) this.byNode.delete(node);
  }

  nominatedNode(pod: Pod): string | undefined {
    return this.nodeOf.get(podKey(pod));
  }

  /** Whether any pod is nominated to the node (cheap: asked once per node per scheduling cycle). */
  hasPodsOn(nodeName: string): boolean {
    return this.byNode.size > 0 && this.byNode.has(nodeName);
  }

  podsOn(nodeName: string): readonly PodInfo[] {
    const m = this.byNode.get(nodeName);
    return m ? [...m.values()] : [];
  }
}
