// Test support for controllers whose pods land on nodes: fake Node objects (no agent behind them: a fake is the point
// here) and a fake kubelet that reports the pods bound to them Running and Ready through the status subresource and
// finishes their graceful deletion, as a node agent would once the containers stopped.
import { Informer, type ResourceClient, type RestClient } from '../../client/index.js';
import { isPodReady } from '../../controllers/framework/pods.js';
import { NODES, PODS, type Node, type Pod } from '../../controllers/framework/types.js';
import { setPodReady } from './harness.js';

export interface FakeNode {
  name: string;
  labels?: Record<string, string>;
  taints?: NonNullable<Node['spec']>['taints'];
}

/** Registers nodes with capacity and a Ready condition, as an agent registers its node. */
export async function registerNodes(rest: RestClient, nodes: FakeNode[]): Promise<void> {
  const api = rest.resource<Node>(NODES);
  const capacity = { cpu: '4', memory: '8Gi', pods: '110' };
  await Promise.all(
    nodes.map((n) =>
      api.create(undefined, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, ...(n.labels ?? {}) } },
        spec: n.taints ? { taints: n.taints } : {},
        status: { capacity, allocatable: capacity, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] },
      }),
    ),
  );
}

export async function deleteNodes(rest: RestClient, names: string[]): Promise<void> {
  const api = rest.resource<Node>(NODES);
  await Promise.all(names.map((n) => api.delete(undefined, n).catch(() => undefined)));
}

/**
 * Reports the pods of a namespace that are bound to a node Running, and Ready when ready(pod) allows (now or when
 * markReady is called); deletes pods that are being deleted at once, with grace period 0.
 */
export class FakeKubelet {
  readonly informer: Informer<Pod>;
  private readonly pods: ResourceClient<Pod>;
  private readonly ready: (pod: Pod) => boolean;
  private readonly onlyBound: boolean;
  private readonly pending = new Set<Promise<unknown>>();
  /** Names of the pods seen, in the order they appeared. */
  readonly seen: string[] = [];

  /** opts.onlyBound false: pods need no node (no scheduler in the test). */
  constructor(rest: RestClient, namespace: string, opts: { ready?: (pod: Pod) => boolean; onlyBound?: boolean } = {}) {
    this.pods = rest.resource<Pod>(PODS);
    this.ready = opts.ready ?? (() => true);
    this.onlyBound = opts.onlyBound ?? true;
    this.informer = new Informer<Pod>(this.pods, { namespace });
    this.informer.addEventHandler({
      onAdd: (pod) => {
        this.seen.push(pod.metadata.name ?? '');
        this.handle(pod);
      },
      onUpdate: (_old, pod) => this.handle(pod),
    });
  }

  private track(p: Promise<unknown>): void {
    const t = p.catch(() => undefined); // the pod may be gone already: nothing to report on
    this.pending.add(t);
    void t.finally(() => this.pending.delete(t));
  }

  private handle(pod: Pod): void {
    if (pod.metadata.deletionTimestamp) {
      this.track(this.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid ?? '' } }));
      return;
    }
    if ((this.onlyBound && !pod.spec.nodeName) || isPodReady(pod) || !this.ready(pod)) return;
    this.track(setPodReady(this.pods, pod));
  }

  /** Marks a pod Running and Ready now (for pods that ready() held back). */
  async markReady(name: string): Promise<void> {
    const pod = this.informer.indexer.list().find((p) => p.metadata.name === name);
    if (!pod) throw new Error(`no pod ${name}`);
    await setPodReady(this.pods, pod);
  }

  start(): Promise<void> {
    this.informer.start();
    return this.informer.waitForSync();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
    await Promise.all([...this.pending]);
  }
}
