// The handler chain over the wire: one chain for every kind of request (resource paths, the other routes, chunked
// watches, upgrades), so that an authorizer sees each request once and a deny is kube's 403 Forbidden on each path;
// upgrades pass the in-flight limits (exempt when long-running), metrics and audit like the rest.
import { strict as assert } from 'node:assert';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { Attributes, AuditEvent, AuthorizationResult, Authorizer } from '../../apiserver/index.js';
import { grant, serviceAccountToken, startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const CM = '/api/v1/namespaces/default/configmaps';
const DENIED = 'system:serviceaccount:default:denied';

async function until(what: string, probe: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A service account's token (a user outside system:masters). */
/** Sends a protocol upgrade request; resolves with the HTTP answer when the server refuses it, or 101 when it switches. */
function upgrade(h: Harness, path: string, token: string, method = 'GET', protocol = 'websocket'): Promise<{ status: number; headers: IncomingHttpHeaders; json: J }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port: h.api.port,
      method,
      path,
      ca: h.api.caCertPem,
      agent: false,
      headers: { Authorization: `Bearer ${token}`, Connection: 'Upgrade', Upgrade: protocol, 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, json: {} });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as J }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket watch; resolves once open (or with the HTTP status of a refused handshake). */
function wsWatch(h: Harness, path: string, token: string): Promise<{ status: number; socket: WebSocket }> {
  const socket = new WebSocket(`wss://127.0.0.1:${h.api.port}${path}`, { ca: h.api.caCertPem, headers: { Authorization: `Bearer ${token}` } });
  return new Promise((resolve) => {
    socket.on('open', () => resolve({ status: 101, socket }));
    socket.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, socket }));
    socket.on('error', () => resolve({ status: 0, socket }));
  });
}

/** The value of one apiserver_request_total series (0 when absent). */
async function requests(h: Harness, labels: Record<string, string>): Promise<number> {
  const text = (await h.call('GET', '/metrics')).text;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

/** Allows everyone but one service account, and records what it was asked. */
class DenyOne implements Authorizer {
  readonly asked: Attributes[] = [];
  authorize(attrs: Attributes): AuthorizationResult {
    this.asked.push(attrs);
    return attrs.user.name === DENIED ? { decision: 'deny', reason: 'test authorizer' } : { decision: 'allow', reason: '' };
  }
  /** What the denied account was asked about, as "verb resource/sub path". */
  deniedAsks(): string[] {
    return this.asked.filter((a) => a.user.name === DENIED).map((a) => (a.resourceRequest ? `${a.verb} ${a.resource}${a.subresource ? '/' + a.subresource : ''}` : `${a.verb} ${a.path}`));
  }
}

describe('handler chain: authorization', function () {
  let h: Harness;
  let authorizer: DenyOne;
  let denied = '';
  let allowed = '';
  before(async () => {
    authorizer = new DenyOne();
    h = await startHarness({ authorizer });
    denied = await serviceAccountToken(h, 'denied');
    allowed = await serviceAccountToken(h, 'allowed');
    assert.equal((await h.call('POST', CM, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } } })).status, 201);
  });
  after(async () => {
    await h.stop();
  });

  it('answers a denied REST request with kube-apiserver\'s 403 Forbidden Status', async () => {
    const one = await h.call('GET', `${CM}/c`, { auth: { token: denied } });
    assert.equal(one.status, 403, one.text);
    assert.equal(one.json.kind, 'Status');
    assert.equal(one.json.reason, 'Forbidden');
    assert.equal(one.json.message, `configmaps "c" is forbidden: User "${DENIED}" cannot get resource "configmaps" in API group "" in the namespace "default": test authorizer`);
    assert.deepEqual(one.json.details, { name: 'c', kind: 'configmaps' }); // an empty group is left out (omitempty)
    const list = await h.call('GET', CM, { auth: { token: denied } });
    assert.equal(list.json.message, `configmaps is forbidden: User "${DENIED}" cannot list resource "configmaps" in API group "" in the namespace "default": test authorizer`);
    const nodes = await h.call('GET', '/api/v1/nodes', { auth: { token: denied } });
    assert.equal(nodes.json.message, `nodes is forbidden: User "${DENIED}" cannot list resource "nodes" in API group "" at the cluster scope: test authorizer`);
    const scale = await h.call('GET', '/apis/apps/v1/namespaces/default/deployments/d/scale', { auth: { token: denied } });
    assert.equal(scale.json.message, `deployments.apps "d" is forbidden: User "${DENIED}" cannot get resource "deployments/scale" in API group "apps" in the namespace "default": test authorizer`);
    const version = await h.call('GET', '/version', { auth: { token: denied } });
    assert.equal(version.status, 403);
    assert.equal(version.json.message, `forbidden: User "${DENIED}" cannot get path "/version": test authorizer`);
    // Writes are refused before anything is read or stored.
    const create = await h.call('POST', CM, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nope' } }, auth: { token: denied } });
    assert.equal(create.status, 403);
    assert.equal((await h.call('GET', `${CM}/nope`)).status, 404);
    // Everyone else goes on.
    assert.equal((await h.call('GET', `${CM}/c`, { auth: { token: allowed } })).status, 200);
  });

  it('refuses denied watches: the chunked stream, and over WebSocket before the handshake', async () => {
    const chunked = await h.call('GET', `${CM}?watch=true`, { auth: { token: denied } });
    assert.equal(chunked.status, 403, chunked.text);
    assert.match(String(chunked.json.message), /cannot watch resource "configmaps"/);
    const ws = await wsWatch(h, `${CM}?watch=true`, denied);
    assert.equal(ws.status, 403);
    const ok = await wsWatch(h, `${CM}?watch=true`, allowed);
    assert.equal(ok.status, 101);
    ok.socket.close();
  });

  it('refuses denied exec, attach and port-forward upgrades with a Status', async () => {
    for (const sub of ['exec', 'attach', 'portforward']) {
      const r = await upgrade(h, `/api/v1/namespaces/default/pods/p/${sub}?command=id`, denied);
      assert.equal(r.status, 403, sub);
      assert.equal(r.json.message, `pods "p" is forbidden: User "${DENIED}" cannot get resource "pods/${sub}" in API group "" in the namespace "default": test authorizer`);
      // Allowed, the upgrade goes on to the pod (which does not exist).
      assert.equal((await upgrade(h, `/api/v1/namespaces/default/pods/p/${sub}`, allowed)).status, 404, sub);
    }
    // kubectl's SPDY exec is a POST: the verb is create.
    const spdy = await upgrade(h, '/api/v1/namespaces/default/pods/p/exec?command=id', denied, 'POST', 'SPDY/3.1');
    assert.match(String(spdy.json.message), /cannot create resource "pods\/exec"/);
  });

  it('puts every request to the authorizer once: resource paths, other routes, watches and upgrades', async () => {
    authorizer.asked.length = 0;
    await h.call('GET', `${CM}/c`, { auth: { token: denied } });
    await h.call('GET', '/apis', { auth: { token: denied } });
    await h.call('GET', '/no/such/path', { auth: { token: denied } });
    await h.call('GET', '/apis/apps/v1/namespaces/default/deployments?watch=1', { auth: { token: denied } });
    await wsWatch(h, `${CM}?watch=true`, denied);
    await upgrade(h, '/api/v1/namespaces/default/pods/p/attach', denied);
    await upgrade(h, '/api/v1/namespaces/default/pods/p/exec', denied, 'POST', 'SPDY/3.1');
    assert.deepEqual(authorizer.deniedAsks(), ['get configmaps', 'get /apis', 'get /no/such/path', 'watch deployments', 'watch configmaps', 'get pods/attach', 'create pods/exec']);
  });

  it('answers access reviews with the same authorizer', async () => {
    const review = (token: string): Promise<{ json: J }> =>
      h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'get', resource: 'configmaps', namespace: 'default' } } },
        auth: { token },
      });
    // The review itself is a request of the denied account: an admin asks about it with a SubjectAccessReview.
    const sar = await h.call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: DENIED, resourceAttributes: { verb: 'delete', resource: 'pods', namespace: 'x' } } },
    });
    assert.deepEqual(sar.json.status, { allowed: false, denied: true, reason: 'test authorizer' });
    assert.deepEqual((await review(allowed)).json.status, { allowed: true });
    const asked = authorizer.asked.at(-1);
    assert.equal(asked?.user.name, 'system:serviceaccount:default:allowed');
    assert.equal(asked?.verb, 'get');
    assert.equal(asked?.resource, 'configmaps');
    // An authorizer that resolves no rules gives none, and says the list is incomplete.
    const rules = await h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 'default' } },
      auth: { token: allowed },
    });
    assert.deepEqual(rules.json.status, { resourceRules: [], nonResourceRules: [], incomplete: true });
  });
});

describe('handler chain: upgrades pass in-flight limits, metrics and audit', function () {
  let h: Harness;
  let token = '';
  const events: AuditEvent[] = [];
  before(async () => {
    h = await startHarness({
      maxRequestsInflight: 1,
      maxMutatingRequestsInflight: 1,
      audit: {
        decide: (a: Attributes) => ({ level: a.user.name.startsWith('system:serviceaccount:') ? 'Metadata' : 'None', omitStages: [], omitManagedFields: false }),
        process: (e) => events.push(e),
      },
    });
    // The account may use the namespace (edit's and view's parts: no aggregation controller runs here) and kubectl top.
    token = await serviceAccountToken(h, 'busy');
    const busy = { kind: 'ServiceAccount', name: 'busy', namespace: 'default' } as const;
    for (const role of ['system:aggregate-to-edit', 'system:aggregate-to-view']) await grant(h, busy, role, 'default');
    await grant(h, busy, 'system:aggregated-metrics-reader');
  });
  after(async () => {
    await h.stop();
  });

  it('counts a non-long-running upgrade in its pool (429 when full) and lets long-running ones through', async () => {
    // Without load, an upgrade of a path that takes none is refused as before (400).
    assert.equal((await upgrade(h, CM, token)).status, 400);
    // An "agent" that accepts connections and never answers holds the one read slot (a metrics.k8s.io read waits on it).
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      assert.equal((await h.call('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'slow' } } })).status, 201);
      const port = (silent.address() as { port: number }).port;
      const st = await h.call('PATCH', '/api/v1/nodes/slow/status', {
        body: { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(st.status, 200, st.text);
      const held = h.call('GET', '/apis/metrics.k8s.io/v1beta1/nodes', { auth: { token } });
      await until('the metrics read to reach the agent', () => sockets.size > 0);
      const refused = await upgrade(h, CM, token);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.json.reason, 'TooManyRequests');
      // Watches over WebSocket and pod streams are long-running: not counted, so not refused.
      const ws = await wsWatch(h, `${CM}?watch=true`, token);
      assert.equal(ws.status, 101);
      ws.socket.close();
      assert.equal((await upgrade(h, '/api/v1/namespaces/default/pods/p/exec', token)).status, 404);
      for (const s of sockets) s.destroy();
      assert.equal((await held).status, 200);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('records upgrades in /metrics once they end: a watch over WebSocket as WATCH 101, refusals by their code', async () => {
    const before = await requests(h, { verb: 'WATCH', resource: 'configmaps', code: '101' });
    const refusedBefore = await requests(h, { verb: 'CONNECT', resource: 'pods', subresource: 'exec', code: '404' });
    const ws = await wsWatch(h, `${CM}?watch=true`, token);
    assert.equal(ws.status, 101);
    ws.socket.close();
    await until('the WebSocket watch to be counted', async () => (await requests(h, { verb: 'WATCH', resource: 'configmaps', code: '101' })) === before + 1);
    assert.equal((await upgrade(h, '/api/v1/namespaces/default/pods/p/exec', token)).status, 404);
    await until('the refused exec to be counted', async () => (await requests(h, { verb: 'CONNECT', resource: 'pods', subresource: 'exec', code: '404' })) === refusedBefore + 1);
  });

  it('hands audit events of every request, upgrades included, to the audit sink', async () => {
    events.length = 0;
    assert.equal((await h.call('GET', `${CM}?limit=1`, { auth: { token } })).status, 200);
    assert.equal((await upgrade(h, '/api/v1/namespaces/default/pods/p/attach', token)).status, 404);
    await until('two requests audited', () => events.filter((e) => e.stage === 'ResponseComplete').length === 2);
    // A long-running request (an attach) also has a ResponseStarted event, when its answer begins.
    const [received, complete, upReceived, upStarted, upComplete] = events;
    assert.deepEqual(events.map((e) => e.stage), ['RequestReceived', 'ResponseComplete', 'RequestReceived', 'ResponseStarted', 'ResponseComplete']);
    assert.equal(upStarted?.auditID, upComplete?.auditID);
    assert.equal(received?.stage, 'RequestReceived');
    assert.equal(received?.auditID, complete?.auditID);
    assert.equal(received?.verb, 'list');
    assert.equal(received?.requestURI, `${CM}?limit=1`);
    assert.equal(received?.user.username, 'system:serviceaccount:default:busy');
    assert.deepEqual(received?.objectRef, { resource: 'configmaps', namespace: 'default', apiVersion: 'v1' });
    assert.deepEqual(complete?.responseStatus, { metadata: {}, code: 200 });
    assert.equal(complete?.level, 'Metadata');
    assert.equal(complete?.annotations?.['authorization.k8s.io/decision'], 'allow');
    assert.match(String(complete?.annotations?.['authorization.k8s.io/reason']), /^RBAC: allowed by RoleBinding /);
    assert.deepEqual(upReceived?.objectRef, { resource: 'pods', namespace: 'default', name: 'p', apiVersion: 'v1', subresource: 'attach' });
    assert.equal(upComplete?.responseStatus?.code, 404);
    assert.equal(upComplete?.responseStatus?.reason, 'NotFound');
    // The policy (the sink's decide) leaves the admin's requests out.
    await h.call('GET', CM);
    assert.equal(events.length, 5);
  });
});
