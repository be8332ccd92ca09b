// A REST client over two real in-process HTTP servers, one of which stops answering (as a SIGSTOPped API server does:
// connections are accepted, nothing comes back). On a fake clock: the health check marks it down, its reads and watches
// move to the other server (the watch from its last resourceVersion), a read that times out is retried on the other
// one, and a write that was sent is never sent twice.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../lib/clock.js';
import type { ClientConfig } from './kubeconfig.js';
import { RestClient, type ObjectLike } from './rest.js';
import { CONFIGMAPS } from './resources.js';
import { waitFor } from '../test/support/util.js';

/** A tiny API server: readyz, get, create and watch of ConfigMaps; frozen, it holds every request unanswered. */
class FakeApiServer {
  frozen = false;
  readonly held: ServerResponse[] = [];
  readonly seen: string[] = [];
  private readonly server: Server;
  url = '';

  constructor(readonly name: string) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Answers what was held, as a resumed process does. */
  thaw(): void {
    this.frozen = false;
    for (const res of this.held.splice(0)) this.answer(res.req, res);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // The body is read before anything else, so that a held request's body is not lost.
    req.resume();
    req.on('end', () => {
      if (this.frozen) this.held.push(res);
      else this.answer(req, res);
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, 'http://x');
    this.seen.push(`${req.method} ${url.pathname}${url.searchParams.get('watch') ? ` watch rv=${url.searchParams.get('resourceVersion')}` : ''}`);
    if (url.pathname === '/readyz') return void res.end('ok');
    const cm = (rv: string): ObjectLike => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default', resourceVersion: rv, annotations: { served: this.name } } });
    if (url.searchParams.get('watch')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'MODIFIED', object: cm(String(Number(url.searchParams.get('resourceVersion')) + 1)) })}\n`);
      return; // the stream stays open
    }
    res.writeHead(req.method === 'POST' ? 201 : 200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(cm('7')));
  }
}

describe('RestClient failover over two servers, one of which stops answering', () => {
  let a: FakeApiServer;
  let b: FakeApiServer;
  let clock: FakeClock;
  let rest: RestClient;
  beforeEach(async () => {
    a = new FakeApiServer('a');
    b = new FakeApiServer('b');
    await Promise.all([a.start(), b.start()]);
    clock = new FakeClock();
    rest = client(1000);
  });
  const client = (healthCheckMs: number): RestClient => {
    const config: ClientConfig = { server: a.url, servers: [a.url, b.url], namespace: 'default' };
    return new RestClient(config, 'failover-unit', { clock, healthCheckMs, probeTimeoutMs: 500, attemptTimeoutMs: 3000 });
  };
  afterEach(async () => {
    rest.balancer?.close();
    a.thaw();
    await Promise.all([a.stop(), b.stop()]);
  });

  const served = (o: ObjectLike): string | undefined => o.metadata?.annotations?.served;
  const until = (what: string, cond: () => boolean): Promise<boolean> => waitFor(cond, { timeoutMs: 5000, intervalMs: 5, what });

  it('the health check marks the paused server down: a read waiting on it and its watch move to the other server', async () => {
    const cms = rest.resource<ObjectLike>(CONFIGMAPS);
    assert.equal(served(await cms.get('default', 'x')), 'a');
    const abort = new AbortController();
    const watch = cms.watch('default', { resourceVersion: '10', signal: abort.signal });
    const first = await watch.next();
    assert.equal((first.value as { object: ObjectLike }).object.metadata?.resourceVersion, '11');

    a.frozen = true;
    const read = cms.get('default', 'x');
    await until('the read to reach a', () => a.held.length === 1);
    // The next health check: b answers, a does not within the probe timeout; a is marked down.
    await clock.advance(1000);
    await until('the health check to reach a', () => a.held.length === 2);
    await clock.advance(500);
    assert.deepEqual(rest.balancer!.states().map((s) => [s.server === a.url ? 'a' : 'b', s.healthy, s.current]), [['a', false, false], ['b', true, true]]);
    assert.equal(served(await read), 'b', 'the read held by a was retried on b');
    const moved = await watch.next();
    assert.equal((moved.value as { object: ObjectLike }).object.metadata?.resourceVersion, '12');
    assert.ok(b.seen.includes('GET /api/v1/namespaces/default/configmaps watch rv=11'), `the watch resumed on b from its last revision: ${b.seen.join(', ')}`);
    // New requests go to b; a's held requests were only the read and the check.
    assert.equal(served(await cms.create('default', { metadata: { name: 'y' } })), 'b');
    abort.abort();
    await watch.return(undefined);

    // a answers again: the next check takes it back, and the client stays on b.
    a.thaw();
    await clock.advance(1000);
    await until('a to be healthy', () => rest.balancer!.states().every((s) => s.healthy));
    assert.equal(served(await cms.get('default', 'x')), 'b');
  });

  it('a read with no answer within the attempt timeout is retried on the other server; a sent write is not', async () => {
    // Health checks are later than the attempt timeouts here.
    rest.balancer?.close();
    rest = client(60_000);
    const cms = rest.resource<ObjectLike>(CONFIGMAPS);
    assert.equal(served(await cms.get('default', 'x')), 'a');
    a.frozen = true;
    const read = cms.get('default', 'x');
    const write = cms.create('default', { metadata: { name: 'y' } });
    await until('the read and the write to reach a', () => a.held.length === 2);
    await clock.advance(3000);
    assert.equal(served(await read), 'b', 'the read was retried on b after 3 s');
    assert.ok(!b.seen.includes('POST /api/v1/namespaces/default/configmaps'), 'the write that reached a was not sent to b');
    // a comes back: the write it held is answered there, once.
    a.thaw();
    assert.equal(served(await write), 'a');
    assert.deepEqual(a.seen.filter((s) => s.startsWith('POST')), ['POST /api/v1/namespaces/default/configmaps']);
  });
});
