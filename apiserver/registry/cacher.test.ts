// The cacher: one storage watch whatever the number of watchers, replay from memory, 410 past the buffer or
// compaction, bookmarks for idle watchers, exact resumption (or relist) after the storage watch fails, and the current
// objects it keeps for admission lookups and resourceVersion=0 reads.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, flushMicrotasks } from '../../lib/clock.js';
import { findByResource } from '../../api/resources.js';
import { EmbeddedStorage } from '../storage/embedded.js';
import { isStorageError, type KeyValue, type StorageWatch } from '../storage/interface.js';
import { InstrumentedStorage } from '../../test/support/instrumented-storage.js';
import { Registry } from './index.js';
import type { Obj } from './object.js';
import type { WatchOut } from './rest.js';
import type { Store } from './store.js';
import { Cacher, type CachedObjects, type CacheWatch } from './cacher.js';

const enc = (s: string): Uint8Array => Buffer.from(JSON.stringify({ v: s }));
type Ev = { type: string; key: string; rev: number; v?: string };

/** Reads n items from a cache watch, failing after a deadline. */
async function take<O>(w: CacheWatch<O>, n: number): Promise<O[]> {
  const out: O[] = [];
  const it = w[Symbol.asyncIterator]();
  const deadline = setTimeout(() => w.close(), 3000);
  try {
    while (out.length < n) {
      const r = await it.next();
      if (r.done) break;
      out.push(r.value);
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

describe('cacher', () => {
  let db: EmbeddedStorage;
  let st: InstrumentedStorage;
  let clock: FakeClock;
  let cache: Cacher<{ v: string }>;
  const P = '/registry/core/things/';
  const mk = (capacity = 16): Cacher<{ v: string }> =>
    new Cacher({
      storage: st.storage,
      prefix: P,
      capacity,
      bookmarkIntervalMs: 1000,
      clock,
      decode: (kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as { v: string },
    });
  const watch = (from: number, key = P, bookmarks = false, filter: (v: string) => boolean = () => true): CacheWatch<Ev> =>
    cache.watch<Ev>({
      fromRevision: from,
      key,
      translate: (e) => (filter(e.obj.v) ? { type: e.type, key: e.key, rev: e.revision, v: e.obj.v } : undefined),
      ...(bookmarks ? { bookmark: (rev: number) => ({ type: 'BOOKMARK', key: '', rev }) } : {}),
    });

  /** The test's cache replaced by one of this capacity that counts its decodes. */
  const counting = (capacity: number): { decodes: number } => {
    const counted = { decodes: 0 };
    cache.close();
    cache = new Cacher({
      storage: st.storage,
      prefix: P,
      capacity,
      clock,
      decode: (kv) => {
        counted.decodes++;
        return JSON.parse(Buffer.from(kv.value).toString('utf8')) as { v: string };
      },
    });
    return counted;
  };

  beforeEach(() => {
    db = new EmbeddedStorage({ path: ':memory:' });
    st = new InstrumentedStorage(db);
    clock = new FakeClock();
    cache = mk();
  });
  afterEach(async () => {
    cache.close();
    await db.close();
  });

  it('current() and the objects carry the stored createRevision, for listed objects and for changes after the list', async () => {
    const a = await db.create(`${P}a`, enc('1'));
    await db.update(`${P}a`, enc('2'), a.modRevision);
    const listedAt = await db.currentRevision();
    let snap = cache.snapshot(listedAt);
    for (let i = 0; !snap && i < 100; i++) {
      await new Promise<void>((r) => setImmediate(r));
      snap = cache.snapshot(listedAt);
    }
    assert.ok(snap, 'listed');
    assert.equal(snap.stored(`${P}a`)?.createRevision, a.createRevision);
    assert.equal(cache.current(`${P}a`, listedAt)?.kv.createRevision, a.createRevision);
    const b = await db.create(`${P}b`, enc('3'));
    for (let i = 0; !cache.snapshot(b.modRevision) && i < 100; i++) await new Promise<void>((r) => setImmediate(r));
    assert.equal(cache.snapshot(b.modRevision)?.stored(`${P}b`)?.createRevision, b.createRevision);
  });

  it('lookup() and count() answer as the snapshot does, without one: unknown until listed and as new as asked', async () => {
    const a = await db.create(`${P}a`, enc('1'));
    // The first call starts the list and cannot answer yet.
    assert.equal(cache.lookup(`${P}a`, a.modRevision), undefined);
    assert.equal(cache.count(a.modRevision), undefined);
    for (let i = 0; cache.count(a.modRevision) === undefined && i < 100; i++) await new Promise<void>((r) => setImmediate(r));
    assert.equal(cache.count(a.modRevision), 1);
    assert.deepEqual(cache.lookup(`${P}a`, a.modRevision), { v: '1' });
    assert.equal(cache.lookup(`${P}nothing`, a.modRevision), undefined);
    // Asked for a revision the cache has not reached: no answer rather than an old one.
    assert.equal(cache.lookup(`${P}a`, a.modRevision + 100), undefined);
    assert.equal(cache.count(a.modRevision + 100), undefined);
    const b = await db.update(`${P}a`, enc('2'), a.modRevision);
    for (let i = 0; cache.lookup(`${P}a`, b.modRevision) === undefined && i < 100; i++) await new Promise<void>((r) => setImmediate(r));
    assert.deepEqual(cache.lookup(`${P}a`, b.modRevision), { v: '2' });
    assert.deepEqual(cache.lookup(`${P}a`, b.modRevision), cache.snapshot(b.modRevision)?.get(`${P}a`));
    await db.delete(`${P}a`);
    const gone = await db.currentRevision();
    for (let i = 0; cache.count(gone) !== 0 && i < 100; i++) await new Promise<void>((r) => setImmediate(r));
    assert.equal(cache.count(gone), 0);
    assert.equal(cache.lookup(`${P}a`, gone), undefined);
  });

  it('keeps the bytes of buffered changes in buffers of their own (etcd sends them as slices of a whole response)', async () => {
    // The storage's watch events as etcd's client gives them: values that are views into one larger buffer.
    const slice = (kv: KeyValue | undefined): KeyValue | undefined => {
      if (!kv) return kv;
      const big = Buffer.alloc(kv.value.byteLength + 64 * 1024);
      big.set(kv.value, 1000);
      return { ...kv, value: big.subarray(1000, 1000 + kv.value.byteLength) };
    };
    const sliced = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== 'watch') return Reflect.get(target, prop, receiver) as unknown;
        return (key: string, opts: Parameters<EmbeddedStorage['watch']>[1]): StorageWatch => {
          const w = target.watch(key, opts);
          return {
            close: () => w.close(),
            async *[Symbol.asyncIterator]() {
              for await (const ev of w) yield { ...ev, ...(ev.kv ? { kv: slice(ev.kv) } : {}), ...(ev.prevKv ? { prevKv: slice(ev.prevKv) } : {}) };
            },
          };
        };
      },
    });
    const kept: KeyValue[] = [];
    cache = new Cacher({ storage: sliced, prefix: P, decode: (kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as { v: string } });
    const w = cache.watch<string>({ fromRevision: 0, key: P, translate: (e) => (kept.push(e.kv), e.obj.v) });
    const a = await db.create(`${P}a`, enc('1'));
    await db.update(`${P}a`, enc('2'), a.modRevision);
    assert.deepEqual(await take(w, 2), ['1', '2']);
    for (const kv of kept) assert.equal(kv.value.byteLength, kv.value.buffer.byteLength);
    assert.equal(JSON.parse(Buffer.from(kept[1]!.value).toString()).v, '2');
  });

  it("gives a change's previous state, reusing the key's decoded previous change and decoding it otherwise", async () => {
    const counted = counting(4);
    const from = await db.currentRevision();
    // A watcher reading each change's object and the one before it, as a selecting watch does.
    const seen: string[] = [];
    const w = cache.watch<string>({ fromRevision: from, key: P, translate: (e) => `${e.prev()?.v ?? '-'}>${e.obj.v}` });
    const a = await db.create(`${P}a`, enc('1'));
    const a2 = await db.update(`${P}a`, enc('2'), a.modRevision);
    await db.update(`${P}a`, enc('3'), a2.modRevision);
    seen.push(...(await take(w, 3)));
    assert.deepEqual(seen, ['->1', '1>2', '2>3']);
    assert.equal(counted.decodes, 3, 'each state decoded once');
    // Past the buffer (capacity 4) the key's previous change is gone: its state is decoded from the event's prevKv.
    const b = await db.create(`${P}b`, enc('x'));
    for (let i = 0; i < 4; i++) await db.create(`${P}c${i}`, enc(`c${i}`));
    await db.update(`${P}b`, enc('y'), b.modRevision);
    const rest = await take(w, 6);
    assert.equal(rest.at(-1), 'x>y');
    assert.equal(counted.decodes, 3 + 6 + 1, 'the evicted previous state decoded again');
    w.close();
  });

  it('keeps no parsed copy of a superseded change: a watcher resuming later decodes it again and sees the same history', async () => {
    const counted = counting(16);
    const from = await db.currentRevision();
    const line = (e: { type: string; obj: { v: string }; prev(): { v: string } | undefined }): string => `${e.type}:${e.prev()?.v ?? '-'}>${e.obj.v}`;
    const first = cache.watch<string>({ fromRevision: from, key: P, translate: line });
    const a = await db.create(`${P}a`, enc('1'));
    const a2 = await db.update(`${P}a`, enc('2'), a.modRevision);
    const a3 = await db.update(`${P}a`, enc('3'), a2.modRevision);
    await db.delete(`${P}a`, { expectedRevision: a3.modRevision });
    const live = await take(first, 4);
    assert.deepEqual(live, ['ADDED:->1', 'MODIFIED:1>2', 'MODIFIED:2>3', 'DELETED:3>3']);
    const liveDecodes = counted.decodes;
    const late = cache.watch<string>({ fromRevision: from, key: P, translate: line });
    assert.deepEqual(await take(late, 4), live, 'the same history from the buffer');
    // Superseded changes kept their bytes only: their objects and previous states are decoded again for the replay.
    assert.ok(counted.decodes > liveDecodes, `${counted.decodes} decodes after the replay, ${liveDecodes} before`);
    first.close();
    late.close();
  });

  it('serves any number of watchers from one storage watch, each with its own filter', async () => {
    const from = await db.currentRevision();
    const all = Array.from({ length: 50 }, () => watch(from));
    const evens = watch(from, P, false, (v) => Number(v) % 2 === 0);
    const ns = watch(from, `${P}b/`);
    for (let i = 0; i < 6; i++) await db.create(`${P}${i % 2 ? 'a' : 'b'}/${i}`, enc(String(i)));
    for (const w of all) assert.deepEqual((await take(w, 6)).map((e) => e.v), ['0', '1', '2', '3', '4', '5']);
    assert.deepEqual((await take(evens, 3)).map((e) => e.v), ['0', '2', '4']);
    assert.deepEqual((await take(ns, 3)).map((e) => e.key), [`${P}b/0`, `${P}b/2`, `${P}b/4`]);
    assert.equal(st.opened, 1);
    assert.equal(st.openWatches(), 1);
    assert.equal(cache.stats().watchers, 52);
    for (const w of all) w.close();
    assert.equal(cache.stats().watchers, 2);
  });

  it('replays from memory after a recent revision, and answers too old past the buffer', async () => {
    const first = watch(await db.currentRevision());
    const revs: number[] = [];
    for (let i = 0; i < 20; i++) revs.push((await db.create(`${P}k${i}`, enc(String(i)))).modRevision);
    await take(first, 20);
    // The last 16 are buffered: a watch from the 5th revision replays 15 without a new storage watch.
    const resumed = await take(watch(revs[4]!), 15);
    assert.deepEqual(resumed.map((e) => e.v), Array.from({ length: 15 }, (_, i) => String(i + 5)));
    assert.equal(st.opened, 1);
    await assert.rejects(take(watch(revs[1]!), 1), (e: unknown) => isStorageError(e, 'Compacted') && /too old resource version: \d+ \(\d+\)/.test(e.message));
  });

  it('answers too old for a buffered revision that storage has compacted', async () => {
    const first = watch(await db.currentRevision());
    const a = await db.create(`${P}a`, enc('a'));
    await db.create(`${P}b`, enc('b'));
    await take(first, 2);
    assert.equal((await take(watch(a.modRevision), 1))[0]?.v, 'b');
    await db.compact(await db.currentRevision());
    await assert.rejects(take(watch(a.modRevision), 1), (e: unknown) => isStorageError(e, 'Compacted'));
  });

  it('starts at the first watcher\'s revision so that history before the first watch is replayed', async () => {
    const a = await db.create(`${P}a`, enc('a'));
    await db.create(`${P}b`, enc('b'));
    await db.create(`${P}c`, enc('c'));
    assert.deepEqual((await take(watch(a.modRevision), 2)).map((e) => e.v), ['b', 'c']);
  });

  it('sends bookmarks to idle watchers that asked for them', async () => {
    const rev = await db.currentRevision();
    const idle = watch(rev, `${P}quiet/`, true);
    const busy = watch(rev, `${P}busy/`, true);
    const none = watch(rev, `${P}quiet/`);
    await flushMicrotasks();
    const w = await db.create(`${P}busy/x`, enc('x'));
    await clock.advance(1000);
    assert.deepEqual(await take(idle, 1), [{ type: 'BOOKMARK', key: '', rev: w.modRevision }]);
    assert.deepEqual((await take(busy, 1)).map((e) => e.type), ['ADDED'], 'a watcher that just got an event needs no bookmark');
    await clock.advance(1000);
    assert.deepEqual((await take(busy, 1)).map((e) => e.type), ['BOOKMARK']);
    none.close();
    assert.equal((await take(none, 1)).length, 0);
  });

  it('resumes a failed storage watch where it stopped: watchers see no gap', async () => {
    const w = watch(await db.currentRevision());
    await db.create(`${P}1`, enc('1'));
    assert.equal((await take(w, 1))[0]?.v, '1');
    st.breakAll();
    await flushMicrotasks();
    await db.create(`${P}2`, enc('2')); // written while the cache is not watching
    await clock.advance(100);
    await db.create(`${P}3`, enc('3'));
    assert.deepEqual((await take(w, 2)).map((e) => e.v), ['2', '3']);
    assert.equal(st.opened, 2);
    assert.equal(cache.stats().storageWatches, 1);
  });

  it('relists when the missed history is compacted: watchers get too old, later watchers start afresh', async () => {
    const w = watch(await db.currentRevision());
    await db.create(`${P}1`, enc('1'));
    await take(w, 1);
    st.breakAll();
    await flushMicrotasks();
    await db.create(`${P}2`, enc('2'));
    await db.compact(await db.currentRevision());
    await clock.advance(100);
    await flushMicrotasks();
    await assert.rejects(take(w, 1), (e: unknown) => isStorageError(e, 'Compacted'));
    const after = watch(await db.currentRevision());
    await db.create(`${P}3`, enc('3'));
    assert.deepEqual((await take(after, 1)).map((e) => e.v), ['3']);
  });

  it('ends every watcher on close', async () => {
    const w = watch(await db.currentRevision());
    await flushMicrotasks();
    cache.close();
    assert.deepEqual(await take(w, 1), []);
    assert.equal(st.openWatches(), 0);
  });
});

describe('registry watches share one storage watch per resource type', () => {
  it('opens exactly one storage watch for 200 pod watchers with different selectors', async () => {
    const db = new EmbeddedStorage({ path: ':memory:' });
    const st = new InstrumentedStorage(db);
    const registry = new Registry(st.storage, { clock: { now: () => new Date() }, admission: [] });
    const pods = registry.store(findByResource('', 'v1', 'pods')!);
    try {
      const rv = String(await db.currentRevision());
      const watches = Array.from({ length: 200 }, (_, i) =>
        pods.watch(i % 2 ? 'default' : '', { resourceVersion: rv, ...(i % 3 === 0 ? { labelSelector: 'app=a' } : {}) }),
      );
      const firsts = watches.map(async (w) => {
        for await (const ev of w) return ev;
        return undefined;
      });
      await pods.create('default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { app: 'a' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      const got = (await Promise.all(firsts)) as WatchOut[];
      assert.ok(got.every((e) => e.type === 'ADDED' && (e.object as { metadata: { name: string } }).metadata.name === 'p'));
      assert.equal(st.opened, 1);
      assert.equal(pods.cacheStats()?.storageWatches, 1);
      for (const w of watches) w.close();
    } finally {
      registry.close();
      await db.close();
    }
  });
});

describe('updates start from the watch cache (kube\'s cached GuaranteedUpdate) and fall back to storage', () => {
  const cm = (name: string, v: string): Obj => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v } });
  let db: EmbeddedStorage;
  let st: InstrumentedStorage;
  let registry: Registry;
  let cms: Store;
  beforeEach(() => {
    db = new EmbeddedStorage({ path: ':memory:' });
    st = new InstrumentedStorage(db);
    registry = new Registry(st.storage, { clock: { now: () => new Date() }, admission: [] });
    cms = registry.store(findByResource('', 'v1', 'configmaps')!);
  });
  afterEach(async () => {
    registry.close();
    await db.close();
  });

  /** Waits until the store's watch cache has dispatched revision rev. */
  async function caughtUp(rev: number): Promise<void> {
    for (let i = 0; (cms.cacheStats()?.revision ?? 0) < rev; i++) {
      if (i > 1000) throw new Error(`the watch cache did not reach revision ${rev}`);
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** The store's watch cache running, and caught up with its last write. */
  async function cacheRunning(): Promise<void> {
    const w = cms.watch('default', { resourceVersion: String(await db.currentRevision()) });
    await cms.create('default', cm('probe', '0'));
    for await (const ev of w) if ((ev.object as Obj).metadata.name === 'probe') break;
    w.close();
  }

  it('reads no storage for an update of a key the cache has its latest change of', async () => {
    await cacheRunning();
    const created = await cms.create('default', cm('a', '1'));
    const b = await cms.update('default', 'a', (cur) => ({ ...cur!, data: { v: '1b' } }), { currentReadOnly: true });
    await caughtUp(Number(b.obj.metadata.resourceVersion));
    const reads = st.reads.get;
    const out = await cms.update('default', 'a', (cur) => ({ ...cur!, metadata: { ...cur!.metadata, resourceVersion: cur!.metadata.resourceVersion }, data: { v: '2' } }), { currentReadOnly: true });
    assert.equal(st.reads.get, reads, 'no storage read');
    assert.ok(Number(out.obj.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
    assert.deepEqual(((await cms.get('default', 'a')) as Obj & { data: unknown }).data, { v: '2' });
  });

  it('retries from storage when the cache is behind: a precondition newer than it, no change against it', async () => {
    // A store on disk whose WAL syncs can be held: a write held there is committed (reads see it) but not yet sent to
    // the watch cache, as a write of another API server on the same etcd is until its event arrives.
    const dir = mkdtempSync(join(tmpdir(), 'ketch-cacher-'));
    let hold = false;
    const held: Array<(err: null) => void> = [];
    const disk = new EmbeddedStorage({ path: join(dir, 'db.sqlite'), syncWal: (_fd, done) => (hold ? held.push(done) : done(null)) });
    const reg = new Registry(disk, { clock: { now: () => new Date() }, admission: [] });
    const store = reg.store(findByResource('', 'v1', 'configmaps')!);
    const key = store.key('default', 'b');
    const data = async (): Promise<unknown> => ((await store.get('default', 'b')) as Obj & { data: unknown }).data;
    try {
      const w = store.watch('default', { resourceVersion: String(await disk.currentRevision()) });
      await store.create('default', cm('b', '1'));
      for await (const ev of w) if ((ev.object as Obj).metadata.name === 'b') break;
      w.close();
      const behindTheCache = async (v: string): Promise<number> => {
        const cur = (await disk.get(key))!;
        const obj = JSON.parse(Buffer.from(cur.value).toString('utf8')) as Obj;
        hold = true;
        void disk.update(key, Buffer.from(JSON.stringify({ ...obj, data: { v } })), cur.modRevision);
        while (!held.length) await new Promise<void>((r) => setImmediate(r));
        return disk.currentRevision();
      };
      const release = (): void => {
        hold = false;
        for (const done of held.splice(0)) done(null);
      };
      // The client's precondition is storage's revision: against the cache's older state it would be a conflict.
      const rev = await behindTheCache('other');
      // update() consults the cache before its first await: the held write is not in it yet.
      const updated = store.update('default', 'b', (c) => ({ ...c!, metadata: { ...c!.metadata, resourceVersion: String(rev) }, data: { v: '3' } }), { currentReadOnly: true });
      release();
      assert.ok(Number((await updated).obj.metadata.resourceVersion) > rev);
      assert.deepEqual(await data(), { v: '3' });
      // Storage changed behind the cache, then the value the cache still has: a write, not "unchanged".
      await behindTheCache('other2');
      const same = store.update('default', 'b', (c) => ({ ...c!, data: { v: '3' } }), { currentReadOnly: true });
      release();
      await same;
      assert.deepEqual(await data(), { v: '3' });
    } finally {
      release0(held);
      reg.close();
      await disk.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Lets every held sync finish (a test that failed half way). */
function release0(held: Array<(err: null) => void>): void {
  for (const done of held.splice(0)) done(null);
}

const ns = (name: string): Obj => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

describe('the current objects: Cacher.snapshot and Store.lookup (admission reads from memory)', () => {
  let db: EmbeddedStorage;
  let registry: Registry;
  let namespaces: Store;
  beforeEach(() => {
    db = new EmbeddedStorage({ path: ':memory:' });
    registry = new Registry(db, { clock: { now: () => new Date() }, admission: [] });
    namespaces = registry.store(findByResource('', 'v1', 'namespaces')!);
  });
  afterEach(async () => {
    registry.close();
    await db.close();
  });

  it('lookup sees every write of this server at once: create, graceful delete, removal', async () => {
    for (let i = 0; i < 20; i++) {
      const name = `n${i}`;
      assert.equal(await namespaces.lookup('', name), undefined);
      await namespaces.create('', ns(name));
      assert.equal((await namespaces.lookup('', name))?.metadata.name, name);
      // A namespace delete first marks it Terminating (its finalizer stays until the content is gone).
      await namespaces.delete('', name);
      assert.ok((await namespaces.lookup('', name))?.metadata.deletionTimestamp, `n${i} looked up as terminating`);
      await namespaces.update('', name, (cur) => ({ ...cur!, spec: { finalizers: [] } }), { subresource: 'finalize' });
      assert.equal(await namespaces.lookup('', name), undefined);
    }
  });

  it('answers from memory once listed, and not before it has caught up with a given revision', async () => {
    await namespaces.create('', ns('a'));
    const prefix = namespaces.prefix('');
    const cache = new Cacher<Obj>({ storage: db, prefix, decode: (kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as Obj });
    const snapshot = async (atLeast: number): Promise<CachedObjects<Obj> | undefined> => {
      let snap = cache.snapshot(atLeast);
      for (let i = 0; !snap && i < 100; i++) {
        await new Promise<void>((r) => setImmediate(r));
        snap = cache.snapshot(atLeast);
      }
      return snap;
    };
    try {
      assert.equal(cache.snapshot(0), undefined, 'nothing before the first list');
      assert.deepEqual([...((await snapshot(0))?.keys() ?? [])].filter((k) => k === `${prefix}a`), [`${prefix}a`]);
      const b = await namespaces.create('', ns('b'));
      const rev = Number(b.metadata.resourceVersion);
      // Behind the write: no answer (the caller reads storage) until the event is in.
      const early = cache.snapshot(rev);
      assert.ok(early === undefined || early.stored(`${prefix}b`) !== undefined);
      assert.ok((await snapshot(rev))?.stored(`${prefix}b`), 'the cache caught up with the write');
      await namespaces.update('', 'b', (cur) => ({ ...cur!, spec: { finalizers: [] } }), { subresource: 'finalize' });
      await namespaces.delete('', 'b');
      const gone = Number((await db.currentRevision()));
      assert.equal((await snapshot(gone))?.stored(`${prefix}b`), undefined, 'a delete leaves the objects');
    } finally {
      cache.close();
    }
  });

  it('keeps the current objects as stored bytes of their own, decoding one only when it is read', async () => {
    const prefix = namespaces.prefix('');
    let decodes = 0;
    const cache = new Cacher<Obj>({
      storage: db,
      prefix,
      decode: (kv) => {
        decodes++;
        return JSON.parse(Buffer.from(kv.value).toString('utf8')) as Obj;
      },
    });
    try {
      for (let i = 0; i < 20; i++) await namespaces.create('', ns(`bytes-${i}`));
      let snap = cache.snapshot(0);
      for (let i = 0; !snap && i < 100; i++) {
        await new Promise<void>((r) => setImmediate(r));
        snap = cache.snapshot(0);
      }
      await namespaces.create('', ns('bytes-late'));
      const rev = await db.currentRevision();
      for (let i = 0; (cache.snapshot(rev)?.revision ?? 0) < rev && i < 100; i++) await new Promise<void>((r) => setImmediate(r));
      const view = cache.snapshot(rev)!;
      assert.equal(decodes, 0, 'listing and following events decodes nothing');
      const stored = view.stored(`${prefix}bytes-3`)!;
      assert.equal(stored.value.byteOffset, 0, 'a buffer of its own, not a slice of a larger one');
      assert.equal(stored.value.buffer.byteLength, stored.value.byteLength);
      assert.equal(view.get(`${prefix}bytes-3`)?.metadata.name, 'bytes-3');
      assert.equal(view.get(`${prefix}bytes-3`)?.metadata.name, 'bytes-3');
      assert.equal(decodes, 1, 'a repeated lookup is decoded once');
      assert.equal(view.get(`${prefix}bytes-late`)?.metadata.name, 'bytes-late');
    } finally {
      cache.close();
    }
  });
});
