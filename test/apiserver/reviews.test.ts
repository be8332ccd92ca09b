// Review kinds against a real API server (authentication.k8s.io SelfSubjectReview and TokenReview, authorization.k8s.io
// access and rules reviews), and the protobuf bodies kubectl's typed clients send: kubectl auth whoami / can-i,
// kubectl create token, and DELETE bodies. Protobuf bodies are bytes captured from kubectl v1.32.4 (-v=9).
import { strict as assert } from 'node:assert';
import { decodeJwt } from 'jose';
import { podManifest, startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const PB = 'application/vnd.kubernetes.protobuf';
const AUTHN = '/apis/authentication.k8s.io/v1';
const AUTHZ = '/apis/authorization.k8s.io/v1';
const SA = '/api/v1/namespaces/default/serviceaccounts';
const status = (o: unknown): J => ((o as J).status ?? {}) as J;
const causes = (o: unknown): string[] => (((o as J).details as { causes?: { field: string }[] } | undefined)?.causes ?? []).map((c) => c.field);

/** kubectl auth whoami. */
const WHOAMI = '6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a656374526576696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200';
/** kubectl auth can-i create pods/log -n kube-system --subresource=log (kubectl reads "pods/log" as resource pods, name log). */
const CAN_I = '6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374416363657373526576696577' +
  '12490a100a0012001a0022002a00320038004200122b0a290a0b6b7562652d73797374656d12066372656174651a0022002a04706f647332036c6f673a036c6f671a08080012001a0020001a002200';
/** kubectl auth can-i get /logs. */
const CAN_I_PATH = '6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374416363657373526576696577' +
  '122c0a100a0012001a0022002a00320038004200120e120c0a052f6c6f677312036765741a08080012001a0020001a002200';
/** kubectl auth can-i --list -n foo. */
const CAN_I_LIST = '6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a65637452756c6573526576696577121f0a100a0012001a0022002a0032003800420012050a03666f6f1a04180022001a002200';
/** kubectl create token default --audience a1 --duration 2h. */
const CREATE_TOKEN = '6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e5265717565737412210a100a0012001a0022002a0032003800420012070a02613120a0381a040a0012001a002200';
/** The DeleteOptions body of kubectl drain --grace-period=5 (when it deletes instead of evicting). */
const DELETE_GRACE_5 = '6b3873000a130a027631120d44656c6574654f7074696f6e73120208051a002200';

describe('reviews and typed-client protobuf bodies', function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  const pb = (hex: string): { raw: Buffer; contentType: string; accept: string } => ({ raw: Buffer.from(hex, 'hex'), contentType: PB, accept: `${PB},application/json` });

  describe('discovery and OpenAPI', () => {
    it('lists both groups, their create-only resources, and an OpenAPI document for each', async () => {
      const groups = (await h.call('GET', '/apis')).json.groups as { name: string }[];
      for (const g of ['authentication.k8s.io', 'authorization.k8s.io']) assert.ok(groups.some((x) => x.name === g), g);
      const authz = (await h.call('GET', AUTHZ)).json.resources as { name: string; namespaced: boolean; verbs: string[] }[];
      assert.deepEqual(authz.map((r) => r.name).sort(), ['localsubjectaccessreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'subjectaccessreviews']);
      for (const r of authz) assert.deepEqual(r.verbs, ['create']);
      assert.equal(authz.find((r) => r.name === 'localsubjectaccessreviews')?.namespaced, true);
      const index = (await h.call('GET', '/openapi/v3')).json.paths as J;
      assert.ok(index['apis/authentication.k8s.io/v1'] && index['apis/authorization.k8s.io/v1']);
      const doc = (await h.call('GET', '/openapi/v3/apis/authorization.k8s.io/v1')).json as { paths: J; components: { schemas: J } };
      assert.ok(doc.paths['/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews']);
      assert.ok(doc.components.schemas['io.k8s.api.authorization.v1.ResourceAttributes']);
    });

    it('names group and version of pods/eviction, so that kubectl drain evicts', async () => {
      const core = (await h.call('GET', '/api/v1')).json.resources as { name: string; group?: string; version?: string }[];
      const ev = core.find((r) => r.name === 'pods/eviction');
      assert.equal(ev?.group, 'policy');
      assert.equal(ev?.version, 'v1');
    });
  });

  describe('SelfSubjectReview', () => {
    it('answers kubectl auth whoami with the user behind the request', async () => {
      const r = await h.call('POST', `${AUTHN}/selfsubjectreviews`, pb(WHOAMI));
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.kind, 'SelfSubjectReview');
      assert.deepEqual(status(r.json).userInfo, { username: 'admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] });
      const byToken = await h.call('POST', `${AUTHN}/selfsubjectreviews`, { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, auth: { token: h.adminToken } });
      assert.deepEqual(status(byToken.json).userInfo, { username: 'admin', uid: 'admin', groups: ['system:masters', 'system:authenticated'] });
    });
  });

  describe('access reviews', () => {
    it('allows what kubectl auth can-i asks, echoing the attributes', async () => {
      const r = await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, pb(CAN_I));
      assert.equal(r.status, 201, r.text);
      assert.deepEqual((r.json.spec as J).resourceAttributes, { namespace: 'kube-system', verb: 'create', resource: 'pods', subresource: 'log', name: 'log' });
      // The admin holds cluster-admin through kubeadm's binding; the super-admin is in system:masters, which the chain
      // allows before any authorizer (and so without a reason).
      assert.deepEqual(status(r.json), { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"' });
      assert.deepEqual(status((await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, { ...pb(CAN_I), auth: 'super-admin' })).json), { allowed: true });
      const path = await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, pb(CAN_I_PATH));
      assert.equal(path.status, 201, path.text);
      assert.deepEqual((path.json.spec as J).nonResourceAttributes, { path: '/logs', verb: 'get' });
      assert.equal(status(path.json).allowed, true);
    });

    it('lists every rule for kubectl auth can-i --list', async () => {
      const r = await h.call('POST', `${AUTHZ}/selfsubjectrulesreviews`, pb(CAN_I_LIST));
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(r.json.spec, { namespace: 'foo' });
      // The admin's rules: cluster-admin's (kubeadm:cluster-admins' binding) first, then those every authenticated user has.
      const st = status(r.json) as { resourceRules: J[]; nonResourceRules: J[]; incomplete: boolean };
      assert.equal(st.incomplete, false);
      assert.deepEqual(st.resourceRules[0], { verbs: ['*'], apiGroups: ['*'], resources: ['*'] });
      assert.deepEqual(st.nonResourceRules[0], { verbs: ['*'], nonResourceURLs: ['*'] });
      assert.ok(st.resourceRules.some((x) => JSON.stringify(x) === JSON.stringify({ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] })));
    });

    it('refuses reviews without exactly one kind of attributes, without a subject, or outside their namespace', async () => {
      const sar = (kind: string, spec: J, metadata: J = {}): J => ({ apiVersion: 'authorization.k8s.io/v1', kind, metadata, spec });
      const neither = await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, { body: sar('SelfSubjectAccessReview', {}) });
      assert.equal(neither.status, 422, neither.text);
      assert.deepEqual(causes(neither.json), ['spec.resourceAttributes']);
      const both = await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, { body: sar('SelfSubjectAccessReview', { resourceAttributes: { verb: 'get' }, nonResourceAttributes: { path: '/x' } }) });
      assert.deepEqual(causes(both.json), ['spec.nonResourceAttributes']);
      const named = await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, { body: sar('SelfSubjectAccessReview', { resourceAttributes: { verb: 'get' } }, { name: 'x' }) });
      assert.deepEqual(causes(named.json), ['metadata']);

      const nobody = await h.call('POST', `${AUTHZ}/subjectaccessreviews`, { body: sar('SubjectAccessReview', { resourceAttributes: { verb: 'get', resource: 'pods' } }) });
      assert.equal(nobody.status, 422);
      assert.deepEqual(causes(nobody.json), ['spec.user']);
      const bob = await h.call('POST', `${AUTHZ}/subjectaccessreviews`, { body: sar('SubjectAccessReview', { user: 'bob', groups: ['dev'], resourceAttributes: { verb: 'get', resource: 'pods' } }) });
      assert.equal(bob.status, 201, bob.text);
      assert.deepEqual(status(bob.json), { allowed: false });

      const local = `${AUTHZ}/namespaces/team/localsubjectaccessreviews`;
      const inside = await h.call('POST', local, { body: sar('LocalSubjectAccessReview', { user: 'bob', resourceAttributes: { namespace: 'team', verb: 'list', resource: 'pods' } }) });
      assert.equal(inside.status, 201, inside.text);
      assert.equal((inside.json.metadata as J).namespace, 'team');
      const outside = await h.call('POST', local, { body: sar('LocalSubjectAccessReview', { user: 'bob', resourceAttributes: { namespace: 'other', verb: 'list' } }) });
      assert.deepEqual(causes(outside.json), ['spec.resourceAttributes.namespace']);
      const path = await h.call('POST', local, { body: sar('LocalSubjectAccessReview', { user: 'bob', nonResourceAttributes: { path: '/x', verb: 'get' } }) });
      assert.deepEqual(causes(path.json).sort(), ['spec.nonResourceAttributes']);
      const otherNs = await h.call('POST', local, { body: sar('LocalSubjectAccessReview', { user: 'bob', resourceAttributes: { namespace: 'team' } }, { namespace: 'x' }) });
      assert.equal(otherNs.status, 400);
    });
  });

  describe('TokenReview and kubectl create token', () => {
    const review = (token: string, audiences?: string[]): Promise<{ status: number; json: J; text: string }> =>
      h.call('POST', `${AUTHN}/tokenreviews`, { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } } });

    it('issues a token from kubectl create token\'s protobuf body, then reviews it for its audience only', async () => {
      const r = await h.call('POST', `${SA}/default/token`, pb(CREATE_TOKEN));
      assert.equal(r.status, 201, r.text);
      const token = String(status(r.json).token);
      const claims = decodeJwt(token);
      assert.deepEqual(claims.aud, ['a1']);
      assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 7200);

      const forA1 = await review(token, ['a1', 'b2']);
      assert.equal(forA1.status, 201, forA1.text);
      const st = status(forA1.json);
      assert.equal(st.authenticated, true);
      assert.deepEqual(st.audiences, ['a1']);
      assert.equal((st.user as J).username, 'system:serviceaccount:default:default');
      assert.deepEqual((st.user as J).groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
      // Not meant for the API server: neither a review for its audiences nor a request accepts it.
      assert.equal(status((await review(token)).json).authenticated, false);
      assert.equal((await h.call('GET', '/api/v1/namespaces', { auth: { token } })).status, 401);
    });

    it('reviews static tokens for the API audience, refuses garbage, and wants a token', async () => {
      const admin = status((await review(h.adminToken)).json);
      assert.equal(admin.authenticated, true);
      assert.deepEqual(admin.audiences, ['https://kubernetes.default.svc.cluster.local']);
      assert.equal((admin.user as J).username, 'admin');
      assert.equal(status((await review(h.adminToken, ['vault'])).json).authenticated, false);
      assert.deepEqual(status((await review('not-a-token')).json), { authenticated: false, error: 'invalid bearer token' });
      assert.equal((await review('')).status, 400);
    });
  });

  describe('bad requests', () => {
    it('answers 405 to other verbs, 404 to unknown paths, 400 to strict unknown fields and broken paths', async () => {
      assert.equal((await h.call('GET', `${AUTHN}/selfsubjectreviews`)).status, 405);
      assert.equal((await h.call('DELETE', `${AUTHZ}/subjectaccessreviews`)).status, 405);
      assert.equal((await h.call('POST', `${AUTHZ}/nonsense`, { body: {} })).status, 404);
      assert.equal((await h.call('POST', `${AUTHZ}/namespaces/x/subjectaccessreviews`, { body: {} })).status, 404);
      assert.equal((await h.call('POST', '/apis/authorization.k8s.io/v2/subjectaccessreviews', { body: {} })).status, 404);
      const strict = await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews?fieldValidation=Strict`, {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'get', bogus: 1 } } },
      });
      assert.equal(strict.status, 400, strict.text);
      assert.match(String(strict.json.message), /unknown field "spec.resourceAttributes.bogus"/);
      const wrongKind = await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, { body: { apiVersion: 'v1', kind: 'Pod' } });
      assert.equal(wrongKind.status, 400);
      assert.equal((await h.call('POST', `${AUTHZ}/namespaces/%ZZ/localsubjectaccessreviews`, { body: {} })).status, 400);
      assert.equal((await h.call('POST', `${AUTHZ}/selfsubjectaccessreviews`, { raw: '{"spec":', contentType: 'application/json' })).status, 400);
      assert.equal((await h.call('POST', `${AUTHN}/selfsubjectreviews`, { body: {}, auth: 'none' })).status, 401);
      assert.equal((await h.call('GET', '/healthz')).status, 200);
    });
  });

  describe('DELETE with a protobuf DeleteOptions body', () => {
    it('honours its grace period', async () => {
      const pods = '/api/v1/namespaces/default/pods';
      const pod = podManifest('pb-delete');
      const created = await h.call('POST', pods, { body: { ...pod, spec: { ...(pod.spec as J), nodeName: 'n1' } } });
      assert.equal(created.status, 201, created.text);
      const r = await h.call('DELETE', `${pods}/pb-delete`, pb(DELETE_GRACE_5));
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json.metadata as J).deletionGracePeriodSeconds, 5);
    });
  });
});
