// A Storage that passes every call through to another and counts its watches (and can break them), for tests and
// benchmarks that check how many storage watches the API server holds.
import { EventQueue } from '../../apiserver/storage/common.js';
import { StorageError, type Storage, type StorageWatch, type WatchOptions } from '../../apiserver/storage/interface.js';

export class InstrumentedStorage {
  /** Open watches by the key they watch. */
  private readonly live = new Map<EventQueue, string>();
  /** Watches opened since the start. */
  opened = 0;
  /** Reads since the start (or since the caller reset them). */
  reads = { get: 0, list: 0 };
  readonly storage: Storage;

  constructor(readonly inner: Storage) {
    const i = inner;
    this.storage = {
      create: (k, v) => i.create(k, v),
      get: (k) => (this.reads.get++, i.get(k)),
      list: (p, o) => (this.reads.list++, i.list(p, o)),
      update: (k, v, r) => i.update(k, v, r),
      guaranteedUpdate: (k, f, o) => i.guaranteedUpdate(k, f, o),
      delete: (k, o) => i.delete(k, o),
      watch: (k, o) => this.watch(k, o),
      count: (p) => i.count(p),
      currentRevision: () => i.currentRevision(),
      compact: (r) => i.compact(r),
      close: () => i.close(),
    };
  }

  /** Watches open now, optionally only those on keys starting with prefix. */
  openWatches(prefix = ''): number {
    let n = 0;
    for (const key of this.live.values()) if (key.startsWith(prefix)) n++;
    return n;
  }

  /** The keys of the open watches (one entry per watch). */
  openWatchKeys(): string[] {
    return [...this.live.values()].sort();
  }

  /** Fails every open watch as a lost connection would. */
  breakAll(): void {
    for (const q of [...this.live.keys()]) q.fail(new StorageError('Unavailable', '', 'connection lost'));
  }

  private watch(key: string, opts?: WatchOptions): StorageWatch {
    const sw = this.inner.watch(key, opts);
    const q = new EventQueue(() => {
      sw.close();
      this.live.delete(q);
    });
    this.live.set(q, key);
    this.opened++;
    void (async () => {
      try {
        for await (const ev of sw) q.push(ev);
        q.close();
      } catch (err) {
        q.fail(err);
      }
    })();
    return q;
  }
}
