// `ketch controller-manager` and `ketch scheduler` run apart serve /metrics on a secure port of their own (kube's
// 10257 and 10259; here port 0): a bearer token the API server vouches for (TokenReview) and `get` on the
// non-resource path /metrics (SubjectAccessReview, as system:monitoring grants); health paths for anyone.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { serveComponentMetrics } from '../../cli/metrics-server.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { logger } from '../../lib/logger.js';
import { startTestCluster, type TestCluster } from '../controllers/harness.js';
import { waitFor } from '../support/util.js';

/** GET path on the component's port, with a bearer token or none (its certificate is self-signed: not verified here). */
function get(port: number, path: string, token?: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a component run apart: its secure /metrics', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let server: { port: number; close(): Promise<void> };

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['replicaset', 'deployment'] });
    server = await serveComponentMetrics({ rest: cluster.rest, name: 'kube-controller-manager', port: 0, address: '127.0.0.1', metrics: () => cm.metrics.metrics(), log: logger('test') });
  });
  after(async () => {
    await server?.close();
    await cm?.stop();
    await cluster?.close();
  });

  const token = async (sa: string): Promise<string> => {
    await cluster.rest.request('POST', '/api/v1/namespaces/default/serviceaccounts', { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } } });
    const r = await cluster.rest.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/default/serviceaccounts/${sa}/token`, { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} } });
    return r.status.token;
  };

  it('answers health for anyone, and /metrics only to a caller allowed get on it', async () => {
    assert.equal((await get(server.port, '/healthz')).code, 200);
    assert.equal((await get(server.port, '/metrics')).code, 401);
    assert.equal((await get(server.port, '/metrics', 'not-a-token')).code, 401);
    const nobody = await get(server.port, '/metrics', await token('metrics-nobody'));
    assert.equal(nobody.code, 403);
    assert.match(nobody.body, /cannot get path "\/metrics"/);

    await cluster.rest.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'metrics-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:monitoring' },
        subjects: [{ kind: 'ServiceAccount', name: 'metrics-reader', namespace: 'default' }],
      },
    });
    // The component caches a refusal for 30 s: ask the API server first, until its RBAC cache has the binding.
    await waitFor(async () => {
      const r = await cluster.rest.request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'system:serviceaccount:default:metrics-reader', groups: ['system:serviceaccounts'], nonResourceAttributes: { path: '/metrics', verb: 'get' } } },
      });
      return r.status.allowed;
    }, { what: 'the binding in the RBAC cache' });
    const ok = await get(server.port, '/metrics', await token('metrics-reader'));
    assert.equal(ok.code, 200);
    assert.match(ok.body, /^# TYPE workqueue_depth gauge$/m);
    assert.match(ok.body, /^workqueue_depth\{name="replicaset"\} \d+$/m);
    assert.match(ok.body, /^workqueue_adds_total\{name="deployment"\} \d+$/m);
  });
});
