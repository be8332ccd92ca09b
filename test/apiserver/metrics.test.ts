// The API server's /metrics (Prometheus text format, see apiserver/filters/metrics.ts) over the wire: authentication, request
// counts and latencies by verb/resource/code, the open-watch gauge, storage latency, bounded label values; and the
// storage wrapper on its own (guaranteedUpdate counted once, one registry per server).
import { strict as assert } from 'node:assert';
import { ApiServerMetrics } from '../../apiserver/filters/metrics.js';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { startHarness, type Harness } from './harness.js';

const NS = '/api/v1/namespaces/default';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a text-format exposition (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Polls f until ok holds, failing after timeoutMs with the last value. */
async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs}ms (last: ${JSON.stringify(v)})`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

describe('apiserver /metrics', function () {
  let h: Harness;
  const scrape = async (): Promise<Sample[]> => {
    const r = await h.call('GET', '/metrics', { accept: 'text/plain' });
    assert.equal(r.status, 200, r.text);
    return parse(r.text);
  };
  const openWatches = async (): Promise<number> => total(await scrape(), 'apiserver_longrunning_requests', { verb: 'WATCH' });

  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  it('needs credentials', async () => {
    const r = await h.call('GET', '/metrics', { auth: 'none' });
    assert.equal(r.status, 401);
    assert.ok(!r.text.includes('apiserver_request_total'));
  });

  it('serves the Prometheus text format', async () => {
    const r = await h.call('GET', '/metrics', { auth: { token: h.adminToken } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /^# TYPE apiserver_request_total counter$/m);
    assert.match(r.text, /^# TYPE apiserver_request_duration_seconds histogram$/m);
    assert.match(r.text, /^# TYPE apiserver_longrunning_requests gauge$/m);
    assert.match(r.text, /^# TYPE etcd_request_duration_seconds histogram$/m);
  });

  it('counts requests by verb, resource, scope and code, and times them', async () => {
    const creates = 5;
    for (let i = 0; i < creates; i++) {
      const r = await h.call('POST', `${NS}/configmaps`, { body: { metadata: { name: `m${i}` }, data: { i: String(i) } } });
      assert.equal(r.status, 201, r.text);
    }
    for (let i = 0; i < 3; i++) assert.equal((await h.call('GET', `${NS}/configmaps/m${i}`)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await h.call('GET', `${NS}/configmaps`)).status, 200);
    assert.equal((await h.call('GET', `${NS}/configmaps/missing`)).status, 404);
    assert.equal((await h.call('GET', '/version')).status, 200);

    const s = await scrape();
    const cm = { group: '', version: 'v1', resource: 'configmaps', subresource: '', component: 'apiserver' };
    assert.equal(total(s, 'apiserver_request_total', { ...cm, verb: 'POST', scope: 'resource', code: '201' }), creates);
    assert.equal(total(s, 'apiserver_request_total', { ...cm, verb: 'GET', scope: 'resource', code: '200' }), 3);
    assert.equal(total(s, 'apiserver_request_total', { ...cm, verb: 'LIST', scope: 'namespace', code: '200' }), 2);
    assert.equal(total(s, 'apiserver_request_total', { ...cm, verb: 'GET', code: '404' }), 1);
    assert.ok(total(s, 'apiserver_request_total', { verb: 'GET', resource: '', code: '200' }) >= 1, 'the /version request');

    assert.equal(total(s, 'apiserver_request_duration_seconds_count', { ...cm, verb: 'POST' }), creates);
    assert.equal(total(s, 'apiserver_request_duration_seconds_count', { ...cm, verb: 'GET' }), 4);
    assert.equal(total(s, 'apiserver_request_duration_seconds_count', { ...cm, verb: 'LIST' }), 2);
    assert.equal(total(s, 'apiserver_request_duration_seconds_bucket', { ...cm, verb: 'POST', le: '+Inf' }), creates);
    assert.ok(total(s, 'apiserver_request_duration_seconds_sum', { ...cm, verb: 'POST' }) > 0);

    assert.ok(total(s, 'etcd_request_duration_seconds_count', { operation: 'create', type: 'configmaps' }) >= creates);
    assert.ok(total(s, 'etcd_request_duration_seconds_sum', { operation: 'create', type: 'configmaps' }) > 0);
  });

  it('keeps names, namespaces and unknown resources out of the labels', async () => {
    assert.equal((await h.call('GET', `${NS}/nosuchthings/abc`)).status, 404);
    assert.equal((await h.call('GET', '/nosuch/path/xyz')).status, 404);
    assert.equal((await h.call('GET', `${NS}/configmaps/m0/bogussub`)).status, 404);
    assert.equal((await h.call('GET', '/api/v1/namespaces/secretns/configmaps/secretname')).status, 404);
    const r = await h.call('GET', '/metrics');
    for (const word of ['nosuchthings', 'abc', 'nosuch', 'xyz', 'bogussub', 'secretns', 'secretname', 'default']) {
      assert.ok(!new RegExp(`="[^"]*${word}[^"]*"`).test(r.text), `a label value contains ${word}`);
    }
    assert.ok(total(parse(r.text), 'apiserver_request_total', { resource: '', code: '404' }) >= 3);
  });

  it('gauges open watches and counts a watch once it ends, out of the latency histogram', async () => {
    await until(openWatches, (n) => n === 0, 'no open watch before');
    const w = await h.watch(`${NS}/configmaps?watch=true`);
    assert.equal(w.status, 200);
    try {
      await until(openWatches, (n) => n === 1, 'one open watch');
    } finally {
      w.close();
    }
    await until(openWatches, (n) => n === 0, 'no open watch after close');
    const s = await until(scrape, (x) => total(x, 'apiserver_request_total', { verb: 'WATCH', resource: 'configmaps' }) === 1, 'the watch counted');
    assert.equal(total(s, 'apiserver_request_total', { verb: 'WATCH', resource: 'configmaps', scope: 'namespace', code: '200' }), 1);
    assert.equal(total(s, 'apiserver_request_duration_seconds_count', { verb: 'WATCH' }), 0);
  });
});

describe('apiserver metrics storage wrapper', () => {
  it('times each call once, guaranteedUpdate as one update, in a registry per server', async () => {
    const a = new ApiServerMetrics(() => 0);
    const b = new ApiServerMetrics(() => 0);
    const db = new EmbeddedStorage({ path: ':memory:' });
    try {
      const s = a.instrumentStorage(db);
      const key = '/registry/apps/deployments/default/d1';
      await s.create(key, Buffer.from('{}'));
      await s.guaranteedUpdate(key, () => Buffer.from('{"a":1}'));
      await assert.rejects(s.create(key, Buffer.from('{}')));
      await s.list('/registry/apps/deployments/');
      await s.currentRevision();
      const samples = parse(await a.registry.metrics());
      const count = (operation: string, type = 'deployments.apps'): number => total(samples, 'etcd_request_duration_seconds_count', { operation, type });
      assert.equal(count('create'), 2, 'a failed call is timed too');
      assert.equal(count('update'), 1);
      assert.equal(count('get'), 0, "guaranteedUpdate's own get is not counted");
      assert.equal(count('list'), 1);
      assert.equal(count('currentRevision', ''), 1);
      assert.equal(total(parse(await b.registry.metrics()), 'etcd_request_duration_seconds_count'), 0);
    } finally {
      await db.close();
    }
  });
});
