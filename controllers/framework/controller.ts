// The controller base: informer handlers enqueue keys, N workers pop them and run a level-based sync(key); a thrown
// error means a rate-limited retry (a TerminalError means none), and a result may ask to be requeued after a delay.
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { ApiError } from '../../api/errors.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, type EventHandlers, type IndexUnchanged, type Informer, type InformerFactory } from '../../client/informer.js';
import type { ObjectLike, RestClient } from '../../client/rest.js';
import { ExponentialRateLimiter, WorkQueue, type RateLimiter } from '../../client/workqueue.js';
import type { Clock } from '../../lib/clock.js';
import { logger, type Logger } from '../../lib/logger.js';

/** Random bytes drawn a page at a time: a sync's id costs no call into the system's random source each. */
const ids = { pool: Buffer.alloc(0), at: 0 };

/** 8 random hex digits that tell one sync's log lines from another's. */
function reconcileId(): string {
  if (ids.at + 4 > ids.pool.length) {
    ids.pool = randomBytes(4096);
    ids.at = 0;
  }
  ids.at += 4;
  return ids.pool.toString('hex', ids.at - 4, ids.at);
}

/** What every controller gets from the manager: one REST client, shared informers, the clock and event recorders. */
export interface ControllerContext {
  rest: RestClient;
  informers: InformerFactory;
  clock: Clock;
  recorder(component: string): EventRecorder;
  /** The manager's Prometheus registry, for a controller's own metrics (kube's cronjob_controller_*, ...). */
  metrics?: Registry;
}

export interface SyncResult {
  /** Sync this key again after this long, even if nothing changes. */
  requeueAfterMs?: number;
}

export interface SyncContext {
  log: Logger;
  signal: AbortSignal;
}

/** An error that retrying cannot fix: logged, not retried. */
export class TerminalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TerminalError';
  }
}

export interface ControllerOptions {
  /** `<resource>-controller`: the logger component and the event source. */
  name: string;
  clock: Clock;
  workers?: number;
  rateLimiter?: RateLimiter;
}

export abstract class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  private readonly workers: number;
  /** Informers whose caches must be filled before the first sync. */
  protected abstract readonly informers: ReadonlyArray<Pick<Informer<ObjectLike>, 'waitForSync'>>;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.clock = opts.clock;
    this.workers = opts.workers ?? 1;
    this.log = logger(opts.name);
    this.queue = new WorkQueue({ clock: opts.clock, rateLimiter: opts.rateLimiter ?? new ExponentialRateLimiter(5, 300_000) });
  }

  /** Reconciles one key against the current state of the caches; idempotent. */
  protected abstract sync(key: string, ctx: SyncContext): Promise<SyncResult | void>;

  enqueue(obj: ObjectLike): void {
    this.queue.add(keyOf(obj));
  }

  /** Informer handlers that queue the object on add and update, and on delete unless onDelete does something else. */
  protected enqueueOnChange<T extends ObjectLike>(onDelete: (obj: T) => void = (obj) => this.enqueue(obj)): EventHandlers<T> {
    return { onAdd: (obj) => this.enqueue(obj), onUpdate: (_old, obj) => this.enqueue(obj), onDelete };
  }

  enqueueAfter(obj: ObjectLike, ms: number): void {
    this.queue.addAfter(keyOf(obj), ms);
  }

  /** Waits for the caches, then runs the workers until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = (): void => this.queue.shutDown();
    if (signal.aborted) return;
    signal.addEventListener('abort', stop, { once: true });
    try {
      await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
    } catch {
      return; // stopped before the caches synced
    }
    this.log.info('caches synced, starting workers', { workers: this.workers });
    await this.started(signal);
    await Promise.all(Array.from({ length: this.workers }, () => this.worker(signal)));
    this.log.info('stopped');
  }

  /** A hook for work that starts with the workers (periodic monitors). */
  protected started(_signal: AbortSignal): Promise<void> | void {}

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      if (signal.aborted) {
        this.queue.done(key);
        return;
      }
      await this.processKey(key, signal);
    }
  }

  /** One pass over a key; exposed for tests that drive a controller without workers. */
  async processKey(key: string, signal: AbortSignal = new AbortController().signal): Promise<void> {
    const log = this.log.child({ object: key, reconcileId: reconcileId() });
    const started = this.clock.now();
    try {
      const res = await this.sync(key, { log, signal });
      this.queue.forget(key);
      if (res?.requeueAfterMs !== undefined) this.queue.addAfter(key, Math.max(0, res.requeueAfterMs));
      log.debug('synced', { ms: this.clock.now() - started, ...(res?.requeueAfterMs !== undefined ? { requeueAfterMs: res.requeueAfterMs } : {}) });
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof TerminalError) {
        this.queue.forget(key);
        log.error('sync failed, not retrying', { error: err.message });
      } else {
        log.info('sync failed, retrying', { error: err instanceof Error ? err.message : String(err), retries: this.queue.rateLimiter.retries(key) });
        this.queue.addRateLimited(key);
      }
    } finally {
      this.queue.done(key);
    }
  }
}

/** Adds an index to a shared informer once, however many controllers ask for it. */
export function ensureIndex<T extends ObjectLike>(informer: Informer<T>, name: string, fn: (obj: T) => string[], unchanged?: IndexUnchanged<T>): void {
  let names = indexed.get(informer);
  if (!names) indexed.set(informer, (names = new Set()));
  if (names.has(name)) return;
  names.add(name);
  informer.indexer.addIndexer(name, fn, unchanged);
}
const indexed = new WeakMap<object, Set<string>>();

/** A create refused because its namespace is being deleted: nothing a retry can fix. */
export const isNamespaceTerminating = (err: unknown): boolean => err instanceof ApiError && err.code === 403 && /because it is being terminated/.test(err.message);
