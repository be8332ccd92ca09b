// The scheduling queue: an active heap (priority, then arrival), a backoff heap (1 s doubling to 10 s by default) and
// an unschedulable set. Pods leave the unschedulable set when a cluster event arrives that one of the plugins that
// rejected them registered for (a node added, a pod deleted, ...), or when they have waited there longer than
// podMaxInUnschedulableMs (kube's flushUnschedulablePodsLeftover: every 30 s, pods unschedulable for over 5 min get
// another try, in case an event that would have helped them was missed). The unschedulable pods are filed by the
// events that can help them when they fail, so that an event (one per binding) looks only at the pods it may help,
// not at every unschedulable pod.
import type { Pod } from '../../api/index.js';
import { deepEqual } from '../../api/field.js';
import { exponentialDelay } from '../../lib/backoff.js';
import { every, realClock, type Clock, type TimerHandle } from '../../lib/clock.js';
import { KeyedHeap } from './heap.js';
import { PodInfo, podKey } from './node-info.js';
import { ALL_EVENTS, type ClusterEvent } from './types.js';

export interface QueuedPod {
  pi: PodInfo;
  /** When the pod entered the active or backoff queue: ties in priority go first-come first-served. */
  timestamp: number;
  /** When the pod was first queued (for latency metrics). */
  initialTimestamp: number;
  attempts: number;
  /** When the last attempt failed; backoff counts from here. */
  failedAt: number;
  /** The plugins that rejected the pod in its last attempt; empty means any event may help. */
  unschedulablePlugins: Set<string>;
  /** performance.now() when the current attempt started (scheduler_scheduling_attempt_duration_seconds). */
  attemptStartedAt?: number;
}

export interface QueueOptions {
  clock?: Clock;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a pod may stay unschedulable before it is tried again without an event (kube: 5 min). */
  podMaxInUnschedulableMs?: number;
  /** Whether a cluster event can help a pod that qp.unschedulablePlugins (never empty here) rejected. */
  eventHelps?(qp: QueuedPod, event: ClusterEvent): boolean;
  /** A pod entered a queue, and why (scheduler_queue_incoming_pods_total's labels). */
  onIncoming?(queue: QueueName, event: IncomingEvent): void;
}

export type QueueName = 'active' | 'backoff' | 'unschedulable' | 'gated';
/** kube-scheduler's event labels: the pod's own add or update, a failed attempt, a backoff over, or a cluster event. */
export type IncomingEvent = 'PodAdd' | 'PodUpdate' | 'ScheduleAttemptFailure' | 'BackoffComplete' | 'UnschedulableTimeout' | ClusterEvent;

/** kube-scheduler's DefaultPodMaxInUnschedulablePodsDuration. */
export const DEFAULT_POD_MAX_IN_UNSCHEDULABLE_MS = 5 * 60_000;
/** How often the unschedulable pods are looked at for ones that waited too long (kube: every 30 s). */
export const UNSCHEDULABLE_FLUSH_PERIOD_MS = 30_000;

interface InFlight {
  qp: QueuedPod;
  /** Set when the pod's spec or labels changed during the attempt. */
  updated: boolean;
  cycle: number;
}

/** Whether an update can change the scheduling outcome: spec or labels (not status, annotations, resourceVersion). */
export function podUpdateMatters(oldPod: Pod, newPod: Pod): boolean {
  // Compared in place, not serialized: every pod update asks (most share their spec and labels with the old state).
  return !deepEqual(oldPod.spec, newPod.spec) || !deepEqual(oldPod.metadata?.labels ?? {}, newPod.metadata?.labels ?? {});
}

const gated = (pod: Pod): boolean => (pod.spec.schedulingGates?.length ?? 0) > 0;

export class SchedulingQueue {
  private readonly clock: Clock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly podMaxInUnschedulableMs: number;
  private readonly leftoverFlush: TimerHandle;
  private readonly eventHelps: (qp: QueuedPod, event: ClusterEvent) => boolean;
  private readonly incoming: (queue: QueueName, event: IncomingEvent) => void;
  private readonly active = new KeyedHeap<QueuedPod>(
    (a, b) => a.pi.priority > b.pi.priority || (a.pi.priority === b.pi.priority && a.timestamp < b.timestamp),
    (q) => q.pi.key,
  );
  private readonly backoff = new KeyedHeap<QueuedPod>((a, b) => this.backoffExpiry(a) < this.backoffExpiry(b), (q) => q.pi.key);
  private readonly unschedulable = new Map<string, QueuedPod>();
  /** The unschedulable pods by the events that may help them (filed once, when they fail). */
  private readonly helpedBy = new Map<ClusterEvent, Map<string, QueuedPod>>(ALL_EVENTS.map((e) => [e, new Map()]));
  /** Unschedulable pods looked at by events so far (tests count it). */
  visits = 0;
  /** Pods held back by spec.schedulingGates until the gates are removed. */
  private readonly gatedPods = new Map<string, QueuedPod>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly waiters: Array<(qp: QueuedPod | undefined) => void> = [];
  private backoffTimer: { at: number; handle: TimerHandle } | undefined;
  private closed = false;
  /** Counts pops; an event during an attempt (moveRequestCycle >= the attempt's cycle) sends a failure to backoff. */
  private cycle = 0;
  private moveRequestCycle = -1;

  constructor(opts: QueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.initialBackoffMs = opts.initialBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.podMaxInUnschedulableMs = opts.podMaxInUnschedulableMs ?? DEFAULT_POD_MAX_IN_UNSCHEDULABLE_MS;
    this.eventHelps = opts.eventHelps ?? (() => true);
    this.incoming = opts.onIncoming ?? (() => undefined);
    // flushUnschedulableLeftover cannot throw: there is nothing for the error handler to see.
    this.leftoverFlush = every(this.clock, UNSCHEDULABLE_FLUSH_PERIOD_MS, () => this.flushUnschedulableLeftover(), () => undefined, { delayFirst: true });
  }

  get schedulingCycle(): number {
    return this.cycle;
  }

  /** Counts per queue, for tests, metrics and debugging. */
  get pending(): { active: number; backoff: number; unschedulable: number; gated: number; inFlight: number } {
    return {
      active: this.active.size,
      backoff: this.backoff.size,
      unschedulable: this.unschedulable.size,
      gated: this.gatedPods.size,
      inFlight: this.inFlight.size,
    };
  }

  has(pod: Pod): boolean {
    const k = podKey(pod);
    return this.active.has(k) || this.backoff.has(k) || this.unschedulable.has(k) || this.gatedPods.has(k) || this.inFlight.has(k);
  }

  /** Queues a new pending pod. */
  add(pod: Pod): void {
    if (this.closed) return;
    if (this.has(pod)) return this.update(pod, pod);
    const now = this.clock.now();
    const qp: QueuedPod = { pi: new PodInfo(pod), timestamp: now, initialTimestamp: now, attempts: 0, failedAt: 0, unschedulablePlugins: new Set() };
    if (gated(pod)) {
      this.gatedPods.set(qp.pi.key, qp);
      this.incoming('gated', 'PodAdd');
    } else this.pushActive(qp, 'PodAdd');
  }

  /** A pending pod changed: keep the newest object; an unschedulable pod whose spec or labels changed gets another try. */
  update(oldPod: Pod, newPod: Pod): void {
    if (this.closed) return;
    const key = podKey(newPod);
    const pi = new PodInfo(newPod);
    const fl = this.inFlight.get(key);
    if (fl) {
      fl.qp.pi = pi;
      if (podUpdateMatters(oldPod, newPod)) fl.updated = true;
      return;
    }
    const g = this.gatedPods.get(key);
    if (g) {
      g.pi = pi;
      if (!gated(newPod)) {
        this.gatedPods.delete(key);
        g.timestamp = this.clock.now();
        this.pushActive(g, 'PodUpdate');
      }
      return;
    }
    for (const heap of [this.active, this.backoff]) {
      const qp = heap.get(key);
      if (qp) {
        qp.pi = pi;
        heap.push(qp);
        return;
      }
    }
    const u = this.unschedulable.get(key);
    if (u) {
      u.pi = pi;
      if (podUpdateMatters(oldPod, newPod)) {
        this.unfile(u);
        this.requeue(u, 'PodUpdate');
      }
      return;
    }
    this.add(newPod);
  }

  /** The pod was deleted or bound: it leaves every queue. */
  delete(pod: Pod): void {
    const key = podKey(pod);
    this.active.delete(key);
    this.backoff.delete(key);
    const u = this.unschedulable.get(key);
    if (u) this.unfile(u);
    this.gatedPods.delete(key);
    this.inFlight.delete(key);
  }

  /** The next pod to schedule, highest priority first; waits while the active queue is empty. */
  pop(signal?: AbortSignal): Promise<QueuedPod | undefined> {
    const qp = this.active.pop();
    if (qp) return Promise.resolve(this.startAttempt(qp));
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = (q: QueuedPod | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(q);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private startAttempt(qp: QueuedPod): QueuedPod {
    qp.attempts++;
    this.cycle++;
    this.inFlight.set(qp.pi.key, { qp, updated: false, cycle: this.cycle });
    return qp;
  }

  /** The attempt succeeded (the pod is assumed and binding). */
  done(qp: QueuedPod): void {
    this.inFlight.delete(qp.pi.key);
  }

  /**
   * The attempt found no node. The pod waits for a cluster event, unless one already arrived (or the pod itself
   * changed) during the attempt, in which case it only backs off.
   */
  addUnschedulable(qp: QueuedPod, plugins: Iterable<string>): void {
    const fl = this.inFlight.get(qp.pi.key);
    if (!fl || this.closed) return; // deleted or bound meanwhile
    this.inFlight.delete(qp.pi.key);
    qp.failedAt = this.clock.now();
    qp.unschedulablePlugins = new Set(plugins);
    if (fl.updated || this.moveRequestCycle >= fl.cycle) this.requeue(qp, 'ScheduleAttemptFailure');
    else {
      this.file(qp);
      this.incoming('unschedulable', 'ScheduleAttemptFailure');
    }
  }

  /** Puts an unschedulable pod in the set and under each event that may help it. */
  private file(qp: QueuedPod): void {
    this.unschedulable.set(qp.pi.key, qp);
    for (const e of ALL_EVENTS) if (!qp.unschedulablePlugins.size || this.eventHelps(qp, e)) this.helpedBy.get(e)!.set(qp.pi.key, qp);
  }

  private unfile(qp: QueuedPod): void {
    this.unschedulable.delete(qp.pi.key);
    for (const m of this.helpedBy.values()) m.delete(qp.pi.key);
  }

  /** The attempt failed with an error (or its binding failed): retry after the backoff. */
  addBackoff(qp: QueuedPod): void {
    if (this.closed) return;
    this.inFlight.delete(qp.pi.key);
    if (this.has(qp.pi.pod)) return;
    qp.failedAt = this.clock.now();
    qp.unschedulablePlugins = new Set();
    this.requeue(qp, 'ScheduleAttemptFailure');
  }

  /** A cluster event: unschedulable pods it may help go to backoff (or straight to active if their backoff is over). */
  onEvent(event: ClusterEvent): number {
    this.moveRequestCycle = this.cycle;
    const helped = this.helpedBy.get(event)!;
    if (!helped.size) return 0;
    const moved = [...helped.values()];
    this.visits += moved.length;
    for (const qp of moved) {
      this.unfile(qp);
      this.requeue(qp, event);
    }
    return moved.length;
  }

  backoffDuration(qp: QueuedPod): number {
    return exponentialDelay(qp.attempts - 1, this.initialBackoffMs, this.maxBackoffMs);
  }

  private backoffExpiry(qp: QueuedPod): number {
    return qp.failedAt + this.backoffDuration(qp);
  }

  private requeue(qp: QueuedPod, event: IncomingEvent): void {
    qp.timestamp = this.clock.now();
    if (qp.attempts > 0 && this.backoffExpiry(qp) > this.clock.now()) {
      this.backoff.push(qp);
      this.incoming('backoff', event);
      this.armBackoffTimer();
    } else this.pushActive(qp, event);
  }

  private pushActive(qp: QueuedPod, event: IncomingEvent): void {
    this.incoming('active', event);
    const w = this.waiters.shift();
    if (w) w(this.startAttempt(qp));
    else this.active.push(qp);
  }

  /** One timer, due at the earliest backoff expiry. */
  private armBackoffTimer(): void {
    const head = this.backoff.peek();
    if (!head || this.closed) return;
    const at = this.backoffExpiry(head);
    if (this.backoffTimer && this.backoffTimer.at <= at) return;
    this.backoffTimer?.handle.cancel();
    const handle = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.backoffTimer = undefined;
      this.flushBackoff();
    });
    this.backoffTimer = { at, handle };
  }

  private flushBackoff(): void {
    const now = this.clock.now();
    for (let head = this.backoff.peek(); head && this.backoffExpiry(head) <= now; head = this.backoff.peek()) {
      this.backoff.pop();
      this.pushActive(head, 'BackoffComplete');
    }
    this.armBackoffTimer();
  }

  /**
   * Pods unschedulable for longer than podMaxInUnschedulableMs go back to backoff or active (kube's
   * flushUnschedulablePodsLeftover). The set keeps filing order, which is failure order, so the scan stops at the first
   * pod that has not waited long enough.
   */
  flushUnschedulableLeftover(): number {
    const now = this.clock.now();
    const due: QueuedPod[] = [];
    for (const qp of this.unschedulable.values()) {
      if (now - qp.failedAt <= this.podMaxInUnschedulableMs) break;
      due.push(qp);
    }
    for (const qp of due) {
      this.unfile(qp);
      this.requeue(qp, 'UnschedulableTimeout');
    }
    return due.length;
  }

  close(): void {
    this.closed = true;
    this.leftoverFlush.cancel();
    this.backoffTimer?.handle.cancel();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
