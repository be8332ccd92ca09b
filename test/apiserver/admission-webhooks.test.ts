// Admission webhooks and ValidatingAdmissionPolicy against a real API server: a test HTTPS webhook reached by URL and
// through a Service whose Endpoints point at it, JSONPatch mutation, refusals, failure policies, dry runs, policies.
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.js';
import { admissionResponse, startWebhookServer, type WebhookServer } from '../support/webhook-server.js';
import { kubectl } from '../support/kubectl.js';

const ADM = '/apis/admissionregistration.k8s.io/v1';

function hook(name: string, clientConfig: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    clientConfig,
    rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], scope: '*' }],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 2,
    ...extra,
  };
}

const cm = (name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data: { a: '1' } });

describe('admission webhooks and policies', function () {
  this.timeout(60_000);
  let h: Harness;
  let wh: WebhookServer;
  const reviews: Record<string, unknown>[] = [];

  before(async () => {
    h = await startHarness();
    wh = await startWebhookServer(['hooks.default.svc']);
    wh.handle('/mutate', (review) => {
      reviews.push(review);
      const labels = ((review.request as { object: { metadata: { labels?: object } } }).object.metadata.labels ?? {}) as object;
      const patch = Object.keys(labels).length ? [{ op: 'add', path: '/metadata/labels/mutated', value: 'url' }] : [{ op: 'add', path: '/metadata/labels', value: { mutated: 'url' } }];
      return admissionResponse(review, { allowed: true, patch, warnings: ['mutated by the test'] });
    });
    wh.handle('/mutate-svc', (review) => admissionResponse(review, { allowed: true, patch: [{ op: 'add', path: '/metadata/annotations', value: { via: 'service' } }] }));
    wh.handle('/validate', (review) => {
      const obj = (review.request as { object: { metadata: { labels?: Record<string, string> } } }).object;
      return obj.metadata.labels?.deny === 'true' ? admissionResponse(review, { allowed: false, message: 'configmaps labelled deny=true are refused', code: 403 }) : admissionResponse(review, { allowed: true });
    });
    // The Service and Endpoints that route hooks.default.svc to the test server on loopback.
    await h.call('POST', '/api/v1/namespaces/default/services', { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hooks' }, spec: { ports: [{ name: 'https', port: 443, targetPort: wh.port }] } } });
    const ep = await h.call('POST', '/api/v1/namespaces/default/endpoints', {
      body: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'hooks' }, subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: wh.port }] }] },
    });
    assert.equal(ep.status, 201, ep.text);
  });
  after(async () => {
    await h.stop();
    await wh.close();
  });

  it('a mutating webhook by URL and one through a Service change the object; the validating one refuses', async () => {
    const mwc = await h.call('POST', `${ADM}/mutatingwebhookconfigurations`, {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'labels' },
        webhooks: [
          hook('label.ketch.test', { url: wh.url('/mutate'), caBundle: wh.caBundle }, { objectSelector: { matchExpressions: [{ key: 'skip', operator: 'DoesNotExist' }] } }),
          hook('annotate.ketch.test', { service: { namespace: 'default', name: 'hooks', path: '/mutate-svc' }, caBundle: wh.caBundle }),
        ],
      },
    });
    assert.equal(mwc.status, 201, mwc.text);
    const vwc = await h.call('POST', `${ADM}/validatingwebhookconfigurations`, {
      body: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'deny' }, webhooks: [hook('deny.ketch.test', { url: wh.url('/validate'), caBundle: wh.caBundle })] },
    });
    assert.equal(vwc.status, 201, vwc.text);

    const r = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('hooked', { app: 'x' }) });
    assert.equal(r.status, 201, r.text);
    const meta = r.json.metadata as { labels: Record<string, string>; annotations: Record<string, string> };
    assert.deepEqual(meta.labels, { app: 'x', mutated: 'url' });
    assert.deepEqual(meta.annotations, { via: 'service' });
    assert.match(String(r.headers.warning), /mutated by the test/);
    const req = reviews.at(-1)?.request as { operation: string; userInfo: { username: string }; resource: { resource: string }; namespace: string };
    assert.equal(req.operation, 'CREATE');
    assert.equal(req.userInfo.username, 'admin');
    assert.equal(req.resource.resource, 'configmaps');
    assert.equal(req.namespace, 'default');

    const skipped = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('skipped', { skip: 'yes' }) });
    assert.equal((skipped.json.metadata as { labels: Record<string, string> }).labels.mutated, undefined);

    const denied = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('denied', { deny: 'true' }) });
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.message, 'admission webhook "deny.ketch.test" denied the request: configmaps labelled deny=true are refused');
    const res = await kubectl(h.api.adminKubeconfigPath, ['create', 'configmap', 'viakubectl', '--from-literal=a=b']);
    assert.equal(res.code, 0, res.stderr);
    const got = await h.call('GET', '/api/v1/namespaces/default/configmaps/viakubectl');
    assert.equal((got.json.metadata as { labels: Record<string, string> }).labels.mutated, 'url');
    const table = await kubectl(h.api.adminKubeconfigPath, ['get', 'mutatingwebhookconfigurations']);
    assert.match(table.stdout, /^NAME\s+WEBHOOKS\s+AGE\nlabels\s+2\s+\d+s\n$/);
    await h.call('DELETE', `${ADM}/mutatingwebhookconfigurations/labels`);
    await h.call('DELETE', `${ADM}/validatingwebhookconfigurations/deny`);
  });

  it('calls an IfNeeded webhook again when a later one changed the object, and times out slow ones', async () => {
    wh.handle('/first', (review) => {
      const labels = (review.request as { object: { metadata: { labels?: Record<string, string> } } }).object.metadata.labels ?? {};
      return admissionResponse(review, labels.second ? { allowed: true, patch: [{ op: 'add', path: '/metadata/annotations', value: { 'saw-second': 'yes' } }] } : { allowed: true });
    });
    wh.handle('/second', (review) => admissionResponse(review, { allowed: true, patch: [{ op: 'add', path: '/metadata/labels/second', value: 'yes' }] }));
    const only = { objectSelector: { matchLabels: { reinvoke: 'yes' } } };
    await h.call('POST', `${ADM}/mutatingwebhookconfigurations`, {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'reinvoke' },
        webhooks: [
          hook('first.ketch.test', { url: wh.url('/first'), caBundle: wh.caBundle }, { ...only, reinvocationPolicy: 'IfNeeded' }),
          hook('second.ketch.test', { url: wh.url('/second'), caBundle: wh.caBundle }, only),
        ],
      },
    });
    const r = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('reinvoked', { reinvoke: 'yes' }) });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual((r.json.metadata as { annotations?: unknown }).annotations, { 'saw-second': 'yes' });
    assert.equal(wh.calls.get('/first'), 2);
    await h.call('DELETE', `${ADM}/mutatingwebhookconfigurations/reinvoke`);

    // A webhook slower than its timeoutSeconds fails the call (Fail: refused with the deadline).
    wh.handle('/slow', (review) => new Promise((resolve) => setTimeout(() => resolve(admissionResponse(review, { allowed: true })), 3000).unref()));
    await h.call('POST', `${ADM}/validatingwebhookconfigurations`, {
      body: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'slow' }, webhooks: [hook('slow.ketch.test', { url: wh.url('/slow'), caBundle: wh.caBundle }, { timeoutSeconds: 1, objectSelector: { matchLabels: { slow: 'yes' } } })] },
    });
    const slow = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('slow', { slow: 'yes' }) });
    assert.equal(slow.status, 500, slow.text);
    assert.match(String(slow.json.message), /failed calling webhook "slow.ketch.test": failed to call webhook: Post "https:\/\/127.0.0.1:\d+\/slow\?timeout=1s": context deadline exceeded/);
    await h.call('DELETE', `${ADM}/validatingwebhookconfigurations/slow`);
  });

  it("namespaceSelector picks requests by their namespace's labels", async () => {
    await h.call('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'guarded', labels: { guard: 'on' } } } });
    await h.call('POST', `${ADM}/validatingwebhookconfigurations`, {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'guard' },
        webhooks: [hook('guard.ketch.test', { url: wh.url('/validate'), caBundle: wh.caBundle }, { namespaceSelector: { matchLabels: { guard: 'on' } } })],
      },
    });
    const guarded = await h.call('POST', '/api/v1/namespaces/guarded/configmaps', { body: cm('refused', { deny: 'true' }) });
    assert.equal(guarded.status, 403, guarded.text);
    const elsewhere = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('passes', { deny: 'true' }) });
    assert.equal(elsewhere.status, 201, elsewhere.text);
    await h.call('DELETE', `${ADM}/validatingwebhookconfigurations/guard`);
  });

  it('a webhook that is down: Fail refuses, Ignore lets the request through', async () => {
    const down = 'https://127.0.0.1:1/validate';
    for (const [name, policy] of [['down-fail', 'Fail'], ['down-ignore', 'Ignore']] as const) {
      await h.call('POST', `${ADM}/validatingwebhookconfigurations`, {
        body: {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingWebhookConfiguration',
          metadata: { name },
          webhooks: [hook(`${name}.ketch.test`, { url: down, caBundle: wh.caBundle }, { failurePolicy: policy, objectSelector: { matchLabels: { policy } } })],
        },
      });
    }
    const failed = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('fail', { policy: 'Fail' }) });
    assert.equal(failed.status, 500, failed.text);
    assert.equal(failed.json.message, 'Internal error occurred: failed calling webhook "down-fail.ketch.test": failed to call webhook: Post "https://127.0.0.1:1/validate?timeout=2s": dial tcp 127.0.0.1:1: connect: connection refused');
    const ignored = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('ignore', { policy: 'Ignore' }) });
    assert.equal(ignored.status, 201, ignored.text);
    for (const n of ['down-fail', 'down-ignore']) await h.call('DELETE', `${ADM}/validatingwebhookconfigurations/${n}`);
  });

  it('dry runs reach only webhooks without side effects; matchConditions select requests', async () => {
    await h.call('POST', `${ADM}/validatingwebhookconfigurations`, {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'effects' },
        webhooks: [hook('effects.ketch.test', { url: wh.url('/validate'), caBundle: wh.caBundle }, { sideEffects: 'Some', matchConditions: [{ name: 'only-x', expression: "object.metadata.name.startsWith('x-')" }] })],
      },
    });
    const before = wh.calls.get('/validate') ?? 0;
    const dry = await h.call('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { body: cm('x-dry') });
    assert.equal(dry.status, 400, dry.text);
    assert.equal(dry.json.message, 'admission webhook "effects.ketch.test" does not support dry run');
    const other = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('y-not-matched', { deny: 'true' }) });
    assert.equal(other.status, 201, other.text);
    const matched = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('x-matched', { deny: 'true' }) });
    assert.equal(matched.status, 403, matched.text);
    assert.equal((wh.calls.get('/validate') ?? 0) - before, 1);
    await h.call('DELETE', `${ADM}/validatingwebhookconfigurations/effects`);
  });

  it('a ValidatingAdmissionPolicy with params denies, warns, and lets valid objects through', async () => {
    const policy = await h.call('POST', `${ADM}/validatingadmissionpolicies`, {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: 'max-keys' },
        spec: {
          failurePolicy: 'Fail',
          paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
          matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] }] },
          variables: [{ name: 'keys', expression: 'has(object.data) ? size(object.data) : 0' }],
          validations: [
            { expression: 'variables.keys <= int(params.data.max)', messageExpression: "'at most ' + params.data.max + ' keys, not ' + string(variables.keys)" },
            { expression: "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)", message: 'the forbidden label is forbidden', reason: 'Forbidden' },
          ],
        },
      },
    });
    assert.equal(policy.status, 201, policy.text);
    await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'policy-params' }, data: { max: '2' } } });
    const binding = await h.call('POST', `${ADM}/validatingadmissionpolicybindings`, {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: 'max-keys-binding' },
        spec: { policyName: 'max-keys', validationActions: ['Deny', 'Warn'], paramRef: { name: 'policy-params', namespace: 'default', parameterNotFoundAction: 'Deny' }, matchResources: { objectSelector: { matchLabels: { checked: 'yes' } } } },
      },
    });
    assert.equal(binding.status, 201, binding.text);
    const tooMany = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'too-many', labels: { checked: 'yes' } }, data: { a: '1', b: '2', c: '3' } } });
    assert.equal(tooMany.status, 422, tooMany.text);
    assert.equal(tooMany.json.message, "ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys-binding' denied request: at most 2 keys, not 3");
    assert.match(String(tooMany.headers.warning), /Validation failed for ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys-binding': at most 2 keys, not 3/);
    const forbidden = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('forbidden', { checked: 'yes', forbidden: 'x' }) });
    assert.equal(forbidden.status, 403, forbidden.text);
    assert.equal(forbidden.json.message, "ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys-binding' denied request: the forbidden label is forbidden");
    const fine = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('fine', { checked: 'yes' }) });
    assert.equal(fine.status, 201, fine.text);
    const unchecked = await h.call('POST', '/api/v1/namespaces/default/configmaps', { body: { ...cm('unchecked'), data: { a: '1', b: '2', c: '3' } } });
    assert.equal(unchecked.status, 201, unchecked.text);
  });
});
