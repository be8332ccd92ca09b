// Watches beyond the plain chunked stream: over WebSocket (events as JSON messages, refusals as HTTP answers before
// the handshake), and a watcher that stops reading, which is cut off instead of growing the server's buffers.
import { strict as assert } from 'node:assert';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';
import { startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const CM = '/api/v1/namespaces/default/configmaps';
const cm = (name: string, data: J = { a: 'b' }): J => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });

async function until(what: string, probe: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Open watch streams, as /metrics counts them. */
async function openWatches(h: Harness): Promise<number> {
  const text = (await h.call('GET', '/metrics')).text;
  const m = /^apiserver_longrunning_requests\{[^}]*verb="WATCH"[^}]*\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('watch streams', function () {
  let h: Harness;
  before(async () => {
    h = await startHarness({ maxWatches: 3, watchMaxBufferedBytes: 2 * 1024 * 1024 });
  });
  after(async () => {
    await h.stop();
  });

  const ws = (path: string, token: string | null = h.adminToken): WebSocket =>
    new WebSocket(`wss://127.0.0.1:${h.api.port}${path}`, { ca: h.api.caCertPem, headers: token ? { Authorization: `Bearer ${token}` } : {} });

  /** The HTTP status a refused WebSocket handshake got. */
  const refused = (socket: WebSocket): Promise<number> =>
    new Promise((resolve, reject) => {
      socket.on('unexpected-response', (_req: ClientRequest, res: IncomingMessage) => resolve(res.statusCode ?? 0));
      socket.on('open', () => reject(new Error('the handshake succeeded')));
      socket.on('error', () => undefined);
    });

  it('sends each change as a JSON WatchEvent message over WebSocket, and ends the watch when the socket closes', async () => {
    const rv = String(((await h.call('GET', CM)).json.metadata as J).resourceVersion);
    const socket = ws(`${CM}?watch=true&resourceVersion=${rv}`);
    const events: { type: string; object: { metadata: { name: string } } }[] = [];
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, false);
      events.push(JSON.parse(data.toString('utf8')) as (typeof events)[number]);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    assert.equal(await openWatches(h), 1);
    assert.equal((await h.call('POST', CM, { body: cm('over-ws') })).status, 201);
    assert.equal((await h.call('PATCH', `${CM}/over-ws`, { body: { data: { a: 'c' } }, contentType: 'application/merge-patch+json' })).status, 200);
    assert.equal((await h.call('DELETE', `${CM}/over-ws`)).status, 200);
    await until('three events', () => events.length >= 3);
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED over-ws', 'MODIFIED over-ws', 'DELETED over-ws']);
    socket.close();
    await until('the watch to end', async () => (await openWatches(h)) === 0);
  });

  it('refuses a WebSocket watch with an HTTP answer: 401 without credentials, 404 for an unknown resource, 429 past the limit', async () => {
    assert.equal(await refused(ws(`${CM}?watch=true`, null)), 401);
    assert.equal(await refused(ws('/api/v1/namespaces/default/widgets?watch=true')), 404);
    const open = [ws(`${CM}?watch=true`), ws(`${CM}?watch=true`), ws(`${CM}?watch=true`)];
    await Promise.all(open.map((s) => new Promise((r) => s.once('open', r))));
    assert.equal(await refused(ws(`${CM}?watch=true`)), 429);
    for (const s of open) s.close();
    await until('the watches to end', async () => (await openWatches(h)) === 0);
  });

  it('cuts off a watcher that stops reading, while one that reads gets every event', async function () {
    // 50 MiB written, validated, stored and sent to the reading watcher: seconds on a quiet machine, more on a loaded one.
    this.timeout(90_000);
    const rv = String(((await h.call('GET', CM)).json.metadata as J).resourceVersion);
    // The slow one: a raw request whose response is never read.
    let closed = false;
    let got: IncomingMessage | undefined;
    const slow = httpsRequest(
      { host: '127.0.0.1', port: h.api.port, path: `${CM}?watch=true&resourceVersion=${rv}`, ca: h.api.caCertPem, agent: false, headers: { Authorization: `Bearer ${h.adminToken}` } },
      (res) => {
        got = res;
        res.pause();
      },
    );
    slow.on('close', () => (closed = true));
    slow.on('error', () => (closed = true));
    slow.end();
    await until('the slow watch to start', () => got !== undefined);
    const fast = await h.watch(`${CM}?watch=true&resourceVersion=${rv}`);
    // 50 MiB: enough to fill the kernel's socket buffers on both sides (up to 32 + 4 MiB here), then the server's 2 MiB.
    const big = 'x'.repeat(256 * 1024);
    const n = 200;
    for (let i = 0; i < n; i++) assert.equal((await h.call('POST', CM, { body: cm(`big-${i}`, { big }) })).status, 201);
    let seen = 0;
    while (seen < n) {
      const ev = await fast.next(10_000);
      assert.ok(ev, `the reading watcher ended after ${seen} events`);
      if (ev.type === 'ADDED') seen++;
    }
    // The server has ended the slow watch (its client, paused, cannot see that yet: the bytes before the end are unread).
    await until('the slow watcher to be cut off', async () => (await openWatches(h)) === 1);
    // Once it reads, the client gets what was sent before the cut, then the connection's end.
    got!.resume();
    await until('the slow client to see its connection end', () => closed, 30_000);
    fast.close();
    await until('no watch open', async () => (await openWatches(h)) === 0);
  });
});
