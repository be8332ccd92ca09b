// An informer inside the API server: the current objects of one resource type, kept in memory from a list and the
// type's watch cache, so that admission lookups (namespace, service account, priority class) on every pod create cost
// no storage round trip. kube-apiserver's admission plugins read the same things from informers.
import type { Obj } from './object.js';
import type { ObjectWatch } from './store.js';

/** The key of an object in the cache. */
export const cacheKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export class ObjectCache {
  private items = new Map<string, Obj>();
  /** Every change of the type up to this revision is in items (meaningful once synced). */
  private revision = 0;
  private synced = false;
  private running = false;
  private closed = false;
  private current: ObjectWatch | undefined;
  /** Readers waiting for the first sync (see read). */
  private waiting: (() => void)[] = [];

  /** source: the type's informer-style watch (current objects as ADDED, the initial-events-end BOOKMARK, then changes). */
  constructor(private readonly source: () => ObjectWatch) {}

  /**
   * The current objects when the cache has every change up to `atLeast` (the revision of this server's last write of
   * the type, so that a lookup sees its own writes); undefined when it has not (yet): read storage then.
   * Shared objects: never mutate them.
   */
  snapshot(atLeast: number): ReadonlyMap<string, Obj> | undefined {
    if (!this.running && !this.closed) this.start();
    return this.synced && this.revision >= atLeast ? this.items : undefined;
  }

  /**
   * The current objects and the revision they are at, once the cache has synced (resourceVersion=0 reads: any recent
   * state will do); undefined when it has not within timeoutMs. Shared objects: never mutate them.
   */
  async read(timeoutMs: number): Promise<{ items: ReadonlyMap<string, Obj>; revision: number } | undefined> {
    if (!this.running && !this.closed) this.start();
    if (!this.synced) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    return this.synced ? { items: this.items, revision: this.revision } : undefined;
  }

  close(): void {
    this.closed = true;
    this.current?.close();
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** Lists and follows the type; a watch that ends (error, 410) leaves the cache unsynced until the next lookup restarts it. */
  private start(): void {
    this.running = true;
    const w = (this.current = this.source());
    void (async () => {
      const initial = new Map<string, Obj>();
      let items: Map<string, Obj> | undefined;
      try {
        for await (const ev of w) {
          if (ev.type === 'ERROR') break;
          const obj = ev.object as Obj;
          const rv = Number(obj.metadata.resourceVersion);
          if (ev.type === 'BOOKMARK') {
            if (!items && obj.metadata.annotations?.['k8s.io/initial-events-end'] === 'true') {
              items = this.items = initial;
              this.revision = rv;
              this.synced = true;
              this.wake();
            } else if (items) this.revision = Math.max(this.revision, rv);
            continue;
          }
          const key = cacheKey(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
          const into = items ?? initial;
          if (ev.type === 'DELETED') into.delete(key);
          else into.set(key, obj);
          if (items) this.revision = rv;
        }
      } catch {
        // The lookups fall back to storage; the next one restarts the cache.
      } finally {
        w.close();
        this.synced = false;
        this.running = false;
        this.wake();
      }
    })();
  }
}
