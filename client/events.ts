// Events, as client-go records them: one EventBroadcaster per process writes core/v1 Events in the background through
// kube's EventCorrelator: similar events (same object, type and reason, other messages) past 10 in 10 minutes become
// one "(combined from similar events)" event, repeats of an event raise its count and lastTimestamp, and a spam filter
// limits each source's events per object. An occurrence whose event is still waiting to be written joins that write
// (its count), so a burst of repeats costs one write; writes run one at a time, in order.
import { logger } from '../lib/logger.js';
import { realClock, type Clock } from '../lib/clock.js';
import type { ObjectReference } from '../api/index.js';
import { objectReference } from './object-ref.js';
import { EVENTS } from './resources.js';
import { RestClient, type ObjectLike, type ResourceClient } from './rest.js';

export interface KubeEvent extends ObjectLike {
  involvedObject: ObjectReference;
  reason: string;
  message: string;
  type: EventType;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: EventSource;
  reportingComponent?: string;
  reportingInstance?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventSource {
  component: string;
  host?: string;
}

const rfc3339 = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** client-go's spam filter: a burst of 25 events per source and object, then one per 5 minutes. */
const BURST = 25;
const REFILL_MS = 5 * 60_000;
/** client-go's aggregation: past this many messages of one object, type and reason within the interval, one event. */
export const MAX_SIMILAR = 10;
const SIMILAR_INTERVAL_MS = 10 * 60_000;
export const COMBINED_PREFIX = '(combined from similar events): ';
/**
 * Events waiting to be written (distinct ones: repeats join their write); past this, Normal events are dropped.
 * client-go keeps 1,000; here a burst (1,000 CronJobs due in one minute: two Normal events each, on 2,000 objects)
 * is written a little later rather than lost.
 */
const MAX_PENDING = 4000;
/** Warnings are kept up to four times as many (they tell what went wrong; a Normal event tells what went right). */
const WARNINGS_FACTOR = 4;
/**
 * Writes in flight at once: one, as client-go's sink, so that a burst of events takes the least share of the API
 * server from the writes they report on (a controller has 20-64 in flight); the backlog above absorbs the burst.
 */
const WRITERS = 1;
/** Aggregation keys, similar-event records and spam-filter buckets remembered (oldest forgotten first). */
const MAX_REMEMBERED = 4096;

/** One event waiting to be written, with the occurrences that joined it. */
interface Pending {
  key: string;
  namespace: string;
  source: EventSource;
  ref: ObjectReference;
  type: EventType;
  reason: string;
  message: string;
  /** Occurrences not yet written. */
  count: number;
  firstMs: number;
  lastMs: number;
  done: Promise<void>;
  settle: () => void;
}

/** A Map that forgets its oldest entry past MAX_REMEMBERED. */
function remember<K, V>(m: Map<K, V>, k: K, v: V): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > MAX_REMEMBERED) m.delete(m.keys().next().value!);
}

export class EventBroadcaster {
  private readonly events: ResourceClient<KubeEvent>;
  private readonly recorders = new Map<string, EventRecorder>();
  /** Event key -> the event as last written. */
  private readonly seen = new Map<string, { name: string; namespace: string; count: number }>();
  /** Aggregation key (source, object, type, reason) -> the messages seen within the interval. */
  private readonly similar = new Map<string, { messages: Set<string>; lastMs: number }>();
  /** Per source and involved object: tokens left and when they were last refilled. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Events waiting, in order, and by key (a key being written is in `writing` until its write settles). */
  private readonly queue: Pending[] = [];
  private readonly queued = new Map<string, Pending>();
  private readonly writing = new Set<string>();
  private inFlight = 0;
  /** Settles once every event recorded so far is written or given up. */
  private tail: Promise<void> = Promise.resolve();
  private dropped = 0;
  private seq = Math.floor(Math.random() * 0x10000);
  private readonly log = logger('events');

  private readonly maxPending: number;

  constructor(
    target: RestClient | ResourceClient<KubeEvent>,
    private readonly clock: Clock = realClock,
    /** maxPending: distinct Normal events waiting before more are dropped (Warnings: four times as many). */
    limits: { maxPending?: number } = {},
  ) {
    this.events = target instanceof RestClient ? target.resource<KubeEvent>(EVENTS) : target;
    this.maxPending = limits.maxPending ?? MAX_PENDING;
  }

  /** The recorder of one source (one per component and host). */
  recorder(source: EventSource): EventRecorder {
    const id = `${source.component}\u0000${source.host ?? ''}`;
    let r = this.recorders.get(id);
    if (!r) this.recorders.set(id, (r = new EventRecorder(this, source)));
    return r;
  }

  /** Queues an event; the promise settles when it and every event recorded before it are written (or given up). */
  record(source: EventSource, ref: ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const now = this.clock.now();
    const src = `${source.component}\u0000${source.host ?? ''}`;
    const namespace = ref.namespace ?? 'default';
    const object = [src, ref.uid ?? '', ref.apiVersion ?? '', ref.kind ?? '', namespace, ref.name ?? ''].join('\u0000');
    const { key, text } = this.aggregate(`${object}\u0000${type}\u0000${reason}`, message, now);
    if (!this.allow(object, now)) return this.tail;
    const joined = this.queued.get(key);
    if (joined) {
      joined.count++;
      joined.lastMs = now;
      joined.message = text;
      return this.tail;
    }
    if (this.queue.length >= (type === 'Warning' ? WARNINGS_FACTOR * this.maxPending : this.maxPending)) {
      if (this.dropped++ === 0) this.log.warn('event backlog full, dropping Normal events', { pending: this.queue.length, source: source.component });
      return this.tail;
    }
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    const p: Pending = { key, namespace, source, ref, type, reason, message: text, count: 1, firstMs: now, lastMs: now, done, settle };
    this.queue.push(p);
    this.queued.set(key, p);
    const before = this.tail;
    this.tail = Promise.all([before, done]).then(() => undefined);
    this.pump();
    return this.tail;
  }

  /**
   * client-go's EventAggregator: the key an occurrence is counted under, and its message. Up to MAX_SIMILAR - 1
   * messages of one object, type and reason are events of their own; from the MAX_SIMILAR-th on, they are one event
   * whose message is the latest, prefixed.
   */
  private aggregate(aggregateKey: string, message: string, now: number): { key: string; text: string } {
    let rec = this.similar.get(aggregateKey);
    if (!rec || now - rec.lastMs > SIMILAR_INTERVAL_MS) rec = { messages: new Set(), lastMs: now };
    rec.messages.add(message);
    rec.lastMs = now;
    remember(this.similar, aggregateKey, rec);
    if (rec.messages.size < MAX_SIMILAR) return { key: `${aggregateKey}\u0000${message}`, text: message };
    // As client-go: the set grows no larger (one message leaves it), and from now on every one is combined.
    rec.messages.delete(rec.messages.values().next().value!);
    return { key: aggregateKey, text: COMBINED_PREFIX + message };
  }

  /** Token bucket per source and involved object. */
  private allow(objectKey: string, now: number): boolean {
    const b = this.buckets.get(objectKey) ?? { tokens: BURST, at: now };
    const refill = Math.floor((now - b.at) / REFILL_MS);
    if (refill > 0) {
      b.tokens = Math.min(BURST, b.tokens + refill);
      b.at += refill * REFILL_MS;
    }
    if (b.tokens <= 0) return false;
    b.tokens--;
    remember(this.buckets, objectKey, b);
    return true;
  }

  /** Starts writes up to WRITERS, the oldest waiting event first whose key is not being written. */
  private pump(): void {
    while (this.inFlight < WRITERS) {
      const i = this.queue.findIndex((p) => !this.writing.has(p.key));
      if (i < 0) return;
      const [p] = this.queue.splice(i, 1);
      this.queued.delete(p!.key);
      this.writing.add(p!.key);
      this.inFlight++;
      void this.write(p!)
        .catch((err: unknown) => this.log.warn('writing event failed', { source: p!.source.component, reason: p!.reason, object: p!.ref.name, error: String(err) }))
        .finally(() => {
          this.writing.delete(p!.key);
          this.inFlight--;
          p!.settle();
          if (this.queue.length === 0 && this.inFlight === 0 && this.dropped > 0) {
            this.log.warn('events dropped while the backlog was full', { dropped: this.dropped });
            this.dropped = 0;
          }
          this.pump();
        });
    }
  }

  private async write(p: Pending): Promise<void> {
    const last = rfc3339(p.lastMs);
    const prev = this.seen.get(p.key);
    if (prev) {
      try {
        await this.events.patch(prev.namespace, prev.name, { count: prev.count + p.count, lastTimestamp: last, message: p.message }, 'merge');
        prev.count += p.count;
        return;
      } catch (err) {
        // The event expired or was deleted (or the patch failed otherwise): a fresh one replaces it.
        this.log.debug('aggregating event failed, writing a new one', { reason: p.reason, object: p.ref.name, error: String(err) });
        this.seen.delete(p.key);
      }
    }
    // Unique per broadcaster even within one clock tick (a fake clock never moves): time, then a sequence number.
    const name = `${p.ref.name ?? 'unknown'}.${this.clock.now().toString(16)}${(this.seq++).toString(16).padStart(4, '0')}`;
    await this.events.create(p.namespace, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: p.namespace },
      involvedObject: p.ref,
      reason: p.reason,
      message: p.message,
      type: p.type,
      count: p.count,
      firstTimestamp: rfc3339(p.firstMs),
      lastTimestamp: last,
      source: p.source,
      reportingComponent: p.source.component,
      reportingInstance: p.source.host ?? '',
    });
    remember(this.seen, p.key, { name, namespace: p.namespace, count: p.count });
  }
}
/** Records events of one source (a component, and the node it runs on) through a broadcaster. */
export class EventRecorder {
  private readonly broadcaster: EventBroadcaster;

  /** From a broadcaster (its recorder() does this), or alone: then with a broadcaster of its own. */
  constructor(target: EventBroadcaster | ResourceClient<KubeEvent>, readonly source: EventSource, clock: Clock = realClock) {
    this.broadcaster = target instanceof EventBroadcaster ? target : new EventBroadcaster(target, clock);
  }

  /**
   * Records an event about an object (its reference is taken from it: give it apiVersion and kind) or about a
   * reference (objectReference()). Writes happen in order in the background; the promise is for tests.
   */
  event(about: ObjectLike | ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const ref = 'metadata' in about ? objectReference(about) : (about as ObjectReference);
    return this.broadcaster.record(this.source, ref, type, reason, message);
  }
}
