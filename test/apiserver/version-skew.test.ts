// Version skew: the requests kubectl 1.28 to 1.31 and client-go from 0.28 send that differ from kubectl 1.32's, kept
// here as data (method, path, headers, as their sources write them), each sent to a real API server and checked.
// No Go toolchain runs: the requests are what client-go's discovery client, kubectl's getter and the remotecommand
// and port-forward dialers of those releases put on the wire. What reads /openapi/v2 is listed in OPENAPI_V2: the
// document in the type asked for, with the definitions apply and explain look up.
import { strict as assert } from 'node:assert';
import { request as httpsRequest } from 'node:https';
import { startHarness, type Harness, type Reply } from './harness.js';

/** One request an older client sends, and what the answer must be for that client to work. */
interface SkewedRequest {
  clients: string;
  /** Where the client writes it (client-go / kubectl source). */
  source: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  check(r: Reply): void;
}

const V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';
const V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const NS = '/api/v1/namespaces/default';

const isAggregated = (version: 'v2' | 'v2beta1', core: boolean) => (r: Reply): void => {
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`);
  assert.equal(r.json.apiVersion, `apidiscovery.k8s.io/${version}`);
  const names = (r.json.items as { metadata: { name: string } }[]).map((i) => i.metadata.name);
  if (core) assert.deepEqual(names, ['']);
  else assert.ok(names.includes('apps') && !names.includes(''), names.join(','));
};

const REQUESTS: SkewedRequest[] = [
  {
    clients: 'kubectl 1.28-1.29, client-go 0.28-0.29',
    source: 'client-go discovery/discovery_client.go: acceptDiscoveryFormats = AcceptV2Beta1 + "," + AcceptV1',
    method: 'GET',
    path: '/api?timeout=32s',
    headers: { Accept: `${V2BETA1},application/json` },
    check: isAggregated('v2beta1', true),
  },
  {
    clients: 'kubectl 1.28-1.29, client-go 0.28-0.29',
    source: 'client-go discovery/discovery_client.go (same Accept on /apis)',
    method: 'GET',
    path: '/apis?timeout=32s',
    headers: { Accept: `${V2BETA1},application/json` },
    check: isAggregated('v2beta1', false),
  },
  {
    clients: 'kubectl 1.30-1.32, client-go 0.30+',
    source: 'client-go discovery/discovery_client.go: AcceptV2 + "," + AcceptV2Beta1 + "," + AcceptV1',
    method: 'GET',
    path: '/apis?timeout=32s',
    headers: { Accept: `${V2},${V2BETA1},application/json` },
    check: isAggregated('v2', false),
  },
  {
    clients: 'client-go before 0.26, and any client with aggregated discovery off (legacy discovery)',
    source: 'client-go discovery/discovery_client.go: ServerGroups with AcceptV1',
    method: 'GET',
    path: '/api?timeout=32s',
    headers: { Accept: 'application/json, */*' },
    check: (r) => {
      assert.equal(r.json.kind, 'APIVersions');
      assert.deepEqual(r.json.versions, ['v1']);
    },
  },
  {
    clients: 'legacy discovery',
    source: 'client-go discovery/discovery_client.go: ServerGroups',
    method: 'GET',
    path: '/apis?timeout=32s',
    headers: { Accept: 'application/json, */*' },
    check: (r) => {
      assert.equal(r.json.kind, 'APIGroupList');
      assert.ok((r.json.groups as { name: string }[]).some((g) => g.name === 'apps'));
    },
  },
  {
    clients: 'legacy discovery',
    source: 'client-go discovery/discovery_client.go: ServerResourcesForGroupVersion',
    method: 'GET',
    path: '/apis/apps/v1?timeout=32s',
    headers: { Accept: 'application/json, */*' },
    check: (r) => {
      assert.equal(r.json.kind, 'APIResourceList');
      assert.equal(r.json.groupVersion, 'apps/v1');
      assert.ok((r.json.resources as { name: string }[]).some((x) => x.name === 'deployments'));
    },
  },
  {
    clients: 'legacy discovery',
    source: 'client-go discovery/discovery_client.go: ServerResourcesForGroupVersion',
    method: 'GET',
    path: '/api/v1?timeout=32s',
    headers: { Accept: 'application/json, */*' },
    check: (r) => {
      assert.equal(r.json.kind, 'APIResourceList');
      assert.ok((r.json.resources as { name: string }[]).some((x) => x.name === 'pods/exec'));
    },
  },
  {
    clients: 'kubectl before 1.15 and clients built on its printers (Table v1beta1 only)',
    source: 'kubectl get: application/json;as=Table;v=v1beta1;g=meta.k8s.io',
    method: 'GET',
    path: `${NS}/configmaps?limit=500`,
    headers: { Accept: 'application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json' },
    check: (r) => {
      assert.equal(r.json.kind, 'Table');
      assert.equal(r.json.apiVersion, 'meta.k8s.io/v1beta1');
      const row = (r.json.rows as { object: { apiVersion: string } }[])[0];
      assert.equal(row?.object.apiVersion, 'meta.k8s.io/v1beta1');
    },
  },
  {
    clients: 'kubectl 1.28-1.32 get',
    source: 'kubectl cmd/get/get.go: Table v1, then v1beta1, then JSON',
    method: 'GET',
    path: `${NS}/configmaps?limit=500`,
    headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json' },
    check: (r) => assert.equal(r.json.apiVersion, 'meta.k8s.io/v1'),
  },
  {
    clients: 'kubectl 1.28 create/apply --validate=strict (server-side field validation)',
    source: 'kubectl cmd/util/helpers.go GetValidationDirective, resource/helper.go: ?fieldValidation=Strict',
    method: 'POST',
    path: `${NS}/configmaps?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
    headers: { Accept: 'application/json' },
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'strict' }, bogus: 1 },
    check: (r) => {
      assert.equal(r.status, 400);
      assert.match(String(r.json.message), /strict decoding error: unknown field "bogus"/);
    },
  },
  {
    clients: 'kubectl 1.28 apply (client-side): the last applied configuration as an annotation',
    source: 'kubectl cmd/apply/apply.go: kubectl.kubernetes.io/last-applied-configuration, fieldManager kubectl-client-side-apply',
    method: 'POST',
    path: `${NS}/configmaps?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
    headers: { Accept: 'application/json' },
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'applied', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"applied","namespace":"default"}}\n' } },
      data: { a: '1' },
    },
    check: (r) => {
      assert.equal(r.status, 201, r.text);
      const annotations = (r.json.metadata as { annotations: Record<string, string> }).annotations;
      assert.match(annotations['kubectl.kubernetes.io/last-applied-configuration'] ?? '', /"data":\{"a":"1"\}/);
      assert.equal(((r.json.metadata as { managedFields: { manager: string }[] }).managedFields[0])?.manager, 'kubectl-client-side-apply');
    },
  },
  {
    clients: 'kubectl 1.28 apply (client-side), second run: a strategic merge patch that carries the new annotation',
    source: 'kubectl apply/patcher.go: PATCH application/strategic-merge-patch+json',
    method: 'PATCH',
    path: `${NS}/configmaps/applied?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
    contentType: 'application/strategic-merge-patch+json',
    body: {
      data: { a: '2' },
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","data":{"a":"2"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"applied","namespace":"default"}}\n' } },
    },
    check: (r) => {
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json.data as Record<string, string>).a, '2');
      assert.match((r.json.metadata as { annotations: Record<string, string> }).annotations['kubectl.kubernetes.io/last-applied-configuration'] ?? '', /"a":"2"/);
    },
  },
  {
    clients: 'kubectl 1.28-1.29 exec and attach (SPDY only), 1.30+ after a refused WebSocket',
    source: 'client-go tools/remotecommand/spdy.go: POST, Upgrade: SPDY/3.1, X-Stream-Protocol-Version v4..v1',
    method: 'POST',
    path: `${NS}/pods/unbound/exec?command=date&container=c&stderr=true&stdout=true`,
    headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io' },
    // The pod is on no node: past the protocol checks, the answer is the one kube gives for an unbound pod.
    check: (r) => assert.deepEqual([r.status, r.json.message], [400, 'pod unbound does not have a host assigned']),
  },
  {
    clients: 'kubectl 1.28-1.29 port-forward (SPDY only), 1.30+ after a refused WebSocket tunnel',
    source: 'client-go tools/portforward/portforward.go: POST, Upgrade: SPDY/3.1, X-Stream-Protocol-Version: portforward.k8s.io',
    method: 'POST',
    path: `${NS}/pods/unbound/portforward`,
    headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io' },
    check: (r) => assert.deepEqual([r.status, r.json.message], [400, 'pod unbound does not have a host assigned']),
  },
];

/**
 * What kubectl 1.28-1.29 read from /openapi/v2 (protobuf): client-side apply's strategic-merge metadata (falling back
 * to compiled-in types for built-in kinds), client-side validation of kinds whose /openapi/v3 path does not list the
 * fieldValidation parameter, and `explain --output=plaintext-openapiv2`.
 */
const OPENAPI_V2 = [
  { clients: 'kubectl 1.28-1.29 apply, create --validate, explain --output=plaintext-openapiv2', accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf', type: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' },
  { clients: 'clients reading the JSON document', accept: 'application/json', type: 'application/json' },
];

/** Sends a request; an upgrade the server accepts would be 101 (not expected here). */
function send(h: Harness, s: SkewedRequest): Promise<Reply> {
  if (!s.headers?.Upgrade) return h.call(s.method, s.path, { ...(s.body !== undefined ? { body: s.body } : {}), ...(s.contentType ? { contentType: s.contentType } : {}), headers: s.headers ?? {} });
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: h.api.port, method: s.method, path: s.path, headers: { Authorization: `Bearer ${h.adminToken}`, ...s.headers }, ca: h.api.caCertPem });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: JSON.parse(text) as Reply['json'] }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '', json: {} });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('version skew: what kubectl 1.28-1.31 and client-go 0.28+ send that 1.32 does not', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
    assert.equal((await h.call('POST', `${NS}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'listed' } } })).status, 201);
    const pod = await h.call('POST', `${NS}/pods`, { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unbound' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
    assert.equal(pod.status, 201, pod.text);
  });
  after(() => h?.stop());

  for (const s of REQUESTS) {
    it(`${s.clients}: ${s.method} ${s.path.split('?')[0]} (${s.source})`, async () => s.check(await send(h, s)));
  }

  for (const o of OPENAPI_V2) {
    it(`${o.clients}: GET /openapi/v2 answers the document as ${o.type}`, async () => {
      const r = await h.call('GET', '/openapi/v2?timeout=32s', { accept: o.accept });
      assert.equal(r.status, 200, r.text.slice(0, 200));
      assert.equal(r.headers['content-type'], o.type);
      if (o.type === 'application/json') {
        const doc = r.json as { swagger?: string; definitions?: Record<string, { 'x-kubernetes-group-version-kind'?: unknown }> };
        assert.equal(doc.swagger, '2.0');
        // apply's strategic-merge metadata and explain look kinds up by these names and group-version-kinds.
        assert.deepEqual(doc.definitions?.['io.k8s.api.apps.v1.Deployment']?.['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
        assert.ok(doc.definitions?.['io.k8s.api.core.v1.Container'], 'io.k8s.api.core.v1.Container');
      } else assert.ok(r.text.length > 0);
    });
  }
});
