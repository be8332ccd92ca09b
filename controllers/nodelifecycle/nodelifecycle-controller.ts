// Node lifecycle (pkg/controller/nodelifecycle and tainteviction): a node whose Lease in kube-node-lease (or Ready
// heartbeat) is not renewed within the grace period becomes Ready=Unknown with the unreachable taint (not-ready for
// Ready=False); its pods are marked not ready and evicted once their toleration of the taint runs out.
import { isConflict, isNotFound } from '../../api/errors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import type { Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, ensureIndex, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { rfc3339 } from '../framework/pods.js';
import { LEASES, NODES, PODS, type Lease, type Node, type NodeCondition, type Pod, type Taint } from '../framework/types.js';
import { evictionTime, TAINT_NOT_READY, TAINT_UNREACHABLE } from './taints.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

export interface NodeLifecycleOptions {
  /** Default 40 s (--node-monitor-grace-period). */
  gracePeriodMs?: number;
  /** Default 5 s (--node-monitor-period). */
  monitorPeriodMs?: number;
  workers?: number;
}

interface Health {
  /** Local time of the last observed renewal: clocks of nodes are not trusted. */
  probe: number;
  leaseRenew?: string;
  heartbeat?: string;
}

const PRESSURE = ['MemoryPressure', 'DiskPressure', 'PIDPressure'];

export class NodeLifecycleController extends Controller {
  private readonly gracePeriodMs: number;
  private readonly monitorPeriodMs: number;
  private readonly nodeInformer: Informer<Node>;
  private readonly leaseInformer: Informer<Lease>;
  private readonly podInformer: Informer<Pod>;
  private readonly nodes: ResourceClient<Node>;
  private readonly pods: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  private readonly health = new Map<string, Health>();
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: NodeLifecycleOptions = {}) {
    super({ name: 'node-lifecycle-controller', clock: ctx.clock, workers: opts.workers ?? 1 });
    this.gracePeriodMs = opts.gracePeriodMs ?? 40_000;
    this.monitorPeriodMs = opts.monitorPeriodMs ?? 5_000;
    this.nodeInformer = ctx.informers.for<Node>(NODES);
    this.leaseInformer = ctx.informers.for<Lease>(LEASES, { namespace: NODE_LEASE_NAMESPACE });
    this.podInformer = ctx.informers.for<Pod>(PODS);
    ensureIndex(this.podInformer, 'nodeName', (p) => (p.spec.nodeName ? [p.spec.nodeName] : []), (a, b) => a.spec.nodeName === b.spec.nodeName);
    this.informers = [this.nodeInformer, this.leaseInformer, this.podInformer];
    this.nodes = ctx.rest.resource<Node>(NODES);
    this.pods = ctx.rest.resource<Pod>(PODS);
    this.recorder = ctx.recorder(this.name);

    this.nodeInformer.addEventHandler(this.enqueueOnChange((n) => this.health.delete(n.metadata.name ?? '')));
    const leaseChanged = (l: Lease): void => {
      const name = l.metadata.name ?? '';
      this.observe(name, { leaseRenew: l.spec?.renewTime ?? '' });
      if (this.nodeInformer.indexer.get(name)) this.queue.add(name);
    };
    this.leaseInformer.addEventHandler({ onAdd: leaseChanged, onUpdate: (_o, l) => leaseChanged(l) });
    // A pod that lands on a NoExecute-tainted node needs its eviction scheduled.
    const podChanged = (p: Pod): void => {
      const node = p.spec.nodeName ? this.nodeInformer.indexer.get(p.spec.nodeName) : undefined;
      if (node?.spec?.taints?.some((t) => t.effect === 'NoExecute')) this.queue.add(p.spec.nodeName!);
    };
    this.podInformer.addEventHandler({ onAdd: podChanged, onUpdate: (_o, p) => podChanged(p) });
  }

  /** The local time at which a node was last seen alive (for tests and logs). */
  lastProbe(node: string): number | undefined {
    return this.health.get(node)?.probe;
  }

  /** Records a renewal when the lease's renewTime or the Ready heartbeat differs from the last one seen. */
  private observe(name: string, seen: { leaseRenew?: string; heartbeat?: string }): void {
    const h = this.health.get(name);
    if (!h) {
      this.health.set(name, { probe: this.clock.now(), ...seen });
      return;
    }
    if (seen.leaseRenew !== undefined && seen.leaseRenew !== h.leaseRenew) {
      h.leaseRenew = seen.leaseRenew;
      h.probe = this.clock.now();
    }
    if (seen.heartbeat !== undefined && seen.heartbeat !== h.heartbeat) {
      h.heartbeat = seen.heartbeat;
      h.probe = this.clock.now();
    }
  }

  /** Checks every node each monitor period, as the node monitor loop does. */
  protected override started(signal: AbortSignal): void {
    const tick = (): void => {
      if (signal.aborted) return;
      for (const n of this.nodeInformer.indexer.list()) this.enqueue(n);
      timer = this.clock.setTimer(this.monitorPeriodMs, tick);
    };
    let timer = this.clock.setTimer(this.monitorPeriodMs, tick);
    signal.addEventListener('abort', () => timer.cancel(), { once: true });
  }

  protected async sync(name: string, { log }: SyncContext): Promise<SyncResult | void> {
    const cached = this.nodeInformer.indexer.get(name);
    if (!cached) {
      this.health.delete(name);
      return;
    }
    // Read-only until a write returns a new object: each lease renewal syncs its node, so this path stays O(1) for a
    // healthy node (no copy, no look at its pods).
    let node: Node = cached;
    const now = this.clock.now();
    const lease = this.leaseInformer.indexer.get(`${NODE_LEASE_NAMESPACE}/${name}`);
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    this.observe(name, { heartbeat: ready?.lastHeartbeatTime ?? '', ...(lease ? { leaseRenew: lease.spec?.renewTime ?? '' } : {}) });
    const h = this.health.get(name)!;

    // 1. Health: no renewal within the grace period makes the node's conditions Unknown.
    const expired = now > h.probe + this.gracePeriodMs;
    if (expired && ready?.status !== 'Unknown') {
      node = await this.markUnknown(node, now);
      log.info('node stopped posting status', { node: name, lastSeenMsAgo: now - h.probe });
      void this.recorder.event(objectReference(node, NODES), 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
    }
    const status = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;

    // 2. Taints follow the Ready condition.
    node = await this.reconcileTaints(node, status, now);

    // 3. Pods: marked not ready, then evicted when their tolerations run out.
    let next: number | undefined = expired ? undefined : h.probe + this.gracePeriodMs + 1;
    if (status !== 'True') await this.markPodsNotReady(name, now);
    const taints = node.spec?.taints ?? [];
    if (!taints.some((t) => t.effect === 'NoExecute')) return next !== undefined ? { requeueAfterMs: Math.max(0, next - now) } : undefined;
    for (const pod of this.podInformer.indexer.byIndex('nodeName', name)) {
      if (pod.metadata.deletionTimestamp) continue;
      const at = evictionTime(pod, taints);
      if (at === undefined) continue;
      if (at <= now) {
        await this.evict(pod);
        log.info('evicted pod', { node: name, pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
      } else next = next === undefined ? at : Math.min(next, at);
    }
    if (next !== undefined) return { requeueAfterMs: Math.max(0, next - now) };
  }

  private async markUnknown(node: Node, now: number): Promise<Node> {
    const t = rfc3339(now);
    const conditions: NodeCondition[] = [...(node.status?.conditions ?? [])];
    const set = (type: string, reason: string, message: string): void => {
      const i = conditions.findIndex((c) => c.type === type);
      const cur = conditions[i];
      const next: NodeCondition = { type, status: 'Unknown', reason, message, lastHeartbeatTime: cur?.lastHeartbeatTime ?? t, lastTransitionTime: cur?.status === 'Unknown' ? (cur.lastTransitionTime ?? t) : t };
      if (i >= 0) conditions[i] = next;
      else conditions.push(next);
    };
    const hasReady = conditions.some((c) => c.type === 'Ready');
    if (hasReady) set('Ready', 'NodeStatusUnknown', 'Kubelet stopped posting node status.');
    else set('Ready', 'NodeStatusNeverUpdated', 'Kubelet never posted node status.');
    for (const type of PRESSURE) if (conditions.some((c) => c.type === type)) set(type, 'NodeStatusUnknown', 'Kubelet stopped posting node status.');
    return this.nodes.updateStatus({ ...node, status: { ...(node.status ?? {}), conditions } });
  }

  private async reconcileTaints(node: Node, ready: string | undefined, now: number): Promise<Node> {
    const key = ready === 'Unknown' ? TAINT_UNREACHABLE : ready === 'False' ? TAINT_NOT_READY : undefined;
    const want: Array<{ key: string; effect: Taint['effect'] }> = key ? [{ key, effect: 'NoExecute' }, { key, effect: 'NoSchedule' }] : [];
    const ours = (t: Taint): boolean => t.key === TAINT_UNREACHABLE || t.key === TAINT_NOT_READY;
    const current = node.spec?.taints ?? [];
    const kept = current.filter((t) => !ours(t) || want.some((w) => w.key === t.key && w.effect === t.effect));
    const added = want.filter((w) => !current.some((t) => t.key === w.key && t.effect === w.effect)).map((w): Taint => ({ key: w.key, effect: w.effect, ...(w.effect === 'NoExecute' ? { timeAdded: rfc3339(now) } : {}) }));
    if (!added.length && kept.length === current.length) return node;
    try {
      return await this.nodes.update({ ...node, spec: { ...(node.spec ?? {}), taints: [...kept, ...added] } });
    } catch (err) {
      if (isConflict(err)) throw new Error(`node ${node.metadata.name ?? ''} changed while its taints were updated`);
      throw err;
    }
  }

  private async markPodsNotReady(nodeName: string, now: number): Promise<void> {
    for (const pod of this.podInformer.indexer.byIndex('nodeName', nodeName)) {
      const conditions = pod.status?.conditions ?? [];
      if (!conditions.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      const next = conditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' as const, lastTransitionTime: rfc3339(now) } : c));
      try {
        await this.pods.patch(pod.metadata.namespace, pod.metadata.name ?? '', { status: { conditions: next } }, 'merge', { sub: 'status' });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  private async evict(pod: Pod): Promise<void> {
    void this.recorder.event(objectReference(pod, PODS), 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`);
    try {
      await this.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
