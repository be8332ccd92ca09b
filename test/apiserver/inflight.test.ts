// Bounded in-flight requests over the wire: with one slot per pool, a request held open takes the slot and the next
// one of its kind gets 429 with Retry-After, while the other pool, system:masters, health checks and watches still
// get through; the slot comes back when the held request is answered.
import { strict as assert } from 'node:assert';
import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { grant, serviceAccountToken, startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const CM = '/api/v1/namespaces/default/configmaps';

/** Polls `probe` until it returns true, failing after `ms`. */
async function until(what: string, probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('in-flight request limits', function () {
  let h: Harness;
  let token = '';
  before(async () => {
    h = await startHarness({ maxRequestsInflight: 1, maxMutatingRequestsInflight: 1 });
    // A user outside system:masters (whom the limits never refuse): a service account that may read and write the
    // namespace and read nodes' metrics, what its requests here do (edit's and view's parts: no aggregation controller runs).
    token = await serviceAccountToken(h, 'busy', { clusterRole: 'system:aggregate-to-edit' });
    const busy = { kind: 'ServiceAccount', name: 'busy', namespace: 'default' } as const;
    await grant(h, busy, 'system:aggregate-to-view', 'default');
    await grant(h, busy, 'system:aggregated-metrics-reader');
  });
  after(async () => {
    await h.stop();
  });

  /** Options for a call as the service account. */
  const asUser = (): { auth: { token: string } } => ({ auth: { token } });
  const cm = (name: string): J => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });

  it('refuses a second mutating request while one is in flight, and no other', async () => {
    // A POST whose body has not all come yet holds its slot.
    const body = Buffer.from(JSON.stringify(cm('held')));
    let answered: Promise<{ status: number }> | undefined;
    const held: ClientRequest = httpsRequest(
      {
        host: '127.0.0.1',
        port: h.api.port,
        method: 'POST',
        path: CM,
        ca: h.api.caCertPem,
        agent: false,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': String(body.length) },
      },
      (res) => {
        answered = new Promise((resolve) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        });
      },
    );
    held.write(body.subarray(0, 10));
    try {
      let refused: { status: number; headers: J; json: J } | undefined;
      await until('a second POST to be refused', async () => {
        const r = await h.call('POST', CM, { body: cm(`probe-${Date.now()}`), ...asUser() });
        if (r.status === 429) refused = r as unknown as typeof refused;
        else assert.equal(r.status, 201, r.text);
        return r.status === 429;
      });
      assert.equal(refused?.headers['retry-after'], '1');
      assert.equal(refused?.json.kind, 'Status');
      assert.equal(refused?.json.reason, 'TooManyRequests');
      // The read pool is apart; system:masters and health checks are never refused; watches hold no slot.
      assert.equal((await h.call('GET', CM, asUser())).status, 200);
      assert.equal((await h.call('POST', CM, { body: cm('by-admin'), auth: 'super-admin' })).status, 201);
      assert.equal((await h.call('GET', '/healthz', asUser())).status, 200);
      const w = await h.watch(`${CM}?watch=true`, asUser());
      assert.equal(w.status, 200);
      w.close();
      assert.equal((await h.call('DELETE', `${CM}/by-admin`, asUser())).status, 429);
    } finally {
      held.end(body.subarray(10));
    }
    await until('the held POST to be answered', async () => answered !== undefined);
    assert.equal((await answered!).status, 201);
    await until('the slot to come back', async () => (await h.call('POST', CM, { body: cm('after'), ...asUser() })).status === 201);
  });

  it('refuses a second read while one is in flight (a metrics read waiting on an agent that does not answer)', async () => {
    // An "agent" that accepts connections and never answers: the metrics.k8s.io read waits on it.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      assert.equal((await h.call('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'slow' } } })).status, 201);
      const st = await h.call('PATCH', '/api/v1/nodes/slow/status', {
        body: { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(st.status, 200, st.text);
      const metrics = h.call('GET', '/apis/metrics.k8s.io/v1beta1/nodes', asUser());
      await until('the metrics read to reach the agent', async () => sockets.size > 0);
      const refused = await h.call('GET', CM, asUser());
      assert.equal(refused.status, 429, refused.text.slice(0, 300));
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal((await h.call('POST', CM, { body: cm('during-read'), ...asUser() })).status, 201);
      assert.equal((await h.call('GET', CM, { auth: 'super-admin' })).status, 200, 'system:masters');
      // The agent goes away: the metrics read ends (without that node) and frees its slot.
      for (const s of sockets) s.destroy();
      assert.equal((await metrics).status, 200);
      await until('the read slot to come back', async () => (await h.call('GET', CM, asUser())).status === 200);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
