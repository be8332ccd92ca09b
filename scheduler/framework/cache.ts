// The scheduler cache: nodes with their pods and requested resources, including pods assumed onto a node the moment
// they are chosen (so the next decision sees them) and forgotten if their binding fails. A scheduling cycle runs
// synchronously, so the cache itself is the snapshot that cycle sees: no event can change it mid-cycle.
import type { Node, Pod } from '../../api/index.js';
import { NodeInfo, PodInfo, podKey } from './node-info.js';
import type { Snapshot } from './types.js';

interface PodState {
  pi: PodInfo;
  nodeName: string;
  assumed: boolean;
}

export class SchedulerCache implements Snapshot {
  private readonly nodes = new Map<string, NodeInfo>();
  private nodeList: NodeInfo[] | undefined;
  private readonly pods = new Map<string, PodState>();
  private readonly imageCounts = new Map<string, number>();
  private affinityPods = 0;

  // ---- Snapshot ----

  /** Nodes that exist (a NodeInfo may outlive its Node while its pods are still being deleted). */
  list(): readonly NodeInfo[] {
    this.nodeList ??= [...this.nodes.values()].filter((n) => n.node);
    return this.nodeList;
  }

  get(name: string): NodeInfo | undefined {
    const n = this.nodes.get(name);
    return n?.node ? n : undefined;
  }

  imageNodeCount(image: string): number {
    return this.imageCounts.get(image) ?? 0;
  }

  get podsWithAffinity(): number {
    return this.affinityPods;
  }

  // ---- nodes ----

  addNode(node: Node): void {
    const name = node.metadata?.name ?? '';
    let ni = this.nodes.get(name);
    if (!ni) {
      ni = new NodeInfo(name);
      this.nodes.set(name, ni);
    }
    this.countImages(ni, -1);
    const existed = !!ni.node;
    ni.setNode(node);
    this.countImages(ni, 1);
    if (!existed) this.nodeList = undefined;
  }

  updateNode(node: Node): void {
    this.addNode(node);
  }

  removeNode(node: Node): void {
    const name = node.metadata?.name ?? '';
    const ni = this.nodes.get(name);
    if (!ni) return;
    this.countImages(ni, -1);
    if (ni.pods.size === 0) this.nodes.delete(name);
    else ni.node = undefined;
    this.nodeList = undefined;
  }

  private countImages(ni: NodeInfo, d: number): void {
    if (!ni.node) return;
    for (const img of ni.images.keys()) {
      const n = (this.imageCounts.get(img) ?? 0) + d;
      if (n > 0) this.imageCounts.set(img, n);
      else this.imageCounts.delete(img);
    }
  }

  // ---- pods ----

  /** Records a pod the API says is on a node; confirms it if it was assumed. */
  addPod(pod: Pod): void {
    const nodeName = pod.spec.nodeName;
    if (!nodeName) return;
    const key = podKey(pod);
    const cur = this.pods.get(key);
    if (cur) this.removeState(key, cur);
    this.place(key, new PodInfo(pod), nodeName, false);
  }

  updatePod(pod: Pod): void {
    this.addPod(pod);
  }

  removePod(pod: Pod): void {
    const key = podKey(pod);
    const cur = this.pods.get(key);
    if (cur) this.removeState(key, cur);
  }

  /** Places a pod on the node it was just assigned to, before the binding is written. */
  assumePod(pi: PodInfo, nodeName: string): void {
    const cur = this.pods.get(pi.key);
    if (cur) throw new Error(`pod ${pi.name} is already in the cache`);
    this.place(pi.key, pi, nodeName, true);
  }

  /** Undoes assumePod after a failed binding (unless the API already reported the pod placed). */
  forgetPod(pi: PodInfo): void {
    const cur = this.pods.get(pi.key);
    if (cur?.assumed) this.removeState(pi.key, cur);
  }

  isAssumed(pod: Pod): boolean {
    return this.pods.get(podKey(pod))?.assumed ?? false;
  }

  /** Where the cache has the pod: confirmed or assumed. */
  nodeOf(pod: Pod): string | undefined {
    return this.pods.get(podKey(pod))?.nodeName;
  }

  get podCount(): number {
    return this.pods.size;
  }

  private place(key: string, pi: PodInfo, nodeName: string, assumed: boolean): void {
    let ni = this.nodes.get(nodeName);
    if (!ni) {
      ni = new NodeInfo(nodeName);
      this.nodes.set(nodeName, ni);
    }
    ni.addPod(pi);
    if (pi.hasAffinity) this.affinityPods++;
    this.pods.set(key, { pi, nodeName, assumed });
  }

  private removeState(key: string, st: PodState): void {
    this.pods.delete(key);
    const ni = this.nodes.get(st.nodeName);
    if (ni?.removePod(key) && st.pi.hasAffinity) this.affinityPods--;
    if (ni && !ni.node && ni.pods.size === 0) this.nodes.delete(st.nodeName);
  }
}
