// Events, as client-go records them: one EventBroadcaster per process writes core/v1 Events in order in the
// background, aggregates repeats (count, lastTimestamp) and limits each object's events (spam filter); each component
// records through its own EventRecorder (its source), got from the broadcaster.
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

/** client-go's spam filter: a burst of 25 events per object, then one per 5 minutes. */
const BURST = 25;
const REFILL_MS = 5 * 60_000;
/** Events waiting to be written; past this they are dropped (the API server is slow or gone). */
const MAX_PENDING = 1000;
/** Aggregation keys and spam-filter buckets remembered (oldest forgotten first). */
const MAX_REMEMBERED = 4096;

export class EventBroadcaster {
  private readonly events: ResourceClient<KubeEvent>;
  private readonly recorders = new Map<string, EventRecorder>();
  /** Aggregation key -> the event as last written. */
  private readonly seen = new Map<string, { name: string; namespace: string; count: number }>();
  /** Per source and involved object: tokens left and when they were last refilled. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private dropped = 0;
  private seq = Math.floor(Math.random() * 0x10000);
  private readonly log = logger('events');

  constructor(
    target: RestClient | ResourceClient<KubeEvent>,
    private readonly clock: Clock = realClock,
  ) {
    this.events = target instanceof RestClient ? target.resource<KubeEvent>(EVENTS) : target;
  }

  /** The recorder of one source (one per component and host). */
  recorder(source: EventSource): EventRecorder {
    const id = `${source.component}\u0000${source.host ?? ''}`;
    let r = this.recorders.get(id);
    if (!r) this.recorders.set(id, (r = new EventRecorder(this, source)));
    return r;
  }

  /** Queues an event; the promise settles when it and every event before it are written (or given up). */
  record(source: EventSource, ref: ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const src = `${source.component}\u0000${source.host ?? ''}`;
    const namespace = ref.namespace ?? 'default';
    const key = [src, ref.uid ?? '', ref.kind ?? '', ref.name ?? '', type, reason, message].join('\u0000');
    if (!this.allow(`${src}\u0000${ref.uid ?? ''}/${ref.kind ?? ''}/${namespace}/${ref.name ?? ''}`)) return this.chain;
    if (this.pending >= MAX_PENDING) {
      if (this.dropped++ === 0) this.log.warn('event backlog full, dropping events', { pending: this.pending, source: source.component });
      return this.chain;
    }
    this.pending++;
    this.chain = this.chain
      .then(() => this.write(key, namespace, source, ref, type, reason, message))
      .catch((err: unknown) => {
        this.log.warn('writing event failed', { source: source.component, reason, object: ref.name, error: String(err) });
      })
      .finally(() => {
        this.pending--;
        if (this.pending === 0) this.dropped = 0;
      });
    return this.chain;
  }

  /** Token bucket per source and involved object. */
  private allow(objectKey: string): boolean {
    const now = this.clock.now();
    const b = this.buckets.get(objectKey) ?? { tokens: BURST, at: now };
    const refill = Math.floor((now - b.at) / REFILL_MS);
    if (refill > 0) {
      b.tokens = Math.min(BURST, b.tokens + refill);
      b.at += refill * REFILL_MS;
    }
    if (b.tokens <= 0) return false;
    b.tokens--;
    this.buckets.set(objectKey, b);
    if (this.buckets.size > MAX_REMEMBERED) this.buckets.delete(this.buckets.keys().next().value!);
    return true;
  }

  private async write(key: string, namespace: string, source: EventSource, ref: ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const now = rfc3339(this.clock.now());
    const prev = this.seen.get(key);
    if (prev) {
      prev.count++;
      try {
        await this.events.patch(prev.namespace, prev.name, { count: prev.count, lastTimestamp: now }, 'merge');
        return;
      } catch (err) {
        // The event expired or was deleted (or the patch failed otherwise): a fresh one replaces it.
        this.log.debug('aggregating event failed, writing a new one', { reason, object: ref.name, error: String(err) });
        this.seen.delete(key);
      }
    }
    // Unique per broadcaster even within one clock tick (a fake clock never moves): time, then a sequence number.
    const name = `${ref.name ?? 'unknown'}.${this.clock.now().toString(16)}${(this.seq++).toString(16).padStart(4, '0')}`;
    await this.events.create(namespace, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: ref,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    });
    this.seen.set(key, { name, namespace, count: 1 });
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
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
