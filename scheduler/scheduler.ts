// The scheduler: informers feed the cache and the queue; one loop pops a pod, runs its profile's framework
// synchronously against the cache, assumes the pod onto the chosen node and hands the binding to a background writer;
// failures become a PodScheduled=False condition, a FailedScheduling event and the per-node diagnosis annotation.
import { Registry } from 'prom-client';
import { DEFAULT_SCHEDULER_NAME, isConflict, isNotFound, nowRFC3339, type Node, type PersistentVolume, type PersistentVolumeClaim, type Pod, type PodCondition } from '../api/index.js';
import {
  EventBroadcaster, InformerFactory, NODES, objectReference, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, cachedForm, type EventRecorder, type ObjectLike, type ResourceClient,
  type RestClient,
} from '../client/index.js';
import { cachedStrings } from '../client/string-pool.js';
import { sharePodParts } from '../client/informer-transform.js';
import { realClock, sleepUnlessAborted, type Clock } from '../lib/clock.js';
import { Limiter } from '../lib/limit.js';
import { logger } from '../lib/logger.js';
import type { SchedulerConfiguration } from './config.js';
import { DIAGNOSIS_ANNOTATION, diagnosisOf } from './diagnosis.js';
import { SchedulerCache } from './framework/cache.js';
import { FitError, NO_NODES_AVAILABLE } from './framework/fit-error.js';
import { podName, type PodInfo } from './framework/node-info.js';
import { Nominator } from './framework/nominator.js';
import { SchedulingQueue, type QueuedPod } from './framework/queue.js';
import { slimPod } from './framework/slim-pod.js';
import { Framework } from './framework/runtime.js';
import { CycleState, type ClusterEvent, type PluginFactory, type SchedulerApi, type Status } from './framework/types.js';
import { InformerVolumeListers } from './framework/volume-listers.js';
import { IN_TREE_PLUGINS } from './plugins/registry.js';
import { SchedulerMetrics, type AttemptResult } from './metrics.js';


export interface ScheduledInfo {
  pod: Pod;
  node: string;
  attempts: number;
  /** Time in the scheduling algorithm for the successful attempt. */
  decisionMs: number;
  /** The binding write itself (not the wait for a free writer). */
  bindMs: number;
  /** From the pod entering the queue to its binding being written. */
  e2eMs: number;
}

export interface SchedulerOptions {
  rest: RestClient;
  config?: SchedulerConfiguration;
  clock?: Clock;
  random?: () => number;
  /** Extra (out-of-tree) plugins by name, next to the in-tree ones. */
  plugins?: Readonly<Record<string, PluginFactory>>;
  /** Binding writes in flight at once (default 32); more wait in memory, decisions never wait for them. */
  bindConcurrency?: number;
  /** Called after each successful binding (metrics, benchmarks). */
  onScheduled?(info: ScheduledInfo): void;
  /** Where the scheduler's metrics go (default: a registry of its own). */
  metrics?: Registry;
}

const isTerminal = (pod: Pod): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
const json = (x: unknown): string => JSON.stringify(x ?? null);

/** What changed on a node that could let pending pods fit. */
export function nodeEvents(oldNode: Node, node: Node): ClusterEvent[] {
  const ev: ClusterEvent[] = [];
  if (json(oldNode.metadata?.labels) !== json(node.metadata?.labels)) ev.push('NodeLabelChange');
  if (json(oldNode.spec?.taints) !== json(node.spec?.taints)) ev.push('NodeTaintChange');
  if (json(oldNode.status?.allocatable ?? oldNode.status?.capacity) !== json(node.status?.allocatable ?? node.status?.capacity)) ev.push('NodeAllocatableChange');
  if (!!oldNode.spec?.unschedulable !== !!node.spec?.unschedulable) ev.push('NodeSpecUnschedulableChange');
  if (json(oldNode.status?.images) !== json(node.status?.images)) ev.push('NodeImageChange');
  return ev;
}

/**
 * Normal events (Scheduled, Preempted) held back while bindings wait for a writer, so that they never take a write
 * from a binding; past this many they are dropped, as kube-scheduler's event broadcaster drops under backlog.
 */
const MAX_DEFERRED_EVENTS = 1000;
/** While bindings are in flight (none waiting), one held-back event is written per this many bindings settled. */
const EVENT_EVERY_BINDS = 8;

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export class Scheduler {
  readonly cache = new SchedulerCache();
  readonly nominator = new Nominator();
  readonly queue: SchedulingQueue;
  /** kube-scheduler's metrics (pending pods per queue, attempts, incoming pods). */
  readonly metrics: SchedulerMetrics;
  readonly profiles = new Map<string, Framework>();
  private readonly informers: InformerFactory;
  /** PreBind steps in flight, and their abort on stop. */
  private readonly preBinding = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly pods: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  private readonly binds: Limiter;
  private readonly clock: Clock;
  private readonly log = logger('scheduler');
  private readonly api: SchedulerApi;
  /** The last event handed to the recorder: it writes them in order, so this settles when all have been written. */
  private lastEvent: Promise<void> = Promise.resolve();
  /** Normal events waiting for the bindings to catch up (see MAX_DEFERRED_EVENTS); one at a time goes to the recorder. */
  private readonly deferredEvents: Array<() => Promise<void>> = [];
  private deferredInFlight = false;
  private droppedEvents = 0;
  private bindsSinceEvent = 0;
  private readonly eventsDrained: Array<() => void> = [];

  constructor(private readonly opts: SchedulerOptions) {
    this.clock = opts.clock ?? realClock;
    const cfg = opts.config ?? {};
    this.metrics = new SchedulerMetrics(opts.metrics ?? new Registry(), () => this.queue.pending);
    this.queue = new SchedulingQueue({
      onIncoming: (queue, event) => this.metrics.incoming(queue, event),
      clock: this.clock,
      initialBackoffMs: (cfg.podInitialBackoffSeconds ?? 1) * 1000,
      maxBackoffMs: (cfg.podMaxBackoffSeconds ?? 10) * 1000,
      eventHelps: (qp, event) => this.profileOf(qp.pi.pod)?.eventHelps(qp.unschedulablePlugins, event) ?? true,
    });
    this.pods = opts.rest.resource<Pod>(PODS);
    this.recorder = new EventBroadcaster(opts.rest, this.clock).recorder({ component: DEFAULT_SCHEDULER_NAME });
    this.binds = new Limiter(opts.bindConcurrency ?? 32, () => {
      this.bindsSinceEvent++;
      this.pumpEvents();
    });
    const pvs = opts.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    const pvcs = opts.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.api = {
      bind: (pod, node) => this.writeBinding(pod, node),
      updateVolume: (pv) => pvs.update(pv),
      updateClaim: (pvc) => pvcs.update(pvc),
      evict: (victim, preemptor, node) => this.evict(victim, preemptor, node),
      setNominatedNodeName: async (pod, node) => {
        await this.pods.patch(pod.metadata?.namespace, pod.metadata?.name ?? '', { status: { nominatedNodeName: node || null } }, 'merge', { sub: 'status' });
      },
    };
    // The caches keep what scheduling reads: pods cut down (slimPod), nothing kept of field ownership, repeated strings once.
    this.informers = new InformerFactory(opts.rest, { clock: this.clock, transform: (ref) => (ref === PODS ? (o: ObjectLike) => sharePodParts(cachedStrings.share(slimPod(o as Pod))) : cachedForm) });
    const volumes = new InformerVolumeListers(this.informers, (e) => this.queue.onEvent(e));
    const registry = { ...IN_TREE_PLUGINS, ...(opts.plugins ?? {}) };
    const deps = { snapshot: this.cache, volumes, clock: this.clock, random: opts.random ?? Math.random, api: this.api, nominator: this.nominator };
    for (const p of cfg.profiles?.length ? cfg.profiles : [{}]) {
      const fwk = new Framework(p, cfg, registry, deps);
      this.profiles.set(fwk.schedulerName, fwk);
    }
    this.wireInformers();
  }

  private profileOf(pod: Pod): Framework | undefined {
    return this.profiles.get(pod.spec.schedulerName ?? DEFAULT_SCHEDULER_NAME);
  }

  private responsibleFor(pod: Pod): boolean {
    return !pod.spec.nodeName && !isTerminal(pod) && !pod.metadata?.deletionTimestamp && this.profiles.has(pod.spec.schedulerName ?? DEFAULT_SCHEDULER_NAME);
  }

  // ---- informers: cache and queue upkeep ----

  private wireInformers(): void {
    const nodes = this.informers.for<Node>(NODES);
    nodes.addEventHandler({
      onAdd: (node) => {
        this.cache.addNode(node);
        this.queue.onEvent('NodeAdd');
      },
      onUpdate: (oldNode, node) => {
        this.cache.updateNode(node);
        for (const e of nodeEvents(oldNode, node)) this.queue.onEvent(e);
      },
      onDelete: (node) => {
        this.cache.removeNode(node);
        this.queue.onEvent('NodeDelete');
      },
    });
    const pods = this.informers.for<Pod>(PODS);
    pods.addEventHandler({
      onAdd: (pod) => this.podAdded(pod),
      onUpdate: (oldPod, pod) => this.podUpdated(oldPod, pod),
      onDelete: (pod) => this.podDeleted(pod),
    });
  }

  private podAdded(pod: Pod): void {
    if (pod.spec.nodeName) {
      if (isTerminal(pod)) return;
      this.cache.addPod(pod);
      this.queue.onEvent('AssignedPodAdd');
    } else if (this.responsibleFor(pod) && !this.cache.isAssumed(pod)) {
      this.queue.add(pod);
      this.nominator.update(pod);
    }
  }

  private podUpdated(oldPod: Pod, pod: Pod): void {
    if (pod.spec.nodeName) {
      if (!oldPod.spec.nodeName) {
        // Bound (by us, or by someone else): it leaves the queue and the nominations.
        this.queue.delete(pod);
        this.nominator.delete(pod);
      }
      if (isTerminal(pod)) {
        this.cache.removePod(pod);
        this.queue.onEvent('AssignedPodDelete');
        return;
      }
      this.cache.updatePod(pod);
      if (!oldPod.spec.nodeName) this.queue.onEvent('AssignedPodAdd');
      else if (json(oldPod.metadata?.labels) !== json(pod.metadata?.labels) || json(oldPod.spec) !== json(pod.spec)) this.queue.onEvent('AssignedPodUpdate');
      return;
    }
    if (this.cache.isAssumed(pod)) return; // its binding is in flight
    if (this.responsibleFor(pod)) {
      this.queue.update(oldPod, pod);
      this.nominator.update(pod);
    } else {
      this.queue.delete(pod);
      this.nominator.delete(pod);
    }
  }

  private podDeleted(pod: Pod): void {
    this.queue.delete(pod);
    this.nominator.delete(pod);
    if (pod.spec.nodeName || this.cache.nodeOf(pod)) {
      this.cache.removePod(pod);
      this.queue.onEvent('AssignedPodDelete');
    }
  }

  // ---- running ----

  startInformers(): void {
    this.informers.start();
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    return this.informers.waitForSync(signal);
  }

  /** Schedules pods until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await this.waitForSync(signal);
    this.log.info('scheduling', { profiles: [...this.profiles.keys()], nodes: this.cache.list().length });
    while (!signal.aborted) {
      const qp = await this.queue.pop(signal);
      if (!qp) break;
      try {
        await this.scheduleOne(qp);
      } catch (err) {
        this.log.error('scheduling attempt failed', { pod: qp.pi.name, error: String(err) });
        this.attemptEnded(qp, 'error');
        this.queue.addBackoff(qp);
        this.recordFailure(qp.pi, 'SchedulerError', String(err instanceof Error ? err.message : err));
      }
      // Let watch events and binding responses in between pods, so that each decision sees a fresh cache.
      await yieldToEventLoop();
    }
  }

  /** Stops the informers and waits for bindings in flight (PreBind waits are cut short). */
  async stop(): Promise<void> {
    this.queue.close();
    this.stopping.abort(new Error('scheduler stopped'));
    await Promise.all([...this.preBinding]);
    await this.binds.idle();
    await this.flushEvents();
    await this.informers.stop();
  }

  /** One scheduling attempt. The algorithm runs synchronously: no informer event can change the cache meanwhile. */
  async scheduleOne(qp: QueuedPod): Promise<void> {
    const pi = qp.pi;
    const fwk = this.profileOf(pi.pod);
    if (!fwk || !this.responsibleFor(pi.pod) || this.cache.nodeOf(pi.pod)) {
      this.queue.done(qp);
      return;
    }
    const state = new CycleState();
    const t0 = performance.now();
    qp.attemptStartedAt = t0;
    if (this.cache.list().length === 0) {
      this.attemptEnded(qp, 'unschedulable');
      this.queue.addUnschedulable(qp, []);
      this.recordFailure(pi, 'Unschedulable', NO_NODES_AVAILABLE);
      return;
    }
    const result = fwk.schedule(state, pi);
    if ('fitError' in result) {
      const fe = result.fitError;
      const post = await fwk.runPostFilter(state, pi, fe.statuses);
      if (!post.status.isSuccess() && post.status.message) fe.postFilterMsg = post.status.message;
      let nominated: string | undefined;
      if (post.nominatedNodeName !== undefined) {
        nominated = post.nominatedNodeName;
        this.nominator.set(pi, nominated);
      }
      this.attemptEnded(qp, 'unschedulable');
      this.queue.addUnschedulable(qp, fe.unschedulablePlugins);
      if (this.log.isDebugEnabled()) this.log.debug('pod unschedulable', { pod: pi.name, message: fe.message });
      this.recordFailure(pi, 'Unschedulable', fe.message, fe, nominated);
      return;
    }
    const node = result.node;
    this.cache.assumePod(pi, node);
    const reserved = fwk.runReserve(state, pi, node);
    if (!reserved.isSuccess()) {
      this.cache.forgetPod(pi);
      this.attemptEnded(qp, 'error');
      this.queue.addBackoff(qp);
      this.recordFailure(pi, 'SchedulerError', `running Reserve plugin ${JSON.stringify(reserved.plugin)}: ${reserved.message}`);
      return;
    }
    this.queue.done(qp);
    this.nominator.delete(pi.pod);
    const decisionMs = performance.now() - t0;
    if (fwk.needsPreBind(state, pi, node)) this.preBindThenBind(fwk, state, qp, node, decisionMs);
    else this.bindInBackground(fwk, state, qp, node, decisionMs);
  }

  private bindInBackground(fwk: Framework, state: CycleState, qp: QueuedPod, node: string, decisionMs: number): void {
    void this.binds.run(() => this.bind(fwk, state, qp, node, decisionMs)).catch((err: unknown) => this.log.error('binding task failed', { pod: qp.pi.name, node, error: String(err) }));
  }

  /**
   * PreBind (volumes: write the claims' bindings, then wait until the claims are bound) runs outside the binding
   * writers' limit: a pod that waits for its volume must not hold a writer other pods need.
   */
  private preBindThenBind(fwk: Framework, state: CycleState, qp: QueuedPod, node: string, decisionMs: number): void {
    const run = (async (): Promise<void> => {
      const st = await fwk.runPreBind(state, qp.pi, node, this.stopping.signal);
      if (st.isSuccess()) this.bindInBackground(fwk, state, qp, node, decisionMs);
      else this.bindingFailed(fwk, state, qp, node, st, `running PreBind plugin ${JSON.stringify(st.plugin)}: ${st.message}`);
    })().catch((err: unknown) => {
      this.log.error('pre-binding task failed', { pod: qp.pi.name, node, error: String(err) });
    });
    this.preBinding.add(run);
    void run.finally(() => this.preBinding.delete(run));
  }

  private async bind(fwk: Framework, state: CycleState, qp: QueuedPod, node: string, decisionMs: number): Promise<void> {
    const pi = qp.pi;
    const t0 = performance.now();
    const st = await fwk.runBind(state, pi, node);
    if (st.isSuccess()) {
      const pod = pi.pod;
      this.attemptEnded(qp, 'scheduled');
      // winston formats a line before its transport drops it by level: ask first on this path.
      if (this.log.isDebugEnabled()) this.log.debug('pod bound', { pod: pi.name, node, decisionMs });
      this.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${podName(pod)} to ${node}`);
      if (pod.metadata?.annotations?.[DIAGNOSIS_ANNOTATION] !== undefined) {
        this.write('clearing the diagnosis', pi, () =>
          this.pods.patch(pod.metadata?.namespace, pod.metadata?.name ?? '', { metadata: { annotations: { [DIAGNOSIS_ANNOTATION]: null } } }, 'merge'),
        );
      }
      this.opts.onScheduled?.({ pod, node, attempts: qp.attempts, decisionMs, bindMs: performance.now() - t0, e2eMs: this.clock.now() - qp.initialTimestamp });
      return;
    }
    this.bindingFailed(fwk, state, qp, node, st, `binding rejected: ${st.message}`);
  }

  /** A failed PreBind or binding: the node's room is free again, and the pod retries after its backoff (unless it is gone). */
  private bindingFailed(fwk: Framework, state: CycleState, qp: QueuedPod, node: string, st: Status, message: string): void {
    const pi = qp.pi;
    this.cache.forgetPod(pi);
    this.attemptEnded(qp, 'error');
    fwk.runUnreserve(state, pi, node);
    this.queue.onEvent('AssignedPodDelete');
    const err = st.error;
    if (isNotFound(err) || isConflict(err) || this.stopping.signal.aborted) {
      this.log.info('binding rejected; not retrying', { pod: pi.name, node, error: st.message });
      return;
    }
    this.log.warn('binding failed; retrying', { pod: pi.name, node, error: st.message });
    this.queue.addBackoff(qp);
    this.recordFailure(pi, 'SchedulerError', message);
  }

  /** Counts an attempt's end in scheduler_schedule_attempts_total and its duration. */
  private attemptEnded(qp: QueuedPod, result: AttemptResult): void {
    const started = qp.attemptStartedAt;
    const profile = qp.pi.pod.spec.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.metrics.attempt(result, profile, started === undefined ? 0 : (performance.now() - started) / 1000);
  }

  // ---- API writes ----

  private async writeBinding(pod: Pod, node: string): Promise<void> {
    const m = pod.metadata ?? {};
    await this.opts.rest.request('POST', this.pods.path(m.namespace, m.name, 'binding'), {
      body: {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: m.name, namespace: m.namespace, ...(m.uid ? { uid: m.uid } : {}) },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      },
    });
  }

  private async evict(victim: Pod, preemptor: Pod, node: string): Promise<void> {
    const ns = victim.metadata?.namespace;
    const name = victim.metadata?.name ?? '';
    const condition: PodCondition = {
      type: 'DisruptionTarget',
      status: 'True',
      reason: 'PreemptionByScheduler',
      message: `${preemptor.spec.schedulerName ?? DEFAULT_SCHEDULER_NAME}: preempting to accommodate a higher priority pod`,
      lastTransitionTime: nowRFC3339(new Date(this.clock.now())),
    };
    try {
      await this.pods.patch(ns, name, { status: { conditions: [condition] } }, 'strategic', { sub: 'status' });
      await this.pods.delete(ns, name, victim.metadata?.uid ? { preconditions: { uid: victim.metadata.uid } } : {});
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return;
    }
    this.log.info('preempted', { victim: podName(victim), preemptor: podName(preemptor), node });
    this.event(victim, 'Normal', 'Preempted', `Preempted by pod ${preemptor.metadata?.uid ?? podName(preemptor)} on node ${node}`);
  }

  /** PodScheduled=False with the message, a FailedScheduling event, and the diagnosis annotation; written in the background. */
  private recordFailure(pi: PodInfo, reason: 'Unschedulable' | 'SchedulerError', message: string, fe?: FitError, nominated?: string): void {
    const pod = pi.pod;
    this.event(pod, 'Warning', 'FailedScheduling', message);
    const cur = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    const statusPatch: Record<string, unknown> = {};
    if (cur?.status !== 'False' || cur.reason !== reason || cur.message !== message) {
      const cond: PodCondition = { type: 'PodScheduled', status: 'False', reason, message, lastTransitionTime: cur?.status === 'False' && cur.lastTransitionTime ? cur.lastTransitionTime : nowRFC3339(new Date(this.clock.now())) };
      statusPatch.conditions = [cond];
    }
    if (nominated !== undefined && (pod.status?.nominatedNodeName ?? '') !== nominated) statusPatch.nominatedNodeName = nominated || null;
    const ns = pod.metadata?.namespace;
    const name = pod.metadata?.name ?? '';
    if (Object.keys(statusPatch).length) this.write('updating the pod condition', pi, () => this.pods.patch(ns, name, { status: statusPatch }, 'strategic', { sub: 'status' }));
    if (fe) {
      const diag = JSON.stringify(diagnosisOf(fe));
      if (pod.metadata?.annotations?.[DIAGNOSIS_ANNOTATION] !== diag) {
        this.write('writing the diagnosis', pi, () => this.pods.patch(ns, name, { metadata: { annotations: { [DIAGNOSIS_ANNOTATION]: diag } } }, 'merge'));
      }
    }
  }

  /**
   * Warnings go to the recorder at once (it limits them per pod). Normal events are low priority: they wait while
   * bindings are backlogged and are written one at a time, so every write slot goes to bindings under load; past
   * MAX_DEFERRED_EVENTS they are dropped.
   */
  private event(pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const ref = objectReference(pod, PODS);
    if (type === 'Warning') {
      this.lastEvent = this.recorder.event(ref, type, reason, message);
      return;
    }
    if (this.deferredEvents.length >= MAX_DEFERRED_EVENTS) {
      if (this.droppedEvents++ === 0) this.log.warn('bindings backlogged: dropping Normal events', { pending: this.deferredEvents.length });
      return;
    }
    this.deferredEvents.push(() => this.recorder.event(ref, type, reason, message));
    this.pumpEvents();
  }

  private pumpEvents(): void {
    if (this.deferredInFlight) return;
    if (this.deferredEvents.length === 0) {
      if (this.droppedEvents > 0) this.log.info('Normal events dropped while bindings were backlogged', { dropped: this.droppedEvents });
      this.droppedEvents = 0;
      for (const w of this.eventsDrained.splice(0)) w();
      return;
    }
    // While bindings are being written, one event per EVENT_EVERY_BINDS settled; none while they wait for a writer.
    if (this.binds.backlogged) return; // resumed when a binding settles
    if (this.binds.busy && this.bindsSinceEvent < EVENT_EVERY_BINDS) return;
    this.bindsSinceEvent = 0;
    const write = this.deferredEvents.shift()!;
    this.deferredInFlight = true;
    const written = write();
    this.lastEvent = written;
    void written.finally(() => {
      this.deferredInFlight = false;
      this.pumpEvents();
    });
  }

  /** Resolves when the events recorded so far are written (or failed), or after maxMs. */
  async flushEvents(maxMs = 5000): Promise<void> {
    const timer = new AbortController();
    const drained = this.deferredEvents.length === 0 && !this.deferredInFlight ? Promise.resolve() : new Promise<void>((r) => this.eventsDrained.push(r));
    await Promise.race([drained.then(() => this.lastEvent), sleepUnlessAborted(this.clock, maxMs, timer.signal)]);
    timer.abort();
  }

  private write(what: string, pi: PodInfo, fn: () => Promise<unknown>): void {
    fn().catch((err: unknown) => {
      if (!isNotFound(err)) this.log.warn(`${what} failed`, { pod: pi.name, error: String(err) });
    });
  }
}
