import assert from 'node:assert/strict';
import { ApiError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
import type { PolicyRule } from '../../../api/schemas/rbac.js';
import type { UserInfo } from '../types.js';
import { RbacAuthorizer } from './authorizer.js';
import { confirmNoEscalation, rbacEscalationCheck } from './escalation.js';

const G = 'rbac.authorization.k8s.io';
const rule = (verbs: string[], resources: string[], groups = [''], resourceNames?: string[]): PolicyRule => ({ verbs, apiGroups: groups, resources, ...(resourceNames ? { resourceNames } : {}) });
const clusterRole = (name: string, rules: PolicyRule[], extra: Record<string, unknown> = {}): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name }, rules, ...extra });
const role = (namespace: string, name: string, rules: PolicyRule[]): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'Role', metadata: { namespace, name }, rules });
const userSubject = (name: string) => ({ kind: 'User', apiGroup: G, name });
const crb = (name: string, roleName: string, user: string): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: G, kind: 'ClusterRole', name: roleName }, subjects: [userSubject(user)] });
const rb = (namespace: string, name: string, kind: string, roleName: string, user: string): KubeObject => ({
  apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { namespace, name }, roleRef: { apiGroup: G, kind, name: roleName }, subjects: [userSubject(user)],
});

const alice: UserInfo = { name: 'alice', groups: ['devs', 'system:authenticated'] };

function setup(objs: KubeObject[]) {
  const rbac = new RbacAuthorizer();
  for (const o of objs) rbac.onEvent(o.kind as 'Role', 'ADDED', o);
  return { rbac, check: rbacEscalationCheck({ rbac, authorize: (a) => rbac.authorize(a) }) };
}

async function refusal(p: Promise<void>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail('expected a refusal');
}

describe('rbac escalation prevention', () => {
  const base = [
    clusterRole('pod-reader', [rule(['get', 'list'], ['pods'])]),
    rb('ns', 'alice-reads', 'ClusterRole', 'pod-reader', 'alice'),
    clusterRole('secret-reader', [rule(['get'], ['secrets'])]),
    clusterRole('admin-ish', [rule(['*'], ['*'], ['*'])]),
  ];

  it('lets a user create a Role with rules it holds in that namespace, and not elsewhere', async () => {
    const { check } = setup(base);
    await check(alice, 'create', role('ns', 'r', [rule(['get'], ['pods'])]));
    const err = await refusal(check(alice, 'create', role('other', 'r', [rule(['get'], ['pods'])])));
    assert.equal(err.code, 403);
    assert.equal(
      err.message,
      'roles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get"]}',
    );
    assert.deepEqual(err.status.details, { name: 'r', group: G, kind: 'roles' });
  });

  it('lists every missing right, compacted and sorted', async () => {
    const { check } = setup(base);
    const err = await refusal(check(alice, 'create', role('ns', 'r', [rule(['get', 'list', 'delete'], ['pods', 'secrets'])])));
    assert.match(err.message, /not currently held:\n\{APIGroups:\[""\], Resources:\["pods"\], Verbs:\["delete"\]\}\n\{APIGroups:\[""\], Resources:\["secrets"\], Verbs:\["get" "list" "delete"\]\}$/);
  });

  it('refuses a ClusterRole with namespace-only rights: cluster-wide rules must be held cluster-wide', async () => {
    const { check } = setup(base);
    const err = await refusal(check(alice, 'create', clusterRole('c', [rule(['get'], ['pods'])])));
    assert.match(err.message, /^clusterroles\.rbac\.authorization\.k8s\.io "c" is forbidden: user "alice"/);
  });

  it('lets a user bind a role it holds the rules of, and not one it does not', async () => {
    const { check } = setup(base);
    await check(alice, 'create', rb('ns', 'give-bob', 'ClusterRole', 'pod-reader', 'bob'));
    const err = await refusal(check(alice, 'create', rb('ns', 'give-bob', 'ClusterRole', 'secret-reader', 'bob')));
    assert.match(err.message, /^rolebindings\.rbac\.authorization\.k8s\.io "give-bob" is forbidden: .*\n\{APIGroups:\[""\], Resources:\["secrets"\], Verbs:\["get"\]\}$/s);
    const crbErr = await refusal(check(alice, 'create', crb('everywhere', 'pod-reader', 'bob')));
    assert.match(crbErr.message, /^clusterrolebindings\.rbac\.authorization\.k8s\.io "everywhere" is forbidden/);
  });

  it('answers NotFound for a binding to a missing role, as kube does for unprivileged users', async () => {
    const { check } = setup(base);
    const err = await refusal(check(alice, 'create', rb('ns', 'x', 'ClusterRole', 'nope', 'bob')));
    assert.equal(err.code, 404);
    assert.equal(err.message, 'clusterrole.rbac.authorization.k8s.io "nope" not found');
  });

  it('allows binding without holding the rules given the bind verb on that role name', async () => {
    const { check } = setup([
      ...base,
      clusterRole('binder', [rule(['bind'], ['clusterroles'], [G], ['secret-reader'])]),
      rb('ns', 'alice-binds', 'ClusterRole', 'binder', 'alice'),
    ]);
    await check(alice, 'create', rb('ns', 'give-bob', 'ClusterRole', 'secret-reader', 'bob'));
    await refusal(check(alice, 'create', rb('ns', 'give-bob', 'ClusterRole', 'admin-ish', 'bob')));
    // bind in ns does not extend to cluster-wide bindings
    await refusal(check(alice, 'create', crb('all', 'secret-reader', 'bob')));
  });

  it('allows any role contents given escalate on roles', async () => {
    const { check } = setup([...base, clusterRole('escalator', [rule(['escalate'], ['roles'], [G])]), rb('ns', 'esc', 'ClusterRole', 'escalator', 'alice')]);
    await check(alice, 'create', role('ns', 'big', [rule(['*'], ['*'], ['*'])]));
    await refusal(check(alice, 'create', clusterRole('big', [rule(['*'], ['*'], ['*'])])));
  });

  it('requires full authority to set an aggregationRule', async () => {
    const { check } = setup([...base, clusterRole('ns-reader', [rule(['get'], ['namespaces'])]), crb('alice-ns', 'ns-reader', 'alice')]);
    const err = await refusal(check(alice, 'create', clusterRole('agg', [], { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: 'b' } }] } })));
    assert.equal(err.message, 'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use an aggregationRule');
    const admin = setup([...base, crb('alice-admin', 'cluster-admin', 'alice'), clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), { verbs: ['*'], nonResourceURLs: ['*'] }])]);
    await admin.check(alice, 'create', clusterRole('agg', [], { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: 'b' } }] } }));
  });

  it('lets system:masters do anything, and passes deletes, other kinds and GC-only updates', async () => {
    const { check } = setup(base);
    await check({ name: 'root', groups: ['system:masters'] }, 'create', clusterRole('big', [rule(['*'], ['*'], ['*'])]));
    await check(alice, 'delete', clusterRole('big', [rule(['*'], ['*'], ['*'])]));
    await check(alice, 'create', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns' } });
    const old = role('other', 'r', [rule(['*'], ['*'], ['*'])]);
    const withFinalizer = { ...old, metadata: { ...old.metadata, finalizers: ['example.com/f'], resourceVersion: '9' } };
    await check(alice, 'update', withFinalizer, old);
    await refusal(check(alice, 'update', { ...withFinalizer, metadata: { ...withFinalizer.metadata, labels: { a: 'b' } } }, old));
  });

  it('confirmNoEscalation reports resolution errors with the missing rights', () => {
    const { rbac } = setup([rb('ns', 'dangling', 'ClusterRole', 'gone', 'alice')]);
    const msg = confirmNoEscalation(rbac, alice, 'ns', [rule(['get'], ['pods'])]);
    assert.equal(msg?.endsWith('; resolution errors: [clusterrole.rbac.authorization.k8s.io "gone" not found]'), true);
    assert.equal(confirmNoEscalation(rbac, alice, 'ns', []), undefined);
  });
});
