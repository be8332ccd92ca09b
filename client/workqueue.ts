// A work queue with client-go's guarantees: a key is never processed by two workers at once (dirty + processing sets),
// duplicates collapse, a key added while it is processed is queued again on done(), per-item exponential backoff for
// retries, and delayed adds. Time comes from an injected clock.
import { Backoff } from '../lib/backoff.js';
import { realClock, type Clock, type TimerHandle } from '../lib/clock.js';

export interface RateLimiter {
  /** How long to wait before retrying this item. */
  when(item: string): number;
  forget(item: string): void;
  retries(item: string): number;
}

/** Per-item exponential backoff: base * 2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ExponentialRateLimiter implements RateLimiter {
  private readonly backoff: Backoff;
  constructor(baseMs = 5, maxMs = 1000_000, clock: Clock = realClock) {
    // client-go never forgets failures by itself: only forget() after a successful sync does.
    this.backoff = new Backoff(clock, baseMs, maxMs, { resetAfterMs: Infinity });
  }
  when(item: string): number {
    return this.backoff.next(item);
  }
  forget(item: string): void {
    this.backoff.reset(item);
  }
  retries(item: string): number {
    return this.backoff.attempts(item);
  }
}

export interface WorkQueueOptions {
  clock?: Clock;
  rateLimiter?: RateLimiter;
}

/**
 * What a queue reports, as client-go's queueMetrics: add when an item becomes dirty (depth up), get when a worker
 * takes it (depth down, time queued), done when processed (time worked), retry on each rate-limited add.
 */
export interface QueueMetrics {
  add(item: string): void;
  get(item: string): void;
  done(item: string): void;
  retry(): void;
  /** The queue shut down with item waiting or in progress: it no longer counts (a queue of the same name may follow). */
  discard(item: string): void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly getters: Array<(item: string | undefined) => void> = [];
  private shuttingDown = false;
  private metrics: QueueMetrics | undefined;
  private readonly clock: Clock;
  readonly rateLimiter: RateLimiter;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.rateLimiter = opts.rateLimiter ?? new ExponentialRateLimiter(undefined, undefined, this.clock);
  }

  /** Reports to metrics from now on (the controller manager names each queue). */
  instrument(metrics: QueueMetrics): void {
    this.metrics = metrics;
  }

  /** Queues item unless it is already waiting; if it is being processed, it is queued again when done. */
  add(item: string): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.metrics?.add(item);
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    this.push(item);
  }

  /** A dirty item that is not being processed: to a waiting worker, else to the end of the queue. */
  private push(item: string): void {
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(item);
      this.processing.add(item);
      this.metrics?.get(item);
      getter(item);
    } else this.queue.push(item);
  }

  /** Adds item after ms; an earlier pending add of the same item wins. */
  addAfter(item: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(item);
    const at = this.clock.now() + ms;
    const existing = this.waiting.get(item);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(ms, () => {
      this.waiting.delete(item);
      this.add(item);
    });
    this.waiting.set(item, { at, timer });
  }

  /** Adds item after its rate limiter's backoff (for retries after an error). */
  addRateLimited(item: string): void {
    this.metrics?.retry();
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Clears item's retry history (after a successful sync). */
  forget(item: string): void {
    this.rateLimiter.forget(item);
  }

  /** Waits for the next item; undefined once the queue is shut down and drained. The caller must call done(item). */
  get(): Promise<string | undefined> {
    const item = this.queue.shift();
    if (item !== undefined) {
      this.dirty.delete(item);
      this.processing.add(item);
      this.metrics?.get(item);
      return Promise.resolve(item);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks item processed; if it was added meanwhile, it goes back on the queue. */
  done(item: string): void {
    this.processing.delete(item);
    this.metrics?.done(item);
    // Added while processed: already counted (depth included it), so it goes back without another add.
    if (!this.dirty.has(item)) return;
    if (this.shuttingDown) this.dirty.delete(item);
    else this.push(item);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Stops accepting items; waiting get() calls resolve with undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    if (this.metrics) {
      for (const item of new Set([...this.dirty, ...this.processing])) this.metrics.discard(item);
      this.metrics = undefined;
    }
    for (const w of this.waiting.values()) w.timer.cancel();
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}
