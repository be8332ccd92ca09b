// rbac.authorization.k8s.io/v1 against a real API server: the four kinds are discovered, validated as kube validates
// them, created on PUT, listed by the real kubectl (v1.32) with kube's columns, and `kubectl auth reconcile` works.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBECTL } from '../support/kubectl-scenarios.js';
import { startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const G = 'rbac.authorization.k8s.io';
const BASE = `/apis/${G}/v1`;

describe('rbac.authorization.k8s.io/v1', function () {
  this.timeout(60_000);
  let h: Harness;
  let home: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    h = await startHarness();
    home = mkdtempSync(join(tmpdir(), 'ketch-rbac-kubectl-'));
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECACHEDIR: join(home, 'cache'), KUBECONFIG: h.api.adminKubeconfigPath };
  });
  after(async () => {
    await h?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const kubectl = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(KUBECTL, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
      });
    });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  /** The lines of a table, columns split on runs of two spaces or more. */
  const table = (out: string): string[][] => out.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));

  const role = (name: string, rules: unknown[], ns = 'default'): J => ({ apiVersion: `${G}/v1`, kind: 'Role', metadata: { name, namespace: ns }, rules });
  const binding = (kind: 'RoleBinding' | 'ClusterRoleBinding', name: string, roleRef: J, subjects: unknown[]): J => ({
    apiVersion: `${G}/v1`,
    kind,
    metadata: { name },
    roleRef: { apiGroup: G, ...roleRef },
    subjects,
  });

  it('is discovered with the four kinds and their scopes', async () => {
    const doc = await h.call('GET', BASE);
    assert.equal(doc.status, 200);
    const scope = Object.fromEntries((doc.json.resources as J[]).map((r) => [r.name, r.namespaced]));
    assert.deepEqual(scope, { roles: true, clusterroles: false, rolebindings: true, clusterrolebindings: false });
    const groups = await h.call('GET', '/apis');
    assert.ok((groups.json.groups as J[]).some((g) => g.name === G));
  });

  it('validates rules as kube does', async () => {
    const post = (path: string, body: J) => h.call('POST', path, { body });
    const noVerbs = await post(`${BASE}/namespaces/default/roles`, role('r', [{ verbs: [], apiGroups: [''], resources: ['pods'] }]));
    assert.equal(noVerbs.status, 422);
    assert.equal(noVerbs.json.message, 'Role.rbac.authorization.k8s.io "r" is invalid: rules[0].verbs: Required value: verbs must contain at least one value');
    const urls = await post(`${BASE}/namespaces/default/roles`, role('r', [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }]));
    assert.match(String(urls.json.message), /rules\[0\]\.nonResourceURLs: Invalid value: \["\/healthz"\]: namespaced rules cannot apply to non-resource URLs/);
    const noGroups = await post(`${BASE}/clusterroles`, { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'c' }, rules: [{ verbs: ['get'], resources: ['pods'], resourceNames: ['a'] }] });
    assert.match(String(noGroups.json.message), /rules\[0\]\.apiGroups: Required value: resource rules must supply at least one api group/);
    const both = await post(`${BASE}/clusterroles`, { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'c' }, rules: [{ verbs: ['get'], apiGroups: [''], nonResourceURLs: ['/x'] }] });
    assert.match(String(both.json.message), /rules cannot apply to both regular resources and non-resource URLs/);
    const badAgg = await post(`${BASE}/clusterroles`, { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'c' }, aggregationRule: {} });
    assert.match(String(badAgg.json.message), /aggregationRule\.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil/);
    const slash = await post(`${BASE}/clusterroles`, { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'a%b' }, rules: [] });
    assert.match(String(slash.json.message), /metadata\.name: Invalid value: "a%b": may not contain '%'/);
  });

  it('validates bindings: role kinds, subject kinds and groups, service account namespaces', async () => {
    const crb = await h.call('POST', `${BASE}/clusterrolebindings`, {
      body: binding('ClusterRoleBinding', 'b', { kind: 'Role', name: 'r' }, [{ kind: 'ServiceAccount', name: 'sa' }, { kind: 'Robot', name: 'x' }, { kind: 'User', apiGroup: 'example.com', name: 'u' }]),
    });
    assert.equal(crb.status, 422);
    const causes = (crb.json.details as { causes: { field: string; message: string }[] }).causes.map((c) => `${c.field}: ${c.message}`);
    assert.deepEqual(causes, [
      'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
      'subjects[0].namespace: Required value',
      'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
      'subjects[2].apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"',
    ]);
    // apiGroup defaults for roleRef and User/Group subjects; a RoleBinding's service account may omit its namespace.
    const rb = await h.call('POST', `${BASE}/namespaces/default/rolebindings`, {
      body: { apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { name: 'defaults' }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'alice' }, { kind: 'ServiceAccount', name: 'builder' }] },
    });
    assert.equal(rb.status, 201, rb.text);
    assert.deepEqual(rb.json.roleRef, { apiGroup: G, kind: 'ClusterRole', name: 'view' });
    assert.deepEqual(rb.json.subjects, [{ kind: 'User', apiGroup: G, name: 'alice' }, { kind: 'ServiceAccount', name: 'builder' }]);
  });

  it('keeps roleRef immutable, and lets a PUT create a missing role or binding', async () => {
    const created = await h.call('PUT', `${BASE}/clusterrolebindings/system:put-made`, { body: { ...binding('ClusterRoleBinding', 'system:put-made', { kind: 'ClusterRole', name: 'view' }, []) } });
    assert.equal(created.status, 201, created.text);
    const changed = await h.call('PATCH', `${BASE}/clusterrolebindings/system:put-made`, { body: { roleRef: { name: 'edit' } }, contentType: 'application/merge-patch+json' });
    assert.equal(changed.status, 422);
    assert.match(String(changed.json.message), /roleRef: Invalid value: .*: cannot change roleRef$/);
    const subjects = await h.call('PATCH', `${BASE}/clusterrolebindings/system:put-made`, { body: { subjects: [{ kind: 'Group', apiGroup: G, name: 'devs' }] }, contentType: 'application/merge-patch+json' });
    assert.equal(subjects.status, 200, subjects.text);
    const cr = await h.call('PUT', `${BASE}/clusterroles/system:put-role`, { body: { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'system:put-role' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }] } });
    assert.equal(cr.status, 201, cr.text);
  });

  it('is created and listed by kubectl with kube\'s columns', async () => {
    await ok('create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods', '-n', 'default');
    await ok('create', 'clusterrole', 'node-reader', '--verb=get', '--resource=nodes');
    await ok('create', 'rolebinding', 'read-pods', '--role=pod-reader', '--user=alice', '--group=devs', '--serviceaccount=default:builder', '-n', 'default');
    await ok('create', 'clusterrolebinding', 'read-nodes', '--clusterrole=node-reader', '--user=bob');
    const roles = table(await ok('get', 'roles', '-n', 'default'));
    assert.deepEqual(roles[0], ['NAME', 'CREATED AT']);
    assert.equal(roles[1]![0], 'pod-reader');
    assert.match(roles[1]![1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const rbs = table(await ok('get', 'rolebinding', 'read-pods', '-n', 'default', '-o', 'wide'));
    assert.deepEqual(rbs[0], ['NAME', 'ROLE', 'AGE', 'USERS', 'GROUPS', 'SERVICEACCOUNTS']);
    assert.deepEqual([rbs[1]![0], rbs[1]![1], rbs[1]![3], rbs[1]![4], rbs[1]![5]], ['read-pods', 'Role/pod-reader', 'alice', 'devs', 'default/builder']);
    const crbs = table(await ok('get', 'clusterrolebinding', 'read-nodes'));
    assert.deepEqual(crbs[0], ['NAME', 'ROLE', 'AGE']);
    assert.deepEqual(crbs[1]!.slice(0, 2), ['read-nodes', 'ClusterRole/node-reader']);
    const yaml = await ok('get', 'role', 'pod-reader', '-n', 'default', '-o', 'jsonpath={.rules[0].verbs}');
    assert.equal(yaml, '["get","list"]');
  });

  it('works with kubectl auth reconcile: creates, then adds rules and subjects without removing any', async () => {
    const file = join(home, 'rbac.yaml');
    const write = (verbs: string, users: string[]): void =>
      writeFileSync(
        file,
        `apiVersion: ${G}/v1
kind: Role
metadata: {name: reconciled, namespace: default}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [${verbs}]}
---
apiVersion: ${G}/v1
kind: RoleBinding
metadata: {name: reconciled, namespace: default}
roleRef: {apiGroup: ${G}, kind: Role, name: reconciled}
subjects: [${users.map((u) => `{apiGroup: ${G}, kind: User, name: ${u}}`).join(', ')}]
`,
      );
    write('get', ['carol']);
    const first = await ok('auth', 'reconcile', '-f', file);
    assert.match(first, /role\.rbac\.authorization\.k8s\.io\/reconciled reconciled/);
    write('list', ['dave']);
    await ok('auth', 'reconcile', '-f', file);
    const r = await h.call('GET', `${BASE}/namespaces/default/roles/reconciled`);
    const verbs = (r.json.rules as { verbs: string[] }[]).flatMap((x) => x.verbs).sort();
    assert.deepEqual(verbs, ['get', 'list']);
    const b = await h.call('GET', `${BASE}/namespaces/default/rolebindings/reconciled`);
    assert.deepEqual((b.json.subjects as { name: string }[]).map((s) => s.name), ['carol', 'dave']);
    await ok('auth', 'reconcile', '-f', file, '--remove-extra-permissions', '--remove-extra-subjects');
    const after = await h.call('GET', `${BASE}/namespaces/default/rolebindings/reconciled`);
    assert.deepEqual((after.json.subjects as { name: string }[]).map((s) => s.name), ['dave']);
  });
});
