// The cacher (kube-apiserver's Cacher): it wraps Storage for one resource type with one storage watch whatever the
// number of watchers, a ring buffer of recent events so that watches from a recent resourceVersion are served from
// memory, fan-out to every watcher with its own filter, and the current objects of the type (listed once, then kept
// by the same events) for resourceVersion=0 reads and admission lookups. Older than the buffer → 410 Expired; a failed
// storage watch is resumed exactly where it stopped, or, when that history is compacted, restarted at the current
// revision (watchers then get 410, and the objects are listed again).
//
// Memory: the current objects are kept as their stored bytes (copied to their exact size), not parsed: a pod costs
// its ~2.5 KB of JSON instead of a parsed object, its serialization and its bytes. An object is decoded when a reader
// asks for it (a few recent decodes are kept); an event is decoded once, when a watcher's filter needs it, and its
// JSON (the stored bytes with the resourceVersion spliced in) is made once and shared by every watcher.
import { AsyncQueue } from '../../lib/async-queue.js';
import { realClock, type Clock, type TimerHandle } from '../../lib/clock.js';
import { exactBuffer } from '../../lib/exact-buffer.js';
import { isStorageError, StorageError, type KeyValue, type Storage, type StorageWatch, type WatchEvent } from '../storage/interface.js';

/** One change as every watcher of the type sees it: decoded at most once, shared by all. Never mutate obj or prev(). */
export interface CachedEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly key: string;
  readonly revision: number;
  /** The stored value: the new state; for DELETED the last state. */
  readonly kv: KeyValue;
  /** The new state (for DELETED the last state), at the event's revision; decoded on first use. */
  readonly obj: T;
  /** The state before this change, when the backend had it (decoded on first use). */
  prev(): T | undefined;
  /** The object's JSON at the event's revision (see CacherOptions.json), made on first use. */
  json(): Buffer;
}

/** The current objects of the type at a revision: stored bytes, decoded on use. Never mutate what get() returns. */
export interface CachedObjects<T> {
  readonly revision: number;
  readonly size: number;
  keys(): IterableIterator<string>;
  get(key: string): T | undefined;
  /** The stored value of a key (its bytes, at its revision). */
  stored(key: string): KeyValue | undefined;
}

export interface CacheWatchOptions<T, O> {
  /** Deliver changes with revision > fromRevision (0: only changes from now on). */
  fromRevision: number;
  /** A key prefix (a namespace, '' for all) or, with exact, one key. */
  key: string;
  exact?: boolean;
  /** The watcher's filter and conversion, run during fan-out; undefined drops the change. */
  translate(ev: CachedEvent<T>): O | undefined;
  /** Set for watchers that want bookmarks: builds one at a revision every event up to which has been delivered. */
  bookmark?(revision: number): O;
}

export interface CacheWatch<O> extends AsyncIterable<O> {
  close(): void;
}

export interface CacherOptions<T> {
  storage: Storage;
  /** The resource type's key prefix, ending in '/'. */
  prefix: string;
  decode(kv: KeyValue, revision: number): T;
  /** The JSON of a stored value at a revision, for a change of this type (default: decode, then serialize). */
  json?(kv: KeyValue, revision: number, type: CachedEvent<T>['type']): Buffer;
  /** Events kept in memory for watches that resume from a resourceVersion (default 2048). */
  capacity?: number;
  /** Idle watchers that asked for bookmarks get one this often (default 10s). */
  bookmarkIntervalMs?: number;
  /** A watcher with this many undelivered events is closed (it re-watches from its last resourceVersion). */
  maxPending?: number;
  clock?: Clock;
  onError?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface CacherStats {
  watchers: number;
  /** Storage watches open now (0 before the first watcher, then 1). */
  storageWatches: number;
  /** Storage watches opened since the start (more than 1 after failures). */
  storageWatchesOpened: number;
  /** The buffer holds every change with revision > oldest. */
  oldest: number;
  revision: number;
  buffered: number;
}

interface Watcher<T, O> {
  opts: CacheWatchOptions<T, O>;
  queue: AsyncQueue<O>;
  /** The newest revision this watcher has been brought to (events or bookmarks). */
  rv: number;
  idle: boolean;
}

const MAX_BACKOFF_MS = 5_000;
/** Decoded current objects kept for repeated lookups (namespaces, service accounts, a pod its node writes). */
const DECODED_KEPT = 512;

/** A current object as kept: its bytes, copied to their exact size (never a slice of a larger buffer), and revisions. */
interface Stored {
  value: Uint8Array;
  rev: number;
  created: number;
}

/** The key-value with its bytes in a buffer of their own size (the same one when they already are). */
function exactKv(kv: KeyValue): KeyValue {
  const value = exactCopy(kv.value);
  return value === kv.value ? kv : { ...kv, value };
}

const storedKv = (key: string, st: Stored): KeyValue => ({ key, value: st.value, createRevision: st.created, modRevision: st.rev });

function exactCopy(v: Uint8Array): Uint8Array {
  return v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : exactBuffer([v]);
}

/**
 * A current object's bytes as kept for as long as it is current: the same memory (an exact copy when a slice), in a
 * view object of its own. The codec keeps the object this server wrote, parsed, for as long as the very view it stored
 * lives (its decode then costs no parse): held by the current objects, that was a parsed copy of every object this
 * server last wrote (~17 MB at 9,000 pods), where the buffered change that shares the view (while in the ring) is enough.
 */
function keptBytes(v: Uint8Array): Uint8Array {
  const exact = exactCopy(v);
  return exact === v ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : exact;
}

/** A change, decoded and serialized on first use. */
class Change<T> implements CachedEvent<T> {
  private decoded: T | undefined;
  private prevDecoded: { obj: T | undefined } | undefined;
  private encoded: Buffer | undefined;

  constructor(
    readonly type: CachedEvent<T>['type'],
    readonly key: string,
    readonly revision: number,
    public kv: KeyValue,
    private readonly prevKv: KeyValue | undefined,
    private readonly o: Pick<CacherOptions<T>, 'decode' | 'json'>,
    before?: Change<T>,
  ) {
    // The key's previous change, when it is the state before this one and was decoded: its object is prev().
    if (prevKv && before?.decoded !== undefined && before.revision === prevKv.modRevision && before.type !== 'DELETED') {
      this.prevDecoded = { obj: before.decoded };
    }
  }

  get obj(): T {
    return (this.decoded ??= this.o.decode(this.kv, this.revision));
  }

  prev(): T | undefined {
    const p = this.prevKv;
    return (this.prevDecoded ??= { obj: p ? this.o.decode(p, p.modRevision) : undefined }).obj;
  }

  json(): Buffer {
    return (this.encoded ??= this.o.json ? this.o.json(this.kv, this.revision, this.type) : Buffer.from(JSON.stringify(this.obj)));
  }

  /**
   * Every watcher has had the change: it drops the parsed previous state (one resuming later decodes it again), and
   * keeps its bytes in a view of its own (keptBytes), so that the object this server wrote, which the codec keeps for
   * as long as the written view lives, is kept only when the change was decoded (idle at 1,000 nodes: ~22 MB of parsed
   * Nodes and Leases held through the buffered changes). The next update of the key decodes it then.
   */
  fannedOut(kept: Uint8Array): void {
    this.prevDecoded = undefined;
    if (kept !== this.kv.value) this.kv = { ...this.kv, value: kept };
  }

  /**
   * The key changed again: only watchers resuming from history still read this change, so it keeps its bytes and
   * drops what it made of them (its object, now the next change's previous state, and its JSON line).
   */
  superseded(): void {
    this.decoded = undefined;
    this.prevDecoded = undefined;
    this.encoded = undefined;
  }
}

export class Cacher<T> {
  private readonly ring: (CachedEvent<T> | undefined)[];
  private first = 0;
  private size = 0;
  private oldest = 0;
  private revision = 0;
  private readonly watchers = new Set<Watcher<T, unknown>>();
  private started: Promise<void> | undefined;
  private storageWatch: StorageWatch | undefined;
  private opened = 0;
  private ticker: TimerHandle | undefined;
  private closed = false;
  private readonly clock: Clock;
  private readonly maxPending: number;
  /** The current objects by key, complete up to objectsRevision; undefined until listed (and after a relist is due). */
  private objects: Map<string, Stored> | undefined;
  private objectsRevision = 0;
  /** Recent decodes of current objects, valid while their stored value is the same. */
  private readonly decoded = new Map<string, { stored: Stored; obj: T }>();
  /** The newest buffered change of each key (while it is in the buffer): the decoded previous state of the next one. */
  private readonly latest = new Map<string, Change<T>>();
  /** The list under way that fills `objects`. */
  private loading: Promise<void> | undefined;

  constructor(private readonly o: CacherOptions<T>) {
    this.ring = new Array<CachedEvent<T> | undefined>(Math.max(1, o.capacity ?? 2048));
    this.clock = o.clock ?? realClock;
    this.maxPending = o.maxPending ?? Math.max(10_000, 2 * this.ring.length);
  }

  stats(): CacherStats {
    return {
      watchers: this.watchers.size,
      storageWatches: this.storageWatch ? 1 : 0,
      storageWatchesOpened: this.opened,
      oldest: this.oldest,
      revision: this.revision,
      buffered: this.size,
    };
  }

  watch<O>(opts: CacheWatchOptions<T, O>): CacheWatch<O> {
    const w: Watcher<T, O> = { opts, queue: new AsyncQueue<O>(() => this.watchers.delete(w as Watcher<T, unknown>)), rv: opts.fromRevision, idle: true };
    if (this.closed) w.queue.fail(new StorageError('Unavailable', this.o.prefix, 'watch cache closed'));
    else this.admit(w).catch((err: unknown) => w.queue.fail(err));
    return w.queue;
  }

  /** Stops the storage watch and ends every watcher. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.objects = undefined;
    this.decoded.clear();
    this.latest.clear();
    this.ticker?.cancel();
    this.storageWatch?.close();
    for (const w of [...this.watchers]) w.queue.close();
  }

  // ---- the current objects ----

  /**
   * The current objects by key when they include every change up to `atLeast` (the revision of this server's last
   * write of the type, so that a lookup sees its own writes); undefined when they do not (yet): read storage then.
   * The first call starts the list that fills them. Shared objects: never mutate them.
   */
  snapshot(atLeast: number): CachedObjects<T> | undefined {
    if (this.objects) return this.objectsRevision >= atLeast ? this.view(this.objects) : undefined;
    this.load().catch((err: unknown) => this.listFailed(err));
    return undefined;
  }

  /**
   * The current objects and the revision they are at, once listed (resourceVersion=0 reads: any recent state will
   * do); undefined when that takes longer than timeoutMs or fails (read storage then). Never mutate them.
   */
  async read(timeoutMs: number): Promise<CachedObjects<T> | undefined> {
    if (!this.objects) {
      let timer: TimerHandle | undefined;
      const waited = new Promise<void>((resolve) => (timer = this.clock.setTimer(timeoutMs, resolve)));
      await Promise.race([this.load(), waited]).catch((err: unknown) => this.listFailed(err));
      timer?.cancel();
    }
    return this.objects ? this.view(this.objects) : undefined;
  }

  /**
   * A key's current stored value and object when the cache has every change up to `atLeast`: its newest buffered
   * change (decoded at most once, shared with the watchers), else the current objects when they are listed. Undefined
   * when not known here (absent, or its last change left the buffer): read storage. Never mutate the object.
   */
  current(key: string, atLeast: number): { kv: KeyValue; obj: T } | undefined {
    if (this.revision < atLeast) return undefined;
    const last = this.latest.get(key);
    if (last) return { kv: last.kv, obj: last.obj };
    const st = this.objects && this.objectsRevision >= atLeast ? this.objects.get(key) : undefined;
    return st && { kv: storedKv(key, st), obj: this.decodeStored(key, st) };
  }

  /**
   * snapshot(atLeast)?.get(key) without making a view (admission looks objects up several times per write): the
   * current object, or undefined when absent or not known here yet (the first call starts the list).
   */
  lookup(key: string, atLeast: number): T | undefined {
    const items = this.objects;
    if (!items) {
      this.load().catch((err: unknown) => this.listFailed(err));
      return undefined;
    }
    const st = this.objectsRevision >= atLeast ? items.get(key) : undefined;
    return st && this.decodeStored(key, st);
  }

  /** snapshot(atLeast)?.size without making a view; undefined when not known here yet. */
  count(atLeast: number): number | undefined {
    if (!this.objects) {
      this.load().catch((err: unknown) => this.listFailed(err));
      return undefined;
    }
    return this.objectsRevision >= atLeast ? this.objects.size : undefined;
  }

  /** The current objects as readers see them (read synchronously: the next event changes them). */
  private view(items: Map<string, Stored>): CachedObjects<T> {
    const self = this;
    return {
      revision: this.objectsRevision,
      size: items.size,
      keys: () => items.keys(),
      get: (key) => {
        const st = items.get(key);
        return st && self.decodeStored(key, st);
      },
      stored: (key) => {
        const st = items.get(key);
        return st && storedKv(key, st);
      },
    };
  }

  private decodeStored(key: string, st: Stored): T {
    const hit = this.decoded.get(key);
    if (hit?.stored === st) return hit.obj;
    const obj = this.o.decode(storedKv(key, st), st.rev);
    this.decoded.delete(key);
    if (this.decoded.size >= DECODED_KEPT) this.decoded.delete(this.decoded.keys().next().value!);
    this.decoded.set(key, { stored: st, obj });
    return obj;
  }

  /** A failed list leaves the objects unlisted: readers go to storage, and the next one lists again. */
  private listFailed(err: unknown): void {
    this.o.onError?.('listing the current objects failed; reads go to storage', { prefix: this.o.prefix, error: String(err) });
  }

  private load(): Promise<void> {
    if (this.closed || this.objects) return Promise.resolve();
    return (this.loading ??= this.list().finally(() => (this.loading = undefined)));
  }

  /** Lists the type once the storage watch runs, then replays what the ring buffer has past the list's revision. */
  private async list(): Promise<void> {
    await this.ensureStarted(0);
    for (let attempt = 1; ; attempt++) {
      const listed = await this.o.storage.list(this.o.prefix, {});
      if (this.closed) return;
      // The buffer must hold every change after the list (it may be behind it: those are skipped when they come).
      if (listed.revision < this.oldest) {
        if (attempt < 3) continue;
        throw new StorageError('Unavailable', this.o.prefix, `the list (revision ${listed.revision}) is older than the watch (${this.oldest})`);
      }
      const items = new Map<string, Stored>();
      for (const kv of listed.items) items.set(kv.key, { value: keptBytes(kv.value), rev: kv.modRevision, created: kv.createRevision });
      this.objectsRevision = listed.revision;
      this.objects = items;
      for (let i = this.firstAfter(listed.revision); i < this.size; i++) this.apply(this.at(i));
      return;
    }
  }

  /** Brings the objects up to a change (one they do not have yet). */
  private apply(e: CachedEvent<T>): void {
    const items = this.objects;
    if (!items || e.revision <= this.objectsRevision) return;
    if (e.type === 'DELETED') {
      items.delete(e.key);
      this.decoded.delete(e.key);
    } else items.set(e.key, { value: keptBytes(e.kv.value), rev: e.revision, created: e.kv.createRevision });
    this.objectsRevision = e.revision;
  }

  // ---- admitting a watcher ----

  private async admit<O>(w: Watcher<T, O>): Promise<void> {
    const from = w.opts.fromRevision;
    await this.ensureStarted(from);
    if (w.queue.isClosed) return;
    // A resume point inside the buffer but compacted in storage is gone all the same (a client must not get a
    // history that storage no longer vouches for); asking storage costs one read, only when there is history to replay.
    if (from > 0 && from >= this.oldest && this.firstAfter(from) < this.size && (await this.compacted(from))) {
      throw this.tooOld(from, from);
    }
    if (w.queue.isClosed) return;
    if (from > 0 && from < this.oldest) throw this.tooOld(from, this.oldest);
    // Replay and registration in one synchronous step: no event falls between them.
    for (let i = this.firstAfter(from); i < this.size; i++) this.offer(w, this.at(i));
    this.watchers.add(w as Watcher<T, unknown>);
  }

  private tooOld(from: number, oldest: number): StorageError {
    return new StorageError('Compacted', this.o.prefix, `too old resource version: ${from} (${oldest})`, oldest);
  }

  /** Whether storage has compacted revision away (a cheap read at that revision of a key that cannot exist). */
  private async compacted(revision: number): Promise<boolean> {
    try {
      await this.o.storage.list(`${this.o.prefix}\u0001`, { revision, limit: 1 });
      return false;
    } catch (err) {
      if (isStorageError(err, 'Compacted')) return true;
      if (isStorageError(err, 'Unavailable')) return false;
      throw err;
    }
  }

  // ---- the storage watch ----

  /** The storage watch, started by the first watcher (or list of the objects). */
  private ensureStarted(from: number): Promise<void> {
    return (this.started ??= this.start(from).catch((err: unknown) => {
      this.started = undefined;
      throw err;
    }));
  }

  /** Starts at `from` (replaying storage history for the first watcher) when storage still has it, else at the current revision. */
  private async start(from: number): Promise<void> {
    const current = await this.o.storage.currentRevision();
    const begin = from > 0 && from < current && !(await this.compacted(from)) ? from : current;
    this.oldest = this.revision = begin;
    this.scheduleTick();
    void this.run(begin);
  }

  private async run(from: number): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      let err: unknown;
      try {
        const sw = this.o.storage.watch(this.o.prefix, { fromRevision: from, prefix: true, progressIntervalMs: this.o.bookmarkIntervalMs ?? 10_000 });
        this.storageWatch = sw;
        this.opened++;
        if (this.closed) sw.close();
        for await (const ev of sw) {
          failures = 0;
          this.dispatch(ev);
        }
        err = new StorageError('Unavailable', this.o.prefix, 'storage watch ended');
      } catch (e) {
        err = e;
      } finally {
        this.storageWatch = undefined;
      }
      if (this.closed) return;
      from = this.revision;
      if (isStorageError(err, 'Compacted')) {
        // The events since `from` are gone: start over at the current revision; every watcher must relist.
        try {
          from = await this.o.storage.currentRevision();
          this.reset(from);
          continue;
        } catch (e) {
          err = e;
        }
      }
      this.o.onError?.('storage watch failed; resuming', { prefix: this.o.prefix, revision: from, error: String(err) });
      const ms = Math.min(MAX_BACKOFF_MS, 100 * 2 ** failures++);
      await new Promise<void>((r) => this.clock.setTimer(ms, r));
    }
  }

  private reset(revision: number): void {
    this.ring.fill(undefined);
    this.latest.clear();
    this.first = this.size = 0;
    this.oldest = this.revision = revision;
    // The objects missed the compacted changes: the next read lists them again.
    this.objects = undefined;
    this.decoded.clear();
    for (const w of [...this.watchers]) w.queue.fail(this.tooOld(w.rv, revision));
  }

  private dispatch(ev: WatchEvent): void {
    if (ev.revision <= this.revision) {
      // A change at or below a revision storage said was complete (its progress) breaks the watch contract: every
      // watcher misses it. Said, so that it shows (it cost claims their deletion when the embedded store did it).
      if (ev.kv) this.o.onError?.('storage sent a change older than its progress; watchers miss it', { prefix: this.o.prefix, revision: ev.revision, progress: this.revision, key: ev.kv.key });
      return;
    }
    this.revision = ev.revision;
    if (ev.type === 'PROGRESS' || !ev.kv) {
      // No change of the type up to here: the objects are as new as that.
      if (this.objects && ev.revision > this.objectsRevision) this.objectsRevision = ev.revision;
      return;
    }
    const e = this.cached(ev, ev.kv);
    this.append(e);
    this.apply(e);
    for (const w of this.watchers) this.offer(w, e);
    const st = this.objects?.get(e.key);
    e.fannedOut(st?.rev === e.revision ? st.value : keptBytes(e.kv.value));
  }

  private cached(ev: WatchEvent, storedKv: KeyValue): Change<T> {
    // Kept while the change is buffered: bytes of their own (etcd's come as slices of a whole watch response).
    const kv = exactKv(storedKv);
    const before = this.latest.get(kv.key);
    const prevKv = ev.prevKv && this.known(ev.prevKv, before);
    const e = new Change<T>(ev.type as CachedEvent<T>['type'], kv.key, ev.revision, kv, prevKv, this.o, before);
    before?.superseded();
    if (e.type === 'DELETED') this.latest.delete(kv.key);
    else this.latest.set(kv.key, e);
    return e;
  }

  /**
   * A change's previous state with the bytes this cache already holds for it (the key's buffered change or current
   * object at that revision), else a copy of its own: storage reads the previous value anew for each change.
   */
  private known(prevKv: KeyValue, before: CachedEvent<T> | undefined): KeyValue {
    if (before && before.type !== 'DELETED' && before.kv.modRevision === prevKv.modRevision) return before.kv;
    const st = this.objects?.get(prevKv.key);
    return st?.rev === prevKv.modRevision ? storedKv(prevKv.key, st) : exactKv(prevKv);
  }

  private offer<O>(w: Watcher<T, O>, e: CachedEvent<T>): void {
    if (e.revision <= w.rv) return;
    const o = w.opts;
    if (o.exact ? e.key !== o.key : !e.key.startsWith(o.key)) return;
    let out: O | undefined;
    try {
      out = o.translate(e);
    } catch (err) {
      // One watcher's failing filter ends that watcher, not the shared storage watch.
      w.queue.fail(err);
      return;
    }
    if (out === undefined) return;
    w.rv = e.revision;
    w.idle = false;
    // A watcher that does not keep up is dropped rather than buffering without bound; its client re-watches.
    if (w.queue.length >= this.maxPending) w.queue.close();
    else w.queue.push(out);
  }

  // ---- the ring buffer ----

  private at(i: number): CachedEvent<T> {
    return this.ring[(this.first + i) % this.ring.length]!;
  }

  private append(e: CachedEvent<T>): void {
    const cap = this.ring.length;
    if (this.size === cap) {
      const gone = this.at(0);
      if (this.latest.get(gone.key) === gone) this.latest.delete(gone.key);
      this.oldest = gone.revision;
      this.ring[this.first] = e;
      this.first = (this.first + 1) % cap;
    } else {
      this.ring[(this.first + this.size) % cap] = e;
      this.size++;
    }
  }

  /** Index of the first buffered event with revision > rev (size when none). */
  private firstAfter(rev: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.at(mid).revision <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- bookmarks ----

  private scheduleTick(): void {
    if (this.closed) return;
    this.ticker = this.clock.setTimer(this.o.bookmarkIntervalMs ?? 10_000, () => {
      this.tick();
      this.scheduleTick();
    });
  }

  /** Every watcher that wants bookmarks and got nothing since the last tick learns how far the type has got. */
  private tick(): void {
    for (const w of this.watchers) {
      if (w.idle && w.opts.bookmark && this.revision >= w.rv && !w.queue.isClosed) {
        w.rv = this.revision;
        w.queue.push(w.opts.bookmark(this.revision));
      }
      w.idle = true;
    }
  }
}
