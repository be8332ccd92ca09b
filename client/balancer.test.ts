// The client-side balancer: sticks to a healthy server, moves on when one is marked down, rechecks the down ones on
// its clock; and which failures move a request to another server.
import assert from 'node:assert/strict';
import { errors } from '../api/errors.js';
import { FakeClock } from '../lib/clock.js';
import { failoverVerdict, NOT_SENT_CODE, ServerBalancer } from './balancer.js';
import { loadClientConfig } from './kubeconfig.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const errno = (code: string): Error => Object.assign(new Error(`connect ${code}`), { code });

describe('ServerBalancer', () => {
  it('sticks to the current server, fails over to the next healthy one, and takes a server back once its health check answers', async () => {
    const clock = new FakeClock();
    const up = new Set(['https://b:6443', 'https://c:6443']);
    const probed: string[] = [];
    const downed: string[] = [];
    const b = new ServerBalancer(['https://a:6443', 'https://b:6443', 'https://c:6443'], {
      clock,
      healthCheckMs: 1000,
      onDown: (s) => downed.push(s),
      probe: (s) => {
        probed.push(s);
        return Promise.resolve(up.has(s));
      },
    });
    assert.equal(clock.pending, 0, 'no health check before the first request');
    assert.equal(b.pick(), 'https://a:6443');
    assert.equal(b.pick(), 'https://a:6443');
    b.fail('https://a:6443', 'ECONNREFUSED');
    assert.equal(b.pick(), 'https://b:6443');
    b.fail('https://b:6443', '503');
    assert.equal(b.pick(), 'https://c:6443');
    assert.deepEqual(downed, ['https://a:6443', 'https://b:6443']);
    // Health checks every interval, of every server.
    assert.deepEqual(probed, []);
    await clock.advance(1000);
    assert.deepEqual(probed.sort(), ['https://a:6443', 'https://b:6443', 'https://c:6443']);
    assert.deepEqual(
      b.states().map((s) => [s.server, s.healthy, s.current]),
      [
        ['https://a:6443', false, false],
        ['https://b:6443', true, false],
        ['https://c:6443', true, true],
      ],
    );
    // a comes back on a later check; the balancer stays on c while c is healthy.
    up.add('https://a:6443');
    await clock.advance(1000);
    assert.ok(b.states().every((s) => s.healthy));
    assert.equal(b.pick(), 'https://c:6443');
    // c stops answering its health check (a paused process): marked down after the probe timeout, b or a takes over.
    up.delete('https://c:6443');
    await clock.advance(1000);
    assert.equal(b.states().find((s) => s.server === 'https://c:6443')?.healthy, false);
    assert.notEqual(b.pick(), 'https://c:6443');
    b.close();
    assert.equal(clock.pending, 0, 'no timer after close');
  });

  it('counts a health check that does not answer within its timeout as failed', async () => {
    const clock = new FakeClock();
    const aborted: string[] = [];
    const b = new ServerBalancer(['https://a:6443', 'https://b:6443'], {
      clock,
      healthCheckMs: 1000,
      probeTimeoutMs: 300,
      probe: (s, signal) =>
        s === 'https://b:6443'
          ? Promise.resolve(true)
          : new Promise((_, reject) => signal.addEventListener('abort', () => (aborted.push(s), reject(signal.reason)))),
    });
    assert.equal(b.pick(), 'https://a:6443');
    await clock.advance(1000);
    assert.ok(b.states()[0]!.healthy, 'a is healthy until its check times out');
    await clock.advance(300);
    assert.deepEqual(aborted, ['https://a:6443'], 'the hanging check was ended');
    assert.equal(b.pick(), 'https://b:6443');
    b.close();
  });

  it('keeps the current server when every one is down (a request is the best probe)', () => {
    const b = new ServerBalancer(['https://a:6443', 'https://b:6443'], { clock: new FakeClock(), probe: () => Promise.resolve(false) });
    b.fail('https://a:6443', 'x');
    b.fail('https://b:6443', 'x');
    assert.equal(b.pick(), 'https://b:6443');
    b.close();
  });

  it('sends to another server what never reached one, and only reads after a connection broke or a server answered 502/503/504', () => {
    assert.equal(failoverVerdict(errno('ECONNREFUSED'), 'POST'), 'retry');
    assert.equal(failoverVerdict(errno(NOT_SENT_CODE), 'POST'), 'retry');
    assert.equal(failoverVerdict(errno('EHOSTUNREACH'), 'DELETE'), 'retry');
    assert.equal(failoverVerdict(errno('ECONNRESET'), 'GET'), 'retry');
    assert.equal(failoverVerdict(errno('ECONNRESET'), 'POST'), 'mark');
    assert.equal(failoverVerdict(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'PUT'), 'mark');
    assert.equal(failoverVerdict(errors.unavailable('storage closed'), 'GET'), 'retry');
    assert.equal(failoverVerdict(errors.unavailable('storage closed'), 'PATCH'), 'mark');
    assert.equal(failoverVerdict(errors.timeout('slow'), 'GET'), 'retry');
    assert.equal(failoverVerdict(errors.notFound({ group: '', resource: 'pods', name: 'x' }), 'GET'), 'keep');
    assert.equal(failoverVerdict(errors.internal('boom'), 'GET'), 'keep');
    assert.equal(failoverVerdict(errno('CERT_HAS_EXPIRED'), 'GET'), 'keep');
  });
});

describe('several API servers in a client config', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-kc-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const kubeconfig = (extension: string): string => {
    const path = join(dir, 'config');
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://a:6443/
${extension}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`,
    );
    return path;
  };

  it('reads them from --server a,b, or from the cluster\'s ketch.dev/servers extension; one server stays one', () => {
    const plain = kubeconfig('');
    assert.deepEqual(loadClientConfig({ kubeconfig: plain }).servers, undefined);
    assert.equal(loadClientConfig({ kubeconfig: plain }).server, 'https://a:6443');
    const flag = loadClientConfig({ kubeconfig: plain, server: 'https://b:6443, https://c:6443/' });
    assert.deepEqual([flag.server, flag.servers], ['https://b:6443', ['https://b:6443', 'https://c:6443']]);
    const ext = loadClientConfig({
      kubeconfig: kubeconfig(`    extensions:
    - name: ketch.dev/servers
      extension:
        servers: [https://a:6443, https://b:6443]`),
    });
    assert.deepEqual([ext.server, ext.servers], ['https://a:6443', ['https://a:6443', 'https://b:6443']]);
  });
});
