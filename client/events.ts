// An event recorder that writes core/v1 Events and aggregates repeats (count, lastTimestamp), as client-go's does.
import { logger } from '../lib/logger.js';
import { realClock, type Clock } from '../lib/clock.js';
import type { ObjectLike, ResourceClient, ResourceRef } from './rest.js';

export const EVENTS: ResourceRef = { group: '', version: 'v1', resource: 'events', namespaced: true };

export interface KubeEvent extends ObjectLike {
  involvedObject: { kind?: string; namespace?: string; name?: string; uid?: string; apiVersion?: string; resourceVersion?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

const rfc3339 = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** client-go's spam filter: a burst of 25 events per object, then one per 5 minutes. */
const BURST = 25;
const REFILL_MS = 5 * 60_000;
/** Events waiting to be written; past this they are dropped (the API server is slow or gone). */
const MAX_PENDING = 1000;

export class EventRecorder {
  /** Aggregation key -> the event as last written. */
  private readonly seen = new Map<string, { name: string; namespace: string; count: number }>();
  /** Per involved object: tokens left and when they were last refilled. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private dropped = 0;
  private seq = Math.floor(Math.random() * 0x10000);
  private readonly log;

  constructor(
    private readonly events: ResourceClient<KubeEvent>,
    private readonly source: { component: string; host?: string },
    private readonly clock: Clock = realClock,
  ) {
    this.log = logger('events', { component: source.component });
  }

  /** Records an event about obj; writes happen in order in the background. Returns a promise for tests. */
  event(obj: ObjectLike & { apiVersion?: string; kind?: string }, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const m = obj.metadata ?? {};
    const namespace = m.namespace ?? 'default';
    const key = [m.uid ?? '', obj.kind ?? '', m.name ?? '', type, reason, message].join('\u0000');
    if (!this.allow(`${m.uid ?? ''}/${obj.kind ?? ''}/${namespace}/${m.name ?? ''}`)) return this.chain;
    if (this.pending >= MAX_PENDING) {
      if (this.dropped++ === 0) this.log.warn('event backlog full, dropping events', { pending: this.pending });
      return this.chain;
    }
    this.pending++;
    this.chain = this.chain
      .then(() => this.write(key, namespace, obj, type, reason, message))
      .catch((err: unknown) => {
        this.log.warn('writing event failed', { reason, object: m.name, error: String(err) });
      })
      .finally(() => {
        this.pending--;
        if (this.pending === 0) this.dropped = 0;
      });
    return this.chain;
  }

  /** Token bucket per involved object. */
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
    if (this.buckets.size > 4096) this.buckets.delete(this.buckets.keys().next().value!);
    return true;
  }

  private async write(key: string, namespace: string, obj: ObjectLike & { apiVersion?: string; kind?: string }, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = rfc3339(this.clock.now());
    const prev = this.seen.get(key);
    if (prev) {
      prev.count++;
      try {
        await this.events.patch(prev.namespace, prev.name, { count: prev.count, lastTimestamp: now }, 'merge');
        return;
      } catch {
        this.seen.delete(key); // the event expired or was deleted: write a fresh one
      }
    }
    const m = obj.metadata ?? {};
    // Unique per recorder even within one clock tick (a fake clock never moves): time, then a sequence number.
    const name = `${m.name ?? 'unknown'}.${this.clock.now().toString(16)}${(this.seq++).toString(16).padStart(4, '0')}`;
    await this.events.create(namespace, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        ...(obj.kind ? { kind: obj.kind } : {}),
        ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
        ...(m.namespace ? { namespace: m.namespace } : {}),
        ...(m.name ? { name: m.name } : {}),
        ...(m.uid ? { uid: m.uid } : {}),
        ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: this.source,
      reportingComponent: this.source.component,
      reportingInstance: this.source.host ?? '',
    });
    this.seen.set(key, { name, namespace, count: 1 });
    if (this.seen.size > 4096) this.seen.delete(this.seen.keys().next().value!);
  }
}
