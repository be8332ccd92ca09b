import { strict as assert } from 'node:assert';
import { CONTROLLER_SERVICE_ACCOUNTS } from '../../api/controller-accounts.js';
import { BOOTSTRAP_CLUSTER_ROLE_BINDINGS, BOOTSTRAP_CLUSTER_ROLES, BOOTSTRAP_ROLE_BINDINGS, BOOTSTRAP_ROLES, CONTROLLER_ROLE_PREFIX } from './rbac/bootstrap-policy.js';
import { noOpinion, type Attributes, type AuthorizationResult, type Authorizer } from './types.js';
import { parseAuthorizationModes, UnionAuthorizer } from './union.js';

const attrs = (user: string, groups: string[] = []): Attributes => ({
  user: { name: user, groups },
  verb: 'get',
  namespace: 'a',
  apiGroup: '',
  apiVersion: 'v1',
  resource: 'pods',
  subresource: '',
  name: 'p',
  path: '',
  resourceRequest: true,
});
const fixed = (r: AuthorizationResult, asked: string[], name: string): Authorizer => ({
  authorize: () => {
    asked.push(name);
    return r;
  },
});

describe('the authorizer chain (--authorization-mode)', () => {
  it('allows system:masters first, then asks each mode in order until one decides', () => {
    const asked: string[] = [];
    const u = new UnionAuthorizer([fixed(noOpinion('node says no'), asked, 'node'), fixed({ decision: 'deny', reason: 'denied' }, asked, 'deny'), fixed({ decision: 'allow', reason: '' }, asked, 'never')], []);
    assert.deepEqual(u.authorize(attrs('admin', ['system:masters'])), { decision: 'allow', reason: '' });
    assert.deepEqual(asked, []);
    assert.deepEqual(u.authorize(attrs('bob')), { decision: 'deny', reason: 'denied' });
    assert.deepEqual(asked, ['node', 'deny']);
  });

  it('joins the reasons of authorizers without an opinion', () => {
    const u = new UnionAuthorizer([fixed(noOpinion('first'), [], 'a'), fixed(noOpinion(''), [], 'b'), fixed(noOpinion('second'), [], 'c')], []);
    assert.deepEqual(u.authorize(attrs('bob')), { decision: 'noOpinion', reason: 'first\nsecond' });
  });

  it('parses modes as kube-apiserver validates them', () => {
    assert.deepEqual(parseAuthorizationModes(['Node,RBAC']), ['Node', 'RBAC']);
    assert.throws(() => parseAuthorizationModes(['Node,ABAC']), /authorization-mode "ABAC" is not a valid mode/);
    assert.throws(() => parseAuthorizationModes(['RBAC,RBAC']), /has mode specified more than once/);
    assert.throws(() => parseAuthorizationModes(['']), /at least one authorization mode/);
  });

  it('gives every controller service account a role and a binding in the bootstrap policy', () => {
    for (const account of new Set(Object.values(CONTROLLER_SERVICE_ACCOUNTS))) {
      const role = `${CONTROLLER_ROLE_PREFIX}${account}`;
      const subjects = [{ kind: 'ServiceAccount', name: account, namespace: 'kube-system' }];
      // A ClusterRole and its binding, or (token-cleaner, bootstrap-signer, as kube has them) Roles and RoleBindings.
      if (BOOTSTRAP_CLUSTER_ROLES.some((r) => r.metadata.name === role)) {
        assert.deepEqual(BOOTSTRAP_CLUSTER_ROLE_BINDINGS.find((b) => b.metadata.name === role)?.subjects, subjects, role);
        continue;
      }
      const roles = BOOTSTRAP_ROLES.filter((r) => r.metadata.name === role);
      assert.ok(roles.length > 0, role);
      for (const r of roles) {
        const binding = BOOTSTRAP_ROLE_BINDINGS.find((b) => b.metadata.namespace === r.metadata.namespace && b.roleRef.name === role);
        assert.deepEqual(binding?.subjects, subjects, `${r.metadata.namespace}/${role}`);
      }
    }
  });
});
