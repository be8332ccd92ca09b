// The embedded backend: an append-only revision log in SQLite (in the spirit of k3s's kine), with in-process watch fan-out.
//
// One table, `log`, holds every write (rev = the cluster revision; deletes are tombstones); a key's newest row is its
// current value, found through the (key, rev) index. Writes issued in the same event-loop turn commit as one transaction
// (group commit), each op seeing the effects of those before it; a write is acknowledged only once durable: SQLite
// commits to the WAL without syncing it (synchronous=NORMAL), and the WAL is then fdatasync'd on libuv's thread pool,
// one sync covering every transaction committed before it, before the writes are acknowledged and their events sent
// (what synchronous=FULL gives, without a ~3 ms fsync on the event loop for each commit).
// Compaction removes superseded rows in bounded batches with the event loop free between them, then hands the freed
// pages back to the file system (auto_vacuum=INCREMENTAL), so that a long compaction never holds writes for long.
import { closeSync, existsSync, fdatasync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { logger, type Logger } from '../../lib/logger.js';
import { checkSize, compactForRound, decodeContinue, encodeContinue, EventQueue, guaranteedUpdate, prefixEnd } from './common.js';
import {
  StorageError,
  type DeleteOptions,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Storage,
  type StorageWatch,
  type UpdateFn,
  type UpdateOptions,
  type WatchEvent,
  type WatchOptions,
} from './interface.js';
import type { CompactRound, FormatRecord, Maintenance, SnapshotResult } from './maintenance.js';

export interface EmbeddedOptions {
  /** A file path, or ':memory:' for tests. */
  path: string;
  log?: Logger;
  /** Log rows examined per compaction step (default 2000); the event loop is free between steps. */
  compactBatchRows?: number;
  /** How the WAL is synced after commits (default fs.fdatasync; tests hold or fail it). */
  syncWal?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
}

/** Pages handed back to the file system per incremental-vacuum step (4 MiB at SQLite's 4 KiB pages). */
const VACUUM_STEP_PAGES = 1024;
/** The WAL file is cut back to this size after a checkpoint, so one large transaction does not keep it large. */
const WAL_SIZE_LIMIT = 16 * 1024 * 1024;
/**
 * SQLite's page cache, KiB (better-sqlite3 builds with 16 MB per connection). Reads are the watch cache's, so the cache
 * serves writes: the log's right edge and the key index's inner pages, which fit in a few MB; a leaf it misses comes
 * from the kernel's page cache (a pread). A full 16 MB is the process's RSS (30,000 pods: ~13 MB more).
 */
const PAGE_CACHE_KIB = 4096;
/** Lets pending I/O callbacks and writes (flushed from setImmediate) run between two compaction steps. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface LogRow {
  rev: number;
  key: string;
  deleted: number;
  create_rev: number;
  prev_rev: number;
  value: Buffer;
}

interface Watcher {
  key: string;
  prefix: boolean;
  /** Changes at or below this revision were replayed to it (or were before it started): not sent again. */
  from: number;
  queue: EventQueue;
  touch(): void;
}

interface PendingWrite {
  run: () => { kv: KeyValue; event: WatchEvent };
  resolve: (kv: KeyValue) => void;
  reject: (err: unknown) => void;
}

const EMPTY = Buffer.alloc(0);
/** Why every call fails once a WAL sync has failed (the store stops, see startSync). */
const SYNC_FAILED = 'storage stopped: the write-ahead log could not be synced';

export class EmbeddedStorage implements Storage, Maintenance {
  readonly kind = 'embedded';
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly log: Logger;
  private readonly batchRows: number;
  private readonly syncWal: NonNullable<EmbeddedOptions['syncWal']>;
  /** Compactions run one at a time, in the order asked. */
  private compaction: Promise<void> = Promise.resolve();
  private readonly watchers = new Set<Watcher>();
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  /** The WAL's file descriptor, synced after commits (undefined in memory). */
  private walFd: number | undefined;
  /** Committed batches waiting for the next WAL sync (their acknowledgement and events), in commit order. */
  private unsynced: Array<(err?: unknown) => void> = [];
  /** What the sync under way settles (the commits made before it started). */
  private syncWaiting: Array<(err?: unknown) => void> = [];
  private syncing = false;
  /** The newest revision whose event has been sent to the watchers (commits past it wait for their sync). */
  private announced = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly stmt;

  constructor(opts: EmbeddedOptions) {
    this.path = opts.path;
    this.log = opts.log ?? logger('storage', { backend: 'embedded' });
    this.batchRows = Math.max(1, opts.compactBatchRows ?? 2000);
    this.syncWal = opts.syncWal ?? fdatasync;
    // A second process on the same file waits this long for the lock, then fails (see openSchema).
    this.db = new Database(opts.path, { timeout: 1000 });
    try {
      this.openSchema(opts.path);
    } catch (err) {
      this.db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new StorageError('Unavailable', '', `the store ${opts.path} is in use by another process (another ketch server on this data dir?)`);
      }
      throw err;
    }
    const db = this.db;
    this.stmt = {
      // The newest row of a key; a tombstone there means the key does not exist.
      latest: db.prepare(`SELECT * FROM log WHERE key = ? ORDER BY rev DESC LIMIT 1`),
      getRow: db.prepare(`SELECT * FROM log WHERE rev = ?`),
      insert: db.prepare(`INSERT INTO log(key, deleted, create_rev, prev_rev, value) VALUES (?, ?, ?, ?, ?)`),
      // A created key's create_rev is its own rev: the next rowid.
      insertNew: db.prepare(`INSERT INTO log(key, deleted, create_rev, prev_rev, value) VALUES (?, 0, (SELECT max(rev) + 1 FROM log), 0, ?)`),
      revision: db.prepare(`SELECT max(rev) FROM log`).pluck(),
      compactRev: db.prepare(`SELECT value FROM meta WHERE name = 'compact_rev'`).pluck(),
      setMeta: db.prepare(`INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`),
      getMeta: db.prepare(`SELECT value FROM meta WHERE name = ?`).pluck(),
      // The revision of the last of the next `batch` rows at or below the target (undefined: fewer rows are left).
      batchEnd: db.prepare(`SELECT rev FROM log WHERE rev > ? AND rev <= ? ORDER BY rev LIMIT 1 OFFSET ?`).pluck(),
      // Rows in (lo, hi] superseded at or before the target, and tombstones; never the newest row (revisions are rowids).
      compactRange: db.prepare(
        `DELETE FROM log WHERE rev > @lo AND rev <= @hi AND rev < (SELECT max(rev) FROM log)
         AND (deleted = 1 OR EXISTS (SELECT 1 FROM log n WHERE n.key = log.key AND n.rev > log.rev AND n.rev <= @target))`,
      ),
      listAt: db.prepare(
        `SELECT l.* FROM (SELECT key, max(rev) AS rev FROM log WHERE key > ? AND key < ? AND rev <= ? GROUP BY key) m
         JOIN log l ON l.rev = m.rev WHERE l.deleted = 0 ORDER BY l.key LIMIT ?`,
      ),
      countAt: db.prepare(
        `SELECT count(*) FROM (SELECT max(rev) AS rev FROM log WHERE key > ? AND key < ? AND rev <= ? GROUP BY key) m
         JOIN log l ON l.rev = m.rev WHERE l.deleted = 0`,
      ).pluck(),
      since: db.prepare(`SELECT * FROM log WHERE rev > ? AND key >= ? AND key < ? ORDER BY rev`),
      sinceKey: db.prepare(`SELECT * FROM log WHERE rev > ? AND key = ? ORDER BY rev`),
    };
  }

  private openSchema(path: string): void {
    if (path !== ':memory:') {
      // One process owns the store: locks held for the connection's life instead of taken and dropped (8 fcntl calls)
      // per commit; 8-15% faster single writes here. A second process on the same data dir fails instead of writing
      // behind this one's watches and revision counter. Set before WAL, so that the WAL index lives in memory.
      this.db.pragma('locking_mode = EXCLUSIVE');
      // Freed pages go back to the file system in steps after a compaction; a new file takes the mode before its first
      // table, an older one needs a VACUUM to take it (see migrateAutoVacuum).
      const fresh = this.db.prepare(`SELECT count(*) FROM sqlite_master`).pluck().get() === 0;
      if (fresh) this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      // Commits write the WAL without syncing it; flush() syncs it off the event loop before acknowledging them.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
      this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
      if (!fresh) this.migrateAutoVacuum(path);
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS log (
        rev INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        create_rev INTEGER NOT NULL,
        prev_rev INTEGER NOT NULL,
        value BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS log_key_rev ON log(key, rev);
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT OR IGNORE INTO meta(name, value) VALUES ('compact_rev', 0);
    `);
    // Revisions are rowids: max(rev) + 1, so the newest row is never removed (compaction keeps it) and revisions never
    // go back. Revision 1 is a marker row, so the first write is 2 and resourceVersion "0" keeps its meaning ("any").
    this.db.prepare(`INSERT OR IGNORE INTO log(rev, key, deleted, create_rev, prev_rev, value) VALUES (1, '', 1, 1, 0, x'')`).run();
    this.announced = this.db.prepare(`SELECT max(rev) FROM log`).pluck().get() as number;
    // The WAL exists from the first write in WAL mode and is reused (never unlinked) while the store is open.
    if (path !== ':memory:') this.walFd = openSync(`${path}-wal`, 'r+');
  }

  /** A store made before incremental vacuum: one VACUUM rewrites it in that mode (once; it takes a while on a big file). */
  private migrateAutoVacuum(path: string): void {
    const INCREMENTAL = 2;
    if (this.db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL) return;
    const started = Date.now();
    this.log.info('store migrating to incremental vacuum: one-time VACUUM', { path, bytes: statSync(path).size });
    this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.exec('VACUUM');
    this.log.info('store migrated to incremental vacuum', { path, bytes: statSync(path).size, ms: Date.now() - started });
  }

  // ---- reads -------------------------------------------------------------------------------------------------

  async get(key: string): Promise<KeyValue | undefined> {
    this.checkOpen();
    const row = this.latest(key);
    return row ? toKv(row) : undefined;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.checkOpen();
    const current = this.stmt.revision.get() as number;
    let revision = opts.revision && opts.revision > 0 ? opts.revision : current;
    let after = '';
    if (opts.continue) {
      const token = decodeContinue(prefix, opts.continue);
      revision = token.rv;
      after = token.start;
    }
    if (revision > current) throw new StorageError('Unavailable', prefix, `revision ${revision} is newer than the store (${current})`, current);
    this.checkCompacted(prefix, revision);
    const lower = after || (prefix.length ? prefixBefore(prefix) : '');
    const upper = prefixEnd(prefix);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : -1;
    // One synchronous statement: a consistent snapshot; later pages read the log at the same revision.
    const rows = this.stmt.listAt.all(lower, upper, revision, limit === -1 ? -1 : limit + 1) as LogRow[];
    const result: ListResult = { items: rows.slice(0, limit === -1 ? undefined : limit).map(toKv), revision };
    if (limit !== -1 && rows.length > limit) {
      const last = result.items[result.items.length - 1]!.key;
      result.continue = encodeContinue(revision, last);
      result.remainingItemCount = this.stmt.countAt.get(last, upper, revision) as number;
    }
    return result;
  }

  async count(prefix: string): Promise<number> {
    this.checkOpen();
    return this.stmt.countAt.get(prefixBefore(prefix), prefixEnd(prefix), Number.MAX_SAFE_INTEGER) as number;
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.stmt.revision.get() as number;
  }

  // ---- writes ------------------------------------------------------------------------------------------------

  async create(key: string, value: Uint8Array): Promise<KeyValue> {
    checkSize(key, value);
    return this.write(() => {
      const existing = this.latest(key);
      if (existing) throw new StorageError('KeyExists', key, `key ${key} already exists`, existing.rev);
      const rev = Number(this.stmt.insertNew.run(key, value).lastInsertRowid);
      const kv: KeyValue = { key, value, createRevision: rev, modRevision: rev };
      return { kv, event: { type: 'ADDED', kv, revision: rev } };
    });
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<KeyValue> {
    checkSize(key, value);
    return this.write(() => {
      const cur = this.latest(key);
      if (!cur) throw new StorageError('NotFound', key, `key ${key} not found`);
      if (cur.rev !== expectedRevision) {
        throw new StorageError('Conflict', key, `key ${key} is at revision ${cur.rev}, not ${expectedRevision}`, cur.rev);
      }
      const rev = Number(this.stmt.insert.run(key, 0, cur.create_rev, cur.rev, value).lastInsertRowid);
      const kv: KeyValue = { key, value, createRevision: cur.create_rev, modRevision: rev };
      return { kv, event: { type: 'MODIFIED', kv, prevKv: toKv(cur), revision: rev } };
    });
  }

  guaranteedUpdate(key: string, tryUpdate: UpdateFn, opts?: UpdateOptions): Promise<KeyValue> {
    return guaranteedUpdate(this, key, tryUpdate, opts);
  }

  delete(key: string, opts: DeleteOptions = {}): Promise<KeyValue> {
    return this.write(() => {
      const cur = this.latest(key);
      if (!cur) throw new StorageError('NotFound', key, `key ${key} not found`);
      if (opts.expectedRevision !== undefined && cur.rev !== opts.expectedRevision) {
        throw new StorageError('Conflict', key, `key ${key} is at revision ${cur.rev}, not ${opts.expectedRevision}`, cur.rev);
      }
      const prevKv = toKv(cur);
      opts.precondition?.(prevKv);
      const rev = Number(this.stmt.insert.run(key, 1, cur.create_rev, cur.rev, EMPTY).lastInsertRowid);
      const kv: KeyValue = { ...prevKv, modRevision: rev };
      return { kv, event: { type: 'DELETED', kv, prevKv, revision: rev } };
    });
  }

  /** Waits for any compaction under way, then compacts (see compactNow). */
  compact(revision: number): Promise<void> {
    const run = this.compaction.then(() => this.compactNow(revision));
    // The chain only orders compactions: each caller gets its own outcome through `run`.
    this.compaction = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Drops the rows superseded at or before `revision` and the tombstones there, a bounded batch at a time with the
   * event loop free between batches, then returns the freed pages to the file system. Reads and watches below the
   * revision fail with Compacted from the first step on, so none sees a half-compacted history.
   */
  private async compactNow(revision: number): Promise<void> {
    this.checkOpen();
    const current = this.stmt.revision.get() as number;
    if (revision > current) throw new StorageError('Unavailable', '', `cannot compact to ${revision}: newer than the store (${current})`);
    const already = this.stmt.compactRev.get() as number;
    if (revision <= already) throw new StorageError('Compacted', '', `revision ${revision} is already compacted (at ${already})`, already);
    this.stmt.setMeta.run('compact_rev', revision);
    let after = 0;
    for (;;) {
      // A store closed half way keeps the rest of the history: the next compaction removes it.
      if (this.closed) return;
      const end = this.stmt.batchEnd.get(after, revision, this.batchRows - 1) as number | undefined;
      this.stmt.compactRange.run({ lo: after, hi: end ?? revision, target: revision });
      if (end === undefined) break;
      after = end;
      await yieldToLoop();
    }
    await this.releaseFreePages();
  }

  /** incremental_vacuum in steps (each one short), then a checkpoint, after which the file is its new size. */
  private async releaseFreePages(): Promise<void> {
    if (this.path === ':memory:') return;
    for (;;) {
      if (this.closed) return;
      if ((this.db.pragma('freelist_count', { simple: true }) as number) === 0) break;
      this.db.pragma(`incremental_vacuum(${VACUUM_STEP_PAGES})`);
      await yieldToLoop();
    }
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async compactRound(version: number, revision: number): Promise<CompactRound> {
    this.checkOpen();
    // One process owns this store, so the compaction record is this server's alone: every round is its own.
    const now = this.stmt.revision.get() as number;
    const next = { version: version + 1, revision: now };
    if (revision <= (this.stmt.compactRev.get() as number)) return next;
    return compactForRound(this, next, revision);
  }

  async readFormat(): Promise<FormatRecord | undefined> {
    this.checkOpen();
    const formatVersion = this.stmt.getMeta.get('format_version') as number | undefined;
    if (formatVersion === undefined) return undefined;
    return { formatVersion, ketchVersion: String(this.stmt.getMeta.get('ketch_version') ?? 'unknown') };
  }

  async writeFormat(record: FormatRecord): Promise<void> {
    this.checkOpen();
    this.db.transaction(() => {
      this.stmt.setMeta.run('format_version', record.formatVersion);
      this.stmt.setMeta.run('ketch_version', record.ketchVersion);
    })();
  }

  /** SQLite's online backup (in steps, writes go on meanwhile), checked with quick_check before it is reported done. */
  async snapshot(path: string): Promise<SnapshotResult> {
    this.checkOpen();
    if (existsSync(path)) throw new StorageError('KeyExists', path, `snapshot file ${path} already exists`);
    await this.db.backup(path);
    const copy = new Database(path, { readonly: true });
    try {
      const check = copy.pragma('quick_check', { simple: true }) as string;
      if (check !== 'ok') throw new StorageError('Internal', path, `snapshot ${path} failed its integrity check: ${check}`);
      return { revision: copy.prepare(`SELECT max(rev) FROM log`).pluck().get() as number, size: statSync(path).size };
    } finally {
      copy.close();
    }
  }

  async sizeOnDisk(): Promise<number> {
    if (this.path === ':memory:') return 0;
    const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
    return size(this.path) + size(`${this.path}-wal`);
  }

  // ---- watch -------------------------------------------------------------------------------------------------

  watch(key: string, opts: WatchOptions = {}): StorageWatch {
    const prefix = opts.prefix ?? true;
    let timer: NodeJS.Timeout | undefined;
    const watcher: Watcher = {
      key,
      prefix,
      from: this.announced,
      queue: new EventQueue(() => {
        this.watchers.delete(watcher);
        if (timer) clearInterval(timer);
      }),
      touch: () => undefined,
    };
    try {
      this.checkOpen();
      const from = opts.fromRevision ?? 0;
      if (from > 0) {
        this.checkCompacted(key, from);
        // Replay and registration happen in the same synchronous step, so no event falls between them; changes
        // committed but not yet synced come later through fanOut, as for every watcher.
        const rows = (prefix ? this.stmt.since.all(from, key, prefixEnd(key)) : this.stmt.sinceKey.all(from, key)) as LogRow[];
        for (const row of rows) if (row.rev <= this.announced) watcher.queue.push(this.eventOf(row));
      }
      if (from > watcher.from) watcher.from = from;
      this.watchers.add(watcher);
      if (opts.progressIntervalMs && opts.progressIntervalMs > 0) {
        let idle = true;
        watcher.touch = () => (idle = false);
        timer = setInterval(() => {
          // Every event up to the revision reported has been sent: the newest announced, not the newest committed
          // (a commit waiting for its WAL sync is sent later, and a watch cache would drop it as already seen).
          if (idle) watcher.queue.push({ type: 'PROGRESS', revision: this.announced });
          idle = true;
        }, opts.progressIntervalMs);
        timer.unref();
      }
    } catch (err) {
      watcher.queue.fail(err);
    }
    return watcher.queue;
  }

  close(): Promise<void> {
    return (this.closing ??= this.shut());
  }

  /** Commits and syncs what is queued, then closes (also after a failed sync stopped the store). */
  private async shut(): Promise<void> {
    if (!this.closed) this.flush(true);
    await this.synced();
    this.closed = true;
    if (this.walFd !== undefined) closeSync(this.walFd);
    for (const w of [...this.watchers]) w.queue.fail(new StorageError('Unavailable', w.key, 'storage closed'));
    this.db.close();
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  private write(run: PendingWrite['run']): Promise<KeyValue> {
    if (this.closed) return Promise.reject(new StorageError('Unavailable', '', 'storage closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ run, resolve, reject });
      // While a WAL sync is under way, writes wait for it to end and then commit together (see startSync): acknowledged
      // only after the next sync either way, they cost one transaction instead of one per turn of the loop.
      if (!this.flushScheduled && !this.syncing) {
        this.flushScheduled = true;
        // After the loop's I/O phase: every request that arrived in this turn (each in its own I/O callback, so a
        // microtask would flush them one by one, an fsync each) has queued its write, and they commit together.
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Commits every queued write. Each op does its reads and then exactly one INSERT, so an op alone needs no explicit
   * transaction (the single-threaded caller makes read-then-insert atomic), and a failing op has written nothing.
   * Several ops share one transaction: one fsync for all of them (group commit).
   */
  private flush(force = false): void {
    this.flushScheduled = false;
    // A sync began after this flush was scheduled: the writes commit when it ends.
    if (this.syncing && !force) return;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    type Outcome = { ok: true; kv: KeyValue; event: WatchEvent } | { ok: false; err: unknown };
    const outcomes: Outcome[] = [];
    const attempt = (op: PendingWrite): Outcome => {
      try {
        return { ok: true, ...op.run() };
      } catch (err) {
        return { ok: false, err };
      }
    };
    try {
      if (batch.length === 1) outcomes.push(attempt(batch[0]!));
      else {
        this.db.transaction(() => {
          for (const op of batch) {
            const o = attempt(op);
            // An I/O error can abort the whole transaction: then nothing in the batch was written.
            if (!o.ok && !this.db.inTransaction) throw o.err;
            outcomes.push(o);
          }
        })();
      }
    } catch (err) {
      for (const op of batch) op.reject(err);
      return;
    }
    const settle = (syncErr?: unknown): void => {
      for (let i = 0; i < batch.length; i++) {
        const o = outcomes[i]!;
        if (!o.ok) batch[i]!.reject(o.err);
        else if (syncErr) batch[i]!.reject(new StorageError('Unavailable', o.kv.key, `the write could not be made durable: ${String(syncErr)}`));
        else {
          this.fanOut(o.event);
          batch[i]!.resolve(o.kv);
        }
      }
    };
    if (this.walFd === undefined || !outcomes.some((o) => o.ok)) settle();
    else this.afterSync(settle);
  }

  /** Runs `settle` once the WAL is synced past the commit just made. */
  private afterSync(settle: (err?: unknown) => void): void {
    this.unsynced.push(settle);
    if (!this.syncing) this.startSync();
  }

  /**
   * One fdatasync at a time, covering every commit made before it started; writes that come meanwhile commit together
   * when it ends, and wait for the next.
   * A failed sync leaves what reached the disk unknown: the store stops (every later call fails), as etcd stops on a
   * failed fsync, and the writes waiting for it are refused.
   */
  private startSync(): void {
    this.syncing = true;
    const waiting = (this.syncWaiting = this.unsynced);
    this.unsynced = [];
    this.syncWal(this.walFd!, (err) => {
      this.syncing = false;
      if (err && !this.closed) {
        this.log.error('syncing the write-ahead log failed; the store stops', { path: this.path, error: String(err) });
        this.closed = true;
        for (const w of [...this.watchers]) w.queue.fail(new StorageError('Unavailable', w.key, SYNC_FAILED));
      }
      for (const s of waiting) s(err ?? undefined);
      // The writes that came during the sync commit now, in one transaction, and start the next sync.
      if (this.pending.length) {
        if (this.closed) this.refusePending();
        else this.flush();
      }
      if (this.unsynced.length && !this.syncing) this.startSync();
    });
  }

  /** The store stopped (a failed sync) with writes queued and not committed: they are refused. */
  private refusePending(): void {
    const batch = this.pending;
    this.pending = [];
    for (const op of batch) op.reject(new StorageError('Unavailable', '', SYNC_FAILED));
  }

  /** Resolves once every commit made so far is synced and acknowledged. */
  private synced(): Promise<void> {
    // Commits waiting for the next sync: with them. None: the sync under way covers every commit (no extra sync).
    if (this.unsynced.length) return new Promise((resolve) => this.afterSync(() => resolve()));
    if (this.syncing) return new Promise((resolve) => this.syncWaiting.push(() => resolve()));
    return Promise.resolve();
  }

  private fanOut(ev: WatchEvent): void {
    const key = ev.kv!.key;
    if (ev.revision > this.announced) this.announced = ev.revision;
    for (const w of this.watchers) {
      if (ev.revision <= w.from) continue;
      if (w.prefix ? key.startsWith(w.key) : key === w.key) {
        w.touch();
        w.queue.push(ev);
      }
    }
  }

  private eventOf(row: LogRow): WatchEvent {
    const prevRow = row.prev_rev ? (this.stmt.getRow.get(row.prev_rev) as LogRow | undefined) : undefined;
    const prevKv = prevRow ? toKv(prevRow) : undefined;
    if (row.deleted) {
      const kv: KeyValue = prevKv ? { ...prevKv, modRevision: row.rev } : { key: row.key, value: EMPTY, createRevision: row.create_rev, modRevision: row.rev };
      return { type: 'DELETED', kv, ...(prevKv ? { prevKv } : {}), revision: row.rev };
    }
    const kv = toKv(row);
    return row.prev_rev ? { type: 'MODIFIED', kv, ...(prevKv ? { prevKv } : {}), revision: row.rev } : { type: 'ADDED', kv, revision: row.rev };
  }

  private latest(key: string): LogRow | undefined {
    const row = this.stmt.latest.get(key) as LogRow | undefined;
    return row && !row.deleted ? row : undefined;
  }

  private checkCompacted(key: string, revision: number): void {
    const compacted = this.stmt.compactRev.get() as number;
    if (revision < compacted) {
      throw new StorageError('Compacted', key, `required revision ${revision} has been compacted (oldest available: ${compacted})`, compacted);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('Unavailable', '', 'storage closed');
  }
}

function toKv(row: LogRow): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.create_rev, modRevision: row.rev };
}

/** The largest string smaller than prefix, so `key > prefixBefore(p)` includes p itself. */
function prefixBefore(prefix: string): string {
  if (!prefix) return '';
  const c = prefix.charCodeAt(prefix.length - 1);
  return c > 0 ? prefix.slice(0, -1) + String.fromCharCode(c - 1) + '\uffff' : prefix.slice(0, -1);
}
