// The etcd storage's own gRPC transport for Txn, Range and Watch (apiserver/storage/etcd-kv.ts) when the connection misbehaves:
// etcd unreachable, a connection cut under it, a dead first endpoint, an endpoint that never answers.
import assert from 'node:assert/strict';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import { isStorageError, type StorageErrorCode } from '../../apiserver/storage/interface.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';

/** A TCP forwarder in front of etcd whose connections can be cut, and which can stop listening. */
async function proxy(target: URL): Promise<{ endpoint: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const cut = (): void => {
    for (const s of sockets) s.destroy();
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut,
    close: () => {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port that accepts connections and never says a word. */
async function silentServer(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function rejectsWith(p: Promise<unknown>, code: StorageErrorCode): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(isStorageError(err, code), `expected StorageError ${code}, got ${String(err)}`);
    return err as Error;
  }
  assert.fail(`expected StorageError ${code}, got success`);
}

describe('etcd storage transport (Txn, Range and Watch over HTTP/2)', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await etcd?.stop();
  });

  it('gives Unavailable, not a hang, when etcd cannot be reached', async () => {
    const p = await proxy(new URL(etcd.endpoint));
    await p.close();
    const st = new EtcdStorage({ endpoints: [p.endpoint], callTimeoutMs: 5000 });
    try {
      const t0 = performance.now();
      await rejectsWith(st.create('/kv-test/unreachable', Buffer.from('x')), 'Unavailable');
      await rejectsWith(st.get('/kv-test/unreachable'), 'Unavailable');
      assert.ok(performance.now() - t0 < 4000, 'failed fast instead of waiting for the deadline');
    } finally {
      await st.close();
    }
  });

  it('connects again after its connection is cut', async () => {
    const p = await proxy(new URL(etcd.endpoint));
    const st = new EtcdStorage({ endpoints: [p.endpoint], callTimeoutMs: 5000 });
    try {
      const a = await st.create('/kv-test/cut/a', Buffer.from('a'));
      p.cut();
      // The call in flight when the connection drops may fail; a later one must succeed on a new connection.
      const deadline = Date.now() + 5000;
      let b: Awaited<ReturnType<typeof st.create>> | undefined;
      for (let i = 0; !b && Date.now() < deadline; i++) {
        b = await st.create(`/kv-test/cut/b${i}`, Buffer.from('b')).catch((err: unknown) => {
          assert.ok(isStorageError(err, 'Unavailable'), String(err));
          return undefined;
        });
      }
      assert.ok(b && b.modRevision > a.modRevision, 'a create succeeded after the cut');
      const got = await st.get('/kv-test/cut/a');
      assert.equal(Buffer.from(got!.value).toString(), 'a');
    } finally {
      await st.close();
      await p.close();
    }
  });

  it('ends a watch with Unavailable when its connection is cut, and a new watch from the last revision misses nothing', async () => {
    const p = await proxy(new URL(etcd.endpoint));
    const st = new EtcdStorage({ endpoints: [p.endpoint], callTimeoutMs: 5000 });
    try {
      const first = await st.create('/kv-test/watch/0', Buffer.from('0'));
      const w = st.watch('/kv-test/watch/', { fromRevision: first.modRevision });
      const seen: number[] = [];
      let ended: unknown;
      const reading = (async () => {
        try {
          for await (const ev of w) if (ev.type !== 'PROGRESS') seen.push(ev.revision);
        } catch (err) {
          ended = err;
        }
      })();
      const second = await st.create('/kv-test/watch/1', Buffer.from('1'));
      const deadline = Date.now() + 5000;
      while (!seen.includes(second.modRevision) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen, [second.modRevision]);
      p.cut();
      await reading;
      assert.ok(isStorageError(ended, 'Unavailable'), `the watch ended with ${String(ended)}`);
      // Written while nobody watched: a watch from the last revision seen must deliver it.
      const direct = new EtcdStorage({ endpoints: [etcd.endpoint] });
      const third = await direct.create('/kv-test/watch/2', Buffer.from('2'));
      await direct.close();
      const again = st.watch('/kv-test/watch/', { fromRevision: second.modRevision });
      for await (const ev of again) {
        if (ev.type === 'PROGRESS') continue;
        assert.equal(ev.type, 'ADDED');
        assert.equal(ev.revision, third.modRevision);
        break;
      }
      again.close();
    } finally {
      await st.close();
      await p.close();
    }
  });

  it('moves to the next endpoint when the first one is down', async () => {
    const dead = await proxy(new URL(etcd.endpoint));
    await dead.close();
    const st = new EtcdStorage({ endpoints: [dead.endpoint, etcd.endpoint], callTimeoutMs: 5000 });
    try {
      const first = await st.create('/kv-test/failover/0', Buffer.from('x')).catch((err: unknown) => err);
      if (first instanceof Error) assert.ok(isStorageError(first, 'Unavailable'), String(first));
      const kv = await st.create('/kv-test/failover/1', Buffer.from('y'));
      assert.equal(kv.key, '/kv-test/failover/1');
      const updated = await st.update('/kv-test/failover/1', Buffer.from('z'), kv.modRevision);
      assert.equal(updated.createRevision, kv.createRevision);
      await rejectsWith(st.update('/kv-test/failover/1', Buffer.from('w'), kv.modRevision), 'Conflict');
      await st.delete('/kv-test/failover/1');
      assert.equal(await st.get('/kv-test/failover/1'), undefined);
    } finally {
      await st.close();
    }
  });

  it('gives up at the call deadline when the endpoint never answers', async () => {
    const silent = await silentServer();
    const st = new EtcdStorage({ endpoints: [silent.endpoint], callTimeoutMs: 300 });
    try {
      const t0 = performance.now();
      const err = await rejectsWith(st.get('/kv-test/silent'), 'Unavailable');
      const ms = performance.now() - t0;
      assert.ok(ms >= 250 && ms < 3000, `deadline after ${ms.toFixed(0)} ms`);
      assert.match(err.message, /deadline/i);
    } finally {
      await st.close();
      await silent.close();
    }
  });
});
