// API aggregation against a real API server: an extension API server in the test (HTTPS, trusting only the front
// proxy's CA from the extension-apiserver-authentication ConfigMap) behind a Service whose Endpoints point at it;
// APIServices, the Available condition, proxied requests with X-Remote-User/Group, discovery, metrics.k8s.io takeover.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { startHarness, type Harness } from './harness.js';
import { createCa, issueCert } from '../../apiserver/pki/pki.js';
import { kubectl } from '../support/kubectl.js';
import { waitFor } from '../support/util.js';

interface Seen {
  path: string;
  user: string | undefined;
  groups: string[];
  clientCn: string | undefined;
  authorization: string | undefined;
}

describe('API aggregation', function () {
  this.timeout(60_000);
  let h: Harness;
  let server: Server;
  let caBundle: string;
  const seen: Seen[] = [];

  before(async () => {
    h = await startHarness({ apiServiceCheckIntervalMs: 200 });
    const auth = await h.call('GET', '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication');
    assert.equal(auth.status, 200, auth.text);
    const data = auth.json.data as Record<string, string>;
    assert.deepEqual(JSON.parse(data['requestheader-username-headers'] ?? '[]'), ['X-Remote-User']);
    assert.deepEqual(JSON.parse(data['requestheader-allowed-names'] ?? '[]'), ['front-proxy-client']);
    const ca = await createCa('extension-test-ca');
    const cert = await issueCert(ca, { commonName: 'wardle', usage: 'server', dns: ['wardle.default.svc'], ips: ['127.0.0.1'] });
    caBundle = Buffer.from(ca.certPem).toString('base64');
    // The extension server trusts only client certificates from the request-header CA the ConfigMap names.
    server = createServer({ cert: cert.certPem, key: cert.keyPem, ca: data['requestheader-client-ca-file'], requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const groups = req.headersDistinct['x-remote-group'] ?? [];
      seen.push({ path: req.url ?? '', user: req.headers['x-remote-user'] as string | undefined, groups, clientCn: peer.subject?.CN as string | undefined, authorization: req.headers.authorization });
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      let body: unknown;
      if (path === '/apis/wardle.example.com/v1alpha1') {
        body = { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'wardle.example.com/v1alpha1', resources: [{ name: 'flunders', singularName: 'flunder', namespaced: true, kind: 'Flunder', verbs: ['get', 'list'] }] };
      } else if (path === '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders') {
        body = { kind: 'FlunderList', apiVersion: 'wardle.example.com/v1alpha1', metadata: {}, items: [{ kind: 'Flunder', apiVersion: 'wardle.example.com/v1alpha1', metadata: { name: `seen-by-${String(req.headers['x-remote-user'])}`, namespace: 'default' } }] };
      } else if (path === '/apis/metrics.k8s.io/v1beta1') {
        body = { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'metrics.k8s.io/v1beta1', resources: [{ name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] }] };
      } else if (path === '/apis/metrics.k8s.io/v1beta1/nodes') {
        body = { kind: 'NodeMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items: [{ metadata: { name: 'from-metrics-server' }, timestamp: '2025-01-01T00:00:00Z', window: '10s', usage: { cpu: '1m', memory: '1Ki' } }] };
      }
      const text = JSON.stringify(body ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' });
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' }).end(text);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await h.call('POST', '/api/v1/namespaces/default/services', { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'wardle' }, spec: { ports: [{ port: 443, targetPort: port }] } } });
    await h.call('POST', '/api/v1/namespaces/default/endpoints', { body: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'wardle' }, subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port }] }] } });
  });
  after(async () => {
    await h.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const apiService = (group: string, version: string): Record<string, unknown> => ({
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: `${version}.${group}` },
    spec: { group, version, service: { namespace: 'default', name: 'wardle', port: 443 }, caBundle, groupPriorityMinimum: 1000, versionPriority: 15 },
  });

  async function available(name: string): Promise<void> {
    await waitFor(
      async () => {
        const r = await h.call('GET', `/apis/apiregistration.k8s.io/v1/apiservices/${name}`);
        const c = ((r.json.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).find((x) => x.type === 'Available');
        return c?.status === 'True';
      },
      { what: `${name} available` },
    );
  }

  it('lists local APIServices for the built-in groups, always available', async () => {
    const r = await h.call('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1.apps');
    assert.equal(r.status, 200, r.text);
    await available('v1.apps');
    await available('v1.');
    const got = await h.call('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1.apps');
    const c = (got.json.status as { conditions: { reason: string; message: string }[] }).conditions[0];
    assert.equal(c?.reason, 'Local');
    assert.equal(c?.message, 'Local APIServices are always available');
  });

  it('proxies an aggregated group-version with the front proxy certificate and headers', async () => {
    const r = await h.call('POST', '/apis/apiregistration.k8s.io/v1/apiservices', { body: apiService('wardle.example.com', 'v1alpha1') });
    assert.equal(r.status, 201, r.text);
    await available('v1alpha1.wardle.example.com');
    const list = await h.call('GET', '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders', { auth: { token: h.adminToken } });
    assert.equal(list.status, 200, list.text);
    assert.equal((list.json.items as { metadata: { name: string } }[])[0]?.metadata.name, 'seen-by-admin');
    const last = seen.filter((s) => s.path.includes('flunders')).at(-1);
    assert.equal(last?.clientCn, 'front-proxy-client');
    assert.equal(last?.user, 'admin');
    assert.ok(last?.groups.includes('system:authenticated'), JSON.stringify(last));
    assert.equal(last?.authorization, undefined);
    const groups = await h.call('GET', '/apis');
    assert.ok((groups.json.groups as { name: string }[]).some((g) => g.name === 'wardle.example.com'));
    const agg = await h.call('GET', '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' });
    const wardle = (agg.json.items as { metadata: { name: string }; versions: { resources: { resource: string }[] }[] }[]).find((g) => g.metadata.name === 'wardle.example.com');
    assert.equal(wardle?.versions[0]?.resources[0]?.resource, 'flunders');
    const table = await kubectl(h.api.adminKubeconfigPath, ['get', 'apiservices', 'v1alpha1.wardle.example.com', 'v1.apps']);
    assert.match(table.stdout, /^NAME\s+SERVICE\s+AVAILABLE\s+AGE\n/);
    assert.match(table.stdout, /\nv1alpha1.wardle.example.com\s+default\/wardle\s+True\s+\d+s\n/);
    assert.match(table.stdout, /\nv1.apps\s+Local\s+True\s+\d+s\n/);
    const k = await kubectl(h.api.adminKubeconfigPath, ['get', 'flunders', '-o', 'name']);
    assert.equal(k.code, 0, k.stderr);
    assert.equal(k.stdout.trim(), 'flunder.wardle.example.com/seen-by-admin');
  });

  it('reports an APIService whose service has no endpoints as not available', async () => {
    const svc = { ...apiService('broken.example.com', 'v1'), spec: { ...(apiService('broken.example.com', 'v1').spec as object), service: { namespace: 'default', name: 'nothing-here', port: 443 } } };
    await h.call('POST', '/apis/apiregistration.k8s.io/v1/apiservices', { body: svc });
    await waitFor(async () => {
      const r = await h.call('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1.broken.example.com');
      const c = ((r.json.status as { conditions?: { type: string; status: string; reason: string }[] } | undefined)?.conditions ?? []).find((x) => x.type === 'Available');
      return c?.status === 'False' && c.reason === 'ServiceNotFound';
    }, { what: 'ServiceNotFound' });
    const r = await h.call('GET', '/apis/broken.example.com/v1/things');
    assert.equal(r.status, 503, r.text);
  });

  it('metrics.k8s.io moves from the built-in source to a metrics server named by its APIService', async () => {
    const builtIn = await h.call('GET', '/apis/metrics.k8s.io/v1beta1/nodes');
    assert.equal(builtIn.status, 200, builtIn.text);
    assert.equal((builtIn.json.items as unknown[]).length, 0);
    const put = await kubectl(h.api.adminKubeconfigPath, ['apply', '-f', '-'], JSON.stringify(apiService('metrics.k8s.io', 'v1beta1')));
    assert.equal(put.code, 0, put.stderr);
    await waitFor(async () => {
      const r = await h.call('GET', '/apis/metrics.k8s.io/v1beta1/nodes');
      return (r.json.items as { metadata: { name: string } }[] | undefined)?.[0]?.metadata.name === 'from-metrics-server';
    }, { what: 'metrics from the metrics server' });
  });
});
