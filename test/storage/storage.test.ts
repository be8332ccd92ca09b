// Runs the storage contract against both backends: the embedded store (in memory and on disk) and a real etcd.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import { isStorageError } from '../../apiserver/storage/interface.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';
import { storageContract } from './contract.js';

/** Waits until `cond` holds, polling each turn of the event loop, for at most 5 s. */
async function eventually(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setImmediate(r));
  }
}

storageContract('embedded (:memory:)', { make: () => Promise.resolve(new EmbeddedStorage({ path: ':memory:' })), progressMs: 100 });

describe('embedded on disk', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-store-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  storageContract('embedded (file, WAL)', {
    make: () => Promise.resolve(new EmbeddedStorage({ path: join(dir, `db-${n++}.sqlite`) })),
    progressMs: 100,
  });

  it('acknowledges a write and sends its event only after the WAL is synced; writes during a sync commit together after it', async () => {
    const held: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    const store = new EmbeddedStorage({ path: join(dir, 'synced.sqlite'), syncWal: (_fd, done) => held.push(done) });
    try {
      const events: string[] = [];
      const w = store.watch('/synced/', { prefix: true });
      const reading = (async () => {
        for await (const ev of w) if (ev.kv) events.push(ev.kv.key);
      })();
      const acked: string[] = [];
      const a = store.create('/synced/a', Buffer.from('a')).then(() => acked.push('a'));
      await eventually(() => held.length === 1);
      // Committed (a read sees it) but not synced: neither acknowledged nor sent.
      assert.equal((await store.get('/synced/a'))?.key, '/synced/a');
      const b = store.create('/synced/b', Buffer.from('b')).then(() => acked.push('b'));
      const c = store.create('/synced/c', Buffer.from('c')).then(() => acked.push('c'));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual([acked, events, held.length], [[], [], 1], 'b and c wait for the sync after the one under way');
      // Writes that come during a sync are not even committed until it ends: then they commit together.
      assert.equal(await store.get('/synced/b'), undefined);
      const before = await store.currentRevision();
      held.shift()!(null);
      await a;
      assert.deepEqual(acked, ['a']);
      await eventually(() => held.length === 1);
      assert.deepEqual([(await store.get('/synced/b'))?.modRevision, (await store.get('/synced/c'))?.modRevision], [before + 1, before + 2]);
      held.shift()!(null);
      await Promise.all([b, c]);
      assert.deepEqual(acked, ['a', 'b', 'c']);
      await eventually(() => events.length === 3);
      assert.deepEqual(events, ['/synced/a', '/synced/b', '/synced/c']);
      // A failed sync refuses the writes waiting for it and stops the store.
      const d = store.create('/synced/d', Buffer.from('d'));
      await eventually(() => held.length === 1);
      held.shift()!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await assert.rejects(d, (err: unknown) => isStorageError(err, 'Unavailable'));
      await assert.rejects(store.get('/synced/a'), (err: unknown) => isStorageError(err, 'Unavailable'));
      await reading.catch(() => undefined);
      assert.deepEqual(events, ['/synced/a', '/synced/b', '/synced/c']);
    } finally {
      await store.close();
    }
  });

  it('closes after the sync under way when it covers every commit, with no sync more', async () => {
    const held: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    let syncs = 0;
    const store = new EmbeddedStorage({ path: join(dir, 'close-sync.sqlite'), syncWal: (_fd, done) => (syncs++, held.push(done)) });
    const a = store.create('/close/a', Buffer.from('a'));
    await eventually(() => held.length === 1);
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, 'close waits for the sync of the commit before it');
    held.shift()!(null);
    await Promise.all([a, closing]);
    assert.equal(syncs, 1);
  });

  it('never reports progress past a commit whose event waits for the WAL sync (a watch cache would drop that event)', async () => {
    const held: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    let hold = false;
    const store = new EmbeddedStorage({ path: join(dir, 'progress.sqlite'), syncWal: (_fd, done) => (hold ? held.push(done) : done(null)) });
    try {
      await store.create('/other/x', Buffer.from('x'));
      const seen: Array<{ type: string; revision: number }> = [];
      const w = store.watch('/idle/', { prefix: true, progressIntervalMs: 20 });
      const reading = (async () => {
        for await (const ev of w) seen.push({ type: ev.type, revision: ev.revision });
      })();
      hold = true;
      const a = store.create('/idle/a', Buffer.from('a'));
      await eventually(() => held.length === 1);
      const committed = await store.currentRevision();
      // The watch is idle while the commit waits: two ticks report progress, not past the unsent commit.
      await eventually(() => seen.filter((e) => e.type === 'PROGRESS').length >= 2);
      hold = false;
      held.shift()!(null);
      const written = await a;
      assert.equal(written.modRevision, committed);
      await eventually(() => seen.some((e) => e.type === 'ADDED'));
      w.close();
      await reading;
      const added = seen.findIndex((e) => e.type === 'ADDED');
      const early = seen.slice(0, added).filter((e) => e.type === 'PROGRESS');
      assert.ok(early.length >= 2);
      for (const p of early) assert.ok(p.revision < written.modRevision, `progress at ${p.revision} sent before the event at ${written.modRevision}`);
    } finally {
      await store.close();
    }
  });

  it('belongs to one store at a time: a second one on the same file fails until the first is closed', async () => {
    const file = join(dir, 'owned.sqlite');
    const first = new EmbeddedStorage({ path: file });
    await first.create('/owned/a', Buffer.from('a'));
    assert.throws(
      () => new EmbeddedStorage({ path: file }),
      (err: unknown) => isStorageError(err, 'Unavailable') && /in use by another process/.test((err as Error).message),
    );
    // The first store is unharmed and still writes.
    await first.create('/owned/b', Buffer.from('b'));
    await first.close();
    const second = new EmbeddedStorage({ path: file });
    try {
      assert.deepEqual((await second.list('/owned/')).items.map((kv) => kv.key), ['/owned/a', '/owned/b']);
    } finally {
      await second.close();
    }
  });
});

describe('etcd', () => {
  let etcd: EtcdServer;
  before(async function () {
    this.timeout(30_000);
    etcd = await startEtcd({ progressIntervalMs: 200 });
  });
  after(async () => etcd.stop());
  storageContract('etcd', { make: () => Promise.resolve(new EtcdStorage({ endpoints: [etcd.endpoint] })), progressMs: 200 });
});
