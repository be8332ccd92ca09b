import assert from 'node:assert/strict';
import type { KubeObject } from '../../../api/schemas/meta.js';
import type { PolicyRule, Subject } from '../../../api/schemas/rbac.js';
import { isNotFound } from '../../../api/errors.js';
import { privilegedGroups, type Attributes, type UserInfo } from '../types.js';
import { RbacAuthorizer } from './authorizer.js';

const G = 'rbac.authorization.k8s.io';
const rule = (verbs: string, groups: string, resources: string): PolicyRule => ({ verbs: verbs.split(','), apiGroups: groups.split(','), resources: resources.split(',') });
const clusterRole = (name: string, ...rules: PolicyRule[]): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name }, rules });
const role = (namespace: string, name: string, ...rules: PolicyRule[]): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'Role', metadata: { namespace, name }, rules });
/** "User:alice", "Group:devs", "ServiceAccount:ns/name" (or "ServiceAccount:name" for the binding's namespace). */
function subjects(specs: string[]): Subject[] {
  return specs.map((s) => {
    const [kind, rest] = s.split(/:(.*)/s) as [string, string];
    if (kind === 'ServiceAccount') {
      const [a, b] = rest.split('/');
      return b === undefined ? { kind, name: a! } : { kind, namespace: a!, name: b };
    }
    return { kind, apiGroup: G, name: rest };
  });
}
const crb = (name: string, roleName: string, ...subs: string[]): KubeObject => ({
  apiVersion: `${G}/v1`, kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: G, kind: 'ClusterRole', name: roleName }, subjects: subjects(subs),
});
const rb = (namespace: string, name: string, ref: 'Role' | 'ClusterRole', roleName: string, ...subs: string[]): KubeObject => ({
  apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { namespace, name }, roleRef: { apiGroup: G, kind: ref, name: roleName }, subjects: subjects(subs),
});

const u = (name: string, ...groups: string[]): UserInfo => ({ name, groups });
const req = (user: UserInfo, verb: string, resource: string, namespace = '', o: Partial<Attributes> = {}): Attributes => ({
  user, verb, resource, namespace, apiGroup: '', apiVersion: 'v1', subresource: '', name: '', path: '', resourceRequest: true, ...o,
});
const path = (user: UserInfo, verb: string, p: string): Attributes => ({ ...req(user, verb, ''), path: p, resourceRequest: false });

function load(objs: KubeObject[]): RbacAuthorizer {
  const a = new RbacAuthorizer();
  for (const o of objs) a.onEvent(o.kind as 'Role', 'ADDED', o);
  return a;
}
const allowed = (a: RbacAuthorizer, attrs: Attributes): boolean => a.authorize(attrs).decision === 'allow';

describe('rbac authorizer', () => {
  it('grants a RoleBinding of a ClusterRole in its namespace only (kube TestAuthorizer)', () => {
    const a = load([clusterRole('admin', rule('*', '*', '*')), rb('ns1', 'b', 'ClusterRole', 'admin', 'User:admin', 'Group:admins')]);
    for (const ok of [req(u('admin'), 'get', 'pods', 'ns1'), req(u('admin', 'group1'), 'watch', 'foobar', 'ns1'), req(u('joe', 'admins'), 'watch', 'foobar', 'ns1'), req(u('joe', 'group1', 'admins'), 'watch', 'foobar', 'ns1')]) {
      assert.equal(allowed(a, ok), true, JSON.stringify(ok));
    }
    for (const no of [req(u('admin'), 'get', 'pods', 'ns2'), req(u('admin'), 'get', 'nodes'), req(u('admin', 'admins'), 'get', 'pods', 'ns2'), req(u('joe'), 'get', 'pods', 'ns1')]) {
      assert.equal(allowed(a, no), false, JSON.stringify(no));
    }
  });

  it('matches non-resource URLs from ClusterRoleBindings', () => {
    const a = load([
      { ...clusterRole('getter'), rules: [{ verbs: ['get'], nonResourceURLs: ['/apis'] }] },
      { ...clusterRole('prefix'), rules: [{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }] },
      crb('getter', 'getter', 'User:foo', 'Group:bar'),
      crb('prefix', 'prefix', 'User:prefixed'),
    ]);
    assert.equal(allowed(a, path(u('foo'), 'get', '/apis')), true);
    assert.equal(allowed(a, path(u('', 'bar'), 'get', '/apis')), true);
    assert.equal(allowed(a, path(u('foo'), 'watch', '/apis')), false);
    assert.equal(allowed(a, path(u('foo'), 'get', '/api/v1')), false);
    assert.equal(allowed(a, path(u('prefixed'), 'get', '/apis/v1/foo')), true);
    assert.equal(allowed(a, path(u('prefixed'), 'get', '/api/v1')), false);
  });

  it('gives kube reasons that name the binding, role and the first subject that applies', () => {
    const a = load([
      clusterRole('view', rule('get', '', 'pods')),
      crb('viewers', 'view', 'Group:devs', 'User:alice'),
      role('ns1', 'r', rule('list', '', 'secrets')),
      rb('ns1', 'rb', 'Role', 'r', 'ServiceAccount:default', 'User:alice'),
    ]);
    assert.equal(a.authorize(req(u('alice', 'devs'), 'get', 'pods')).reason, 'RBAC: allowed by ClusterRoleBinding "viewers" of ClusterRole "view" to Group "devs"');
    assert.equal(a.authorize(req(u('alice'), 'get', 'pods')).reason, 'RBAC: allowed by ClusterRoleBinding "viewers" of ClusterRole "view" to User "alice"');
    assert.equal(
      a.authorize(req(u('system:serviceaccount:ns1:default'), 'list', 'secrets', 'ns1')).reason,
      'RBAC: allowed by RoleBinding "rb/ns1" of Role "r" to ServiceAccount "default/ns1"',
    );
    assert.deepEqual(a.authorize(req(u('bob'), 'get', 'pods')), { decision: 'noOpinion', reason: '' });
  });

  it('matches service accounts by user name, defaulting a RoleBinding subject to its namespace', () => {
    const a = load([
      clusterRole('edit', rule('create', '', 'pods')),
      rb('team', 'local', 'ClusterRole', 'edit', 'ServiceAccount:builder'),
      crb('global', 'edit', 'ServiceAccount:ci/deployer', 'ServiceAccount:no-namespace'),
      crb('all-sas', 'edit', 'Group:system:serviceaccounts:shared'),
    ]);
    assert.equal(allowed(a, req(u('system:serviceaccount:team:builder'), 'create', 'pods', 'team')), true);
    assert.equal(allowed(a, req(u('system:serviceaccount:other:builder'), 'create', 'pods', 'team')), false);
    assert.equal(allowed(a, req(u('system:serviceaccount:team:builder'), 'create', 'pods', 'other')), false);
    assert.equal(allowed(a, req(u('system:serviceaccount:ci:deployer'), 'create', 'pods', 'anywhere')), true);
    // A ClusterRoleBinding's service account without a namespace matches nobody.
    assert.equal(allowed(a, req(u('system:serviceaccount::no-namespace'), 'create', 'pods', 'x')), false);
    assert.equal(allowed(a, req(u('system:serviceaccount:shared:x', 'system:serviceaccounts', 'system:serviceaccounts:shared'), 'create', 'pods', 'y')), true);
    // A user named like a service account is that service account (kube's MatchesUsername).
    assert.equal(allowed(a, req(u('system:serviceaccount:ci:deployer'), 'create', 'pods', 'z')), true);
  });

  it('follows role changes in every binding at once, and bindings to roles that come later', () => {
    const a = load([rb('ns', 'b1', 'Role', 'r', 'User:a'), rb('ns', 'b2', 'Role', 'r', 'User:b')]);
    assert.equal(allowed(a, req(u('a'), 'get', 'pods', 'ns')), false);
    assert.equal(a.authorize(req(u('a'), 'get', 'pods', 'ns')).reason, 'RBAC: role.rbac.authorization.k8s.io "r" not found');
    a.onRoleEvent('ADDED', role('ns', 'r', rule('get', '', 'pods')));
    assert.equal(allowed(a, req(u('a'), 'get', 'pods', 'ns')), true);
    assert.equal(allowed(a, req(u('b'), 'get', 'pods', 'ns')), true);
    assert.deepEqual(a.bindingsOf('Role', 'ns', 'r'), ['RoleBinding/ns/b1', 'RoleBinding/ns/b2']);
    a.onRoleEvent('MODIFIED', role('ns', 'r', rule('list', '', 'pods')));
    assert.equal(allowed(a, req(u('a'), 'get', 'pods', 'ns')), false);
    assert.equal(allowed(a, req(u('b'), 'list', 'pods', 'ns')), true);
    a.onRoleEvent('DELETED', role('ns', 'r'));
    assert.equal(allowed(a, req(u('b'), 'list', 'pods', 'ns')), false);
    // A Role of the same name in another namespace is another role.
    a.onRoleEvent('ADDED', role('other', 'r', rule('*', '*', '*')));
    assert.equal(allowed(a, req(u('a'), 'get', 'pods', 'ns')), false);
  });

  it('re-indexes a binding whose subjects change, and forgets deleted bindings', () => {
    const a = load([clusterRole('c', rule('get', '', 'pods')), crb('b', 'c', 'User:a')]);
    assert.equal(allowed(a, req(u('a'), 'get', 'pods')), true);
    a.onClusterRoleBindingEvent('MODIFIED', crb('b', 'c', 'User:b'));
    assert.equal(allowed(a, req(u('a'), 'get', 'pods')), false);
    assert.equal(allowed(a, req(u('b'), 'get', 'pods')), true);
    a.onClusterRoleBindingEvent('DELETED', crb('b', 'c', 'User:b'));
    assert.equal(allowed(a, req(u('b'), 'get', 'pods')), false);
    assert.deepEqual(a.stats(), { clusterRoles: 1, roles: 0, bindings: 0, namespaces: 0 });
  });

  it('replace() drops what a snapshot no longer has', () => {
    const a = load([clusterRole('c', rule('get', '', 'pods')), crb('b1', 'c', 'User:a'), crb('b2', 'c', 'User:b')]);
    a.replace('ClusterRoleBinding', [crb('b2', 'c', 'User:b')]);
    assert.equal(allowed(a, req(u('a'), 'get', 'pods')), false);
    assert.equal(allowed(a, req(u('b'), 'get', 'pods')), true);
    a.replace('ClusterRole', []);
    assert.equal(allowed(a, req(u('b'), 'get', 'pods')), false);
  });

  it('lists a user\'s rules in a namespace, with missing roles as errors', () => {
    const a = load([
      clusterRole('basic', { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'] }, { verbs: ['get'], nonResourceURLs: ['/version'] }),
      crb('basic', 'basic', 'Group:system:authenticated'),
      role('ns', 'pods', { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['p1'] }),
      rb('ns', 'pods', 'Role', 'pods', 'User:alice'),
      rb('ns', 'gone', 'ClusterRole', 'missing', 'User:alice'),
    ]);
    const r = a.rulesFor(u('alice', 'system:authenticated'), 'ns');
    assert.deepEqual(r.resourceRules, [
      { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'] },
      { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['p1'] },
    ]);
    assert.deepEqual(r.nonResourceRules, [{ verbs: ['get'], nonResourceURLs: ['/version'] }]);
    assert.deepEqual(r.errors, ['clusterrole.rbac.authorization.k8s.io "missing" not found']);
    assert.equal(a.rulesFor(u('alice', 'system:authenticated'), 'other').resourceRules.length, 1);
  });

  it('resolves role references for escalation checks', () => {
    const a = load([clusterRole('c', rule('get', '', 'pods')), role('ns', 'r', rule('list', '', 'pods'))]);
    assert.deepEqual(a.roleReferenceRules({ kind: 'Role', name: 'r' }, 'ns'), [rule('list', '', 'pods')]);
    assert.deepEqual(a.roleReferenceRules({ kind: 'ClusterRole', name: 'c' }, 'ns'), [rule('get', '', 'pods')]);
    assert.throws(() => a.roleReferenceRules({ kind: 'Role', name: 'r' }, 'other'), (e: unknown) => isNotFound(e));
  });

  it('lets system:masters do anything through the privileged-groups authorizer, and nobody else', () => {
    const masters = privilegedGroups('system:masters');
    assert.equal(masters.authorize(req(u('root', 'system:masters'), 'delete', 'nodes')).decision, 'allow');
    assert.equal(masters.authorize(req(u('system:masters'), 'delete', 'nodes')).decision, 'noOpinion');
  });

  it('decides with 1,000 unrelated bindings by looking only at the caller\'s', () => {
    const objs: KubeObject[] = [clusterRole('edit', rule('create,get', '', 'pods'))];
    for (let i = 0; i < 1000; i++) objs.push(rb(`ns${i % 50}`, `b${i}`, 'ClusterRole', 'edit', `User:user${i}`));
    const a = load(objs);
    assert.equal(allowed(a, req(u('user777'), 'create', 'pods', 'ns27')), true);
    assert.equal(allowed(a, req(u('user777'), 'create', 'pods', 'ns28')), false);
    assert.equal(a.stats().namespaces, 50);
  });
});
