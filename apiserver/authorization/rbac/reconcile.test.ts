// Bootstrap reconciliation against the real registry over in-memory embedded storage (validation included), and the
// decisions the reconciled policy gives.
import assert from 'node:assert/strict';
import { findByKind } from '../../../api/resources.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
import { logger } from '../../../lib/logger.js';
import { memoryRegistry, type MemoryRegistry } from '../../../test/support/memory-registry.js';
import type { Registry, Store } from '../../registry/index.js';
import type { Obj } from '../../registry/object.js';
import type { Attributes, UserInfo } from '../types.js';
import { RBAC_KINDS, RbacAuthorizer, type RbacKind } from './authorizer.js';
import { BOOTSTRAP_CLUSTER_ROLE_BINDINGS, BOOTSTRAP_CLUSTER_ROLES, BOOTSTRAP_ROLE_BINDINGS, BOOTSTRAP_ROLES } from './bootstrap-policy.js';
import { reconcile, reconcileBootstrapPolicy, reconciledRole } from './reconcile.js';
import { storeRbacClient } from './store-client.js';

const log = logger('rbac-reconcile-test');
const G = 'rbac.authorization.k8s.io/v1';

describe('rbac bootstrap reconciliation', () => {
  let mem: MemoryRegistry;
  let registry: Registry;
  const storeOf = (kind: RbacKind): Store => registry.store(findByKind(G, kind)!);
  const client = () => storeRbacClient(storeOf);
  const total = BOOTSTRAP_CLUSTER_ROLES.length + BOOTSTRAP_CLUSTER_ROLE_BINDINGS.length + BOOTSTRAP_ROLES.length + BOOTSTRAP_ROLE_BINDINGS.length;

  beforeEach(() => {
    mem = memoryRegistry();
    registry = mem.registry;
  });
  afterEach(() => mem.close());

  async function authorizer(): Promise<RbacAuthorizer> {
    const a = new RbacAuthorizer();
    for (const kind of RBAC_KINDS) a.replace(kind, (await storeOf(kind).list('')).items as KubeObject[]);
    return a;
  }

  it('creates every bootstrap object once (all valid), then finds nothing to do', async () => {
    assert.deepEqual(await reconcileBootstrapPolicy(client(), log), { created: total, updated: 0, protected: 0 });
    assert.deepEqual(await reconcileBootstrapPolicy(client(), log), { created: 0, updated: 0, protected: 0 });
    const admin = (await storeOf('ClusterRole').get('', 'admin')) as KubeObject;
    assert.equal(admin.metadata.annotations?.['rbac.authorization.kubernetes.io/autoupdate'], 'true');
    assert.deepEqual(admin.aggregationRule, { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' } }] });
  });

  it('gives the bootstrap identities their rights and nothing more', async () => {
    await reconcileBootstrapPolicy(client(), log);
    const a = await authorizer();
    const can = (user: UserInfo, o: Partial<Attributes>): boolean =>
      a.authorize({ user, verb: 'get', namespace: '', apiGroup: '', apiVersion: 'v1', resource: '', subresource: '', name: '', path: '', resourceRequest: true, ...o }).decision === 'allow';
    const masters: UserInfo = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
    const someone: UserInfo = { name: 'alice', groups: ['system:authenticated'] };
    const anonymous: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
    const scheduler: UserInfo = { name: 'system:kube-scheduler', groups: ['system:authenticated'] };
    const rsController: UserInfo = { name: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] };
    const defaultSa: UserInfo = { name: 'system:serviceaccount:team:default', groups: ['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated'] };

    assert.equal(can(masters, { verb: 'delete', resource: 'secrets', namespace: 'kube-system' }), true);
    assert.equal(can(masters, { resourceRequest: false, path: '/metrics' }), true);
    assert.equal(can(someone, { verb: 'create', apiGroup: 'authorization.k8s.io', resource: 'selfsubjectrulesreviews' }), true);
    assert.equal(can(someone, { resourceRequest: false, path: '/apis/apps/v1' }), true);
    assert.equal(can(someone, { verb: 'list', resource: 'pods', namespace: 'default' }), false);
    assert.equal(can(anonymous, { resourceRequest: false, path: '/healthz' }), true);
    assert.equal(can(anonymous, { resourceRequest: false, path: '/api' }), false);
    assert.equal(can(scheduler, { verb: 'create', resource: 'pods', subresource: 'binding', namespace: 'x' }), true);
    assert.equal(can(scheduler, { verb: 'update', apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system', name: 'kube-scheduler' }), true);
    assert.equal(can(scheduler, { verb: 'create', resource: 'pods', namespace: 'x' }), false);
    assert.equal(can(rsController, { verb: 'create', resource: 'pods', namespace: 'x' }), true);
    assert.equal(can(rsController, { verb: 'update', apiGroup: 'apps', resource: 'replicasets', subresource: 'status', namespace: 'x' }), true);
    assert.equal(can(rsController, { verb: 'get', resource: 'secrets', namespace: 'x' }), false);
    // the default service account holds no rights beyond discovery
    assert.equal(can(defaultSa, { verb: 'list', resource: 'secrets', namespace: 'team' }), false);
    assert.equal(can(defaultSa, { verb: 'create', resource: 'pods', namespace: 'team' }), false);
    assert.equal(can(defaultSa, { resourceRequest: false, path: '/openid/v1/jwks' }), true);
  });

  it('adds back removed rules and subjects, keeps additions, and skips autoupdate=false objects', async () => {
    await reconcileBootstrapPolicy(client(), log);
    const roles = storeOf('ClusterRole');
    await roles.update('', 'system:basic-user', (cur) => ({ ...(cur as Obj), rules: [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'] }] }));
    await storeOf('ClusterRoleBinding').update('', 'system:discovery', (cur) => ({ ...(cur as Obj), subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'extra' }] }));
    await roles.update('', 'system:monitoring', (cur) => ({
      ...(cur as Obj),
      metadata: { ...(cur as Obj).metadata, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } },
      rules: [],
    }));
    assert.deepEqual(await reconcileBootstrapPolicy(client(), log), { created: 0, updated: 2, protected: 1 });
    const a = await authorizer();
    const alice: UserInfo = { name: 'alice', groups: ['system:authenticated'] };
    const at = (o: Partial<Attributes>): Attributes => ({ user: alice, verb: 'get', namespace: '', apiGroup: '', apiVersion: 'v1', resource: '', subresource: '', name: '', path: '', resourceRequest: true, ...o });
    assert.equal(a.authorize(at({ verb: 'create', apiGroup: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' })).decision, 'allow');
    assert.equal(a.authorize(at({ resource: 'configmaps', namespace: 'x' })).decision, 'allow', 'the added rule stays');
    assert.equal(a.authorize(at({ resourceRequest: false, path: '/api' })).decision, 'allow');
    const discovery = (await storeOf('ClusterRoleBinding').get('', 'system:discovery')) as KubeObject;
    assert.deepEqual((discovery.subjects as { name: string }[]).map((s) => s.name), ['extra', 'system:authenticated']);
    assert.deepEqual(((await roles.get('', 'system:monitoring')) as KubeObject).rules, []);
  });

  it('recreates a binding whose roleRef differs', async () => {
    const c = client();
    const expected = BOOTSTRAP_CLUSTER_ROLE_BINDINGS.find((b) => b.metadata.name === 'system:basic-user')! as unknown as KubeObject;
    await c.create('ClusterRoleBinding', { ...structuredClone(expected), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' } });
    const before = (await c.get('ClusterRoleBinding', '', 'system:basic-user'))!;
    const r = await reconcile(c, 'ClusterRoleBinding', expected);
    assert.equal(r.operation, 'recreate');
    const after = (await c.get('ClusterRoleBinding', '', 'system:basic-user'))!;
    assert.notEqual(after.metadata.uid, before.metadata.uid);
    assert.deepEqual(after.roleRef, expected.roleRef);
  });

  it('computes without writing when not confirmed, and removes extras when asked', async () => {
    const c = client();
    const expected: KubeObject = { apiVersion: G, kind: 'ClusterRole', metadata: { name: 'r' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] };
    assert.equal((await reconcile(c, 'ClusterRole', expected, { confirm: false })).operation, 'create');
    assert.equal(await c.get('ClusterRole', '', 'r'), undefined);
    const existing: KubeObject = { ...expected, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'secrets'] }] };
    assert.equal(reconciledRole(existing, expected).operation, 'none');
    const stomped = reconciledRole(existing, expected, true);
    assert.equal(stomped.operation, 'update');
    assert.deepEqual(stomped.obj.rules, expected.rules);
  });
});
