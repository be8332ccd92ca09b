// Informers: list + watch into an indexed in-memory cache with event handlers (client-go's reflector, indexer and
// shared informer). One shared informer per resource type per process comes from an InformerFactory.
import { isGone } from '../api/errors.js';
import { logger, type Logger } from '../lib/logger.js';
import { realClock, sleepUnlessAborted, type Clock } from '../lib/clock.js';
import type { ObjectLike, ResourceClient, ResourceRef, RestClient } from './rest.js';

export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  /** For a delete missed while disconnected, obj is the last state the cache knew. */
  onDelete?(obj: T): void;
}

export type IndexFunc<T> = (obj: T) => string[];
/**
 * Whether an index's values are certainly the same for two states of an object (a cheap check, such as the identity of
 * the field the index reads): the update then leaves that index alone instead of computing both states' values.
 */
export type IndexUnchanged<T> = (old: T, cur: T) => boolean;

/** The cache key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function keyOf(obj: ObjectLike): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** A thread-safe-by-construction (single-threaded) indexed store; objects in it must be treated as read-only. */
export class Indexer<T extends ObjectLike> {
  private readonly items = new Map<string, T>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  private readonly funcs = new Map<string, IndexFunc<T>>();
  private readonly unchanged = new Map<string, IndexUnchanged<T>>();
  /** Objects handed out by list() and byIndex() so far: what tests of a controller's work per event count. */
  handedOut = 0;

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    // An object's key holds its namespace: an update never moves it.
    this.addIndexer('namespace', (o) => (o.metadata?.namespace ? [o.metadata.namespace] : []), () => true);
    for (const [n, f] of Object.entries(indexers)) this.addIndexer(n, f);
  }

  addIndexer(name: string, fn: IndexFunc<T>, unchanged?: IndexUnchanged<T>): void {
    this.funcs.set(name, fn);
    if (unchanged) this.unchanged.set(name, unchanged);
    else this.unchanged.delete(name);
    const idx = new Map<string, Set<string>>();
    this.indices.set(name, idx);
    for (const [k, o] of this.items) for (const v of fn(o)) getOrAdd(idx, v).add(k);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    this.handedOut += this.items.size;
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  byIndex(name: string, value: string): T[] {
    const keys = this.indices.get(name)?.get(value);
    if (!keys) return [];
    this.handedOut += keys.size;
    const out: T[] = [];
    for (const k of keys) {
      const o = this.items.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  set(obj: T): T | undefined {
    const key = keyOf(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    for (const [n, f] of this.funcs) {
      if (old) {
        if (this.unchanged.get(n)?.(old, obj)) continue;
        this.unindexOne(n, f, key, old);
      }
      const idx = this.indices.get(n)!;
      for (const v of f(obj)) getOrAdd(idx, v).add(key);
    }
    return old;
  }

  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (old) {
      this.unindex(key, old);
      this.items.delete(key);
    }
    return old;
  }

  get size(): number {
    return this.items.size;
  }

  private unindex(key: string, obj: T): void {
    for (const [n, f] of this.funcs) this.unindexOne(n, f, key, obj);
  }

  private unindexOne(name: string, f: IndexFunc<T>, key: string, obj: T): void {
    const idx = this.indices.get(name)!;
    for (const v of f(obj)) {
      const s = idx.get(v);
      s?.delete(key);
      if (s && !s.size) idx.delete(v);
    }
  }

  /** How many objects an index value has (byIndex without the array). */
  countByIndex(name: string, value: string): number {
    return this.indices.get(name)?.get(value)?.size ?? 0;
  }
}

function getOrAdd<K, V>(m: Map<K, Set<V>>, k: K): Set<V> {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  return s;
}

export interface InformerOptions<T extends ObjectLike = ObjectLike> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Backoff between failed list/watch attempts (ms). */
  retryMs?: number;
  /**
   * Applied to each object as it arrives, before the cache keeps it (client-go's SetTransform): a cache keeps what its
   * users read (e.g. stripManagedFields). It may change the object it is given (a fresh parse) and return it.
   */
  transform?: (obj: T) => T;
  clock?: Clock;
  log?: Logger;
}

/** List, then watch from the list's resourceVersion; relist on 410 Gone; keep an indexed cache and call handlers. */
export class Informer<T extends ObjectLike> {
  readonly indexer: Indexer<T>;
  private readonly handlers: EventHandlers<T>[] = [];
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private lastResourceVersion = '';
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(
    readonly client: ResourceClient<T>,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.indexer = new Indexer<T>();
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? logger('informer', { resource: client.ref.resource });
  }

  addEventHandler(h: EventHandlers<T>): void {
    this.handlers.push(h);
    // A handler added after sync sees the current contents as adds, as in client-go.
    if (this.synced) for (const o of this.indexer.list()) h.onAdd?.(o);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get resourceVersion(): string {
    return this.lastResourceVersion;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort(new Error('informer stopped'));
    await this.running;
    this.running = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        for await (const ev of this.client.watch(this.opts.namespace, {
          resourceVersion: this.lastResourceVersion,
          allowWatchBookmarks: true,
          ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
          ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
          signal,
        })) {
          const rv = ev.object.metadata?.resourceVersion;
          if (rv) this.lastResourceVersion = rv;
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.upsert(this.kept(ev.object));
          else if (ev.type === 'DELETED') this.remove(keyOf(ev.object), this.kept(ev.object));
        }
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          this.log.info('watch expired, relisting', { resourceVersion: this.lastResourceVersion });
          needList = true;
          continue;
        }
        this.log.warn('list/watch failed, retrying', { error: String(err), retryMs: this.opts.retryMs ?? 1000 });
        await sleepUnlessAborted(this.clock, this.opts.retryMs ?? 1000, signal);
      }
    }
  }

  /** Replaces the cache with a fresh list, calling handlers for what changed (deletes for what vanished). */
  private async relist(): Promise<void> {
    const list = await this.client.listAll(this.opts.namespace, {
      ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
      ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
    });
    const seen = new Set<string>();
    for (const o of list.items) {
      seen.add(keyOf(o));
      this.upsert(this.kept(o));
    }
    for (const k of this.indexer.keys()) if (!seen.has(k)) this.remove(k, this.indexer.get(k)!);
    this.lastResourceVersion = list.metadata.resourceVersion ?? '';
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private kept(obj: T): T {
    return this.opts.transform ? this.opts.transform(obj) : obj;
  }

  private upsert(obj: T): void {
    const old = this.indexer.set(obj);
    for (const h of this.handlers) {
      try {
        if (old) {
          if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) h.onUpdate?.(old, obj);
        } else h.onAdd?.(obj);
      } catch (err) {
        this.log.error('event handler failed', { error: String(err) });
      }
    }
  }

  private remove(key: string, last: T): void {
    const old = this.indexer.delete(key);
    if (!old) return;
    for (const h of this.handlers) {
      try {
        h.onDelete?.(last);
      } catch (err) {
        this.log.error('event handler failed', { error: String(err) });
      }
    }
  }
}

export { cachedForm, stripManagedFields } from './informer-transform.js';

/** One shared informer per resource type (and namespace/selector) per process. */
export class InformerFactory {
  private readonly informers = new Map<string, Informer<ObjectLike>>();

  constructor(
    readonly rest: RestClient,
    private readonly defaults: Omit<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector' | 'transform'> & {
      /** The transform of each resource type's informer (see InformerOptions.transform). */
      transform?: (ref: ResourceRef) => ((obj: ObjectLike) => ObjectLike) | undefined;
    } = {},
  ) {}

  for<T extends ObjectLike>(ref: ResourceRef, opts: Pick<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'> = {}): Informer<T> {
    const id = [ref.group, ref.version, ref.resource, opts.namespace ?? '', opts.labelSelector ?? '', opts.fieldSelector ?? ''].join('|');
    let inf = this.informers.get(id);
    if (!inf) {
      const { transform, ...defaults } = this.defaults;
      const t = transform?.(ref);
      inf = new Informer<ObjectLike>(this.rest.resource<ObjectLike>(ref), { ...defaults, ...opts, ...(t ? { transform: t } : {}) });
      this.informers.set(id, inf);
    }
    return inf as unknown as Informer<T>;
  }

  start(): void {
    for (const i of this.informers.values()) i.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
