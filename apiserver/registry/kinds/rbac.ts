// Roles and bindings (pkg/registry/rbac/*/strategy.go): no status; a PUT on a missing object creates it, as kube allows
// for these kinds (what `kubectl auth reconcile` and bootstrap reconciliation rely on). roleRef immutability and the
// rule checks are in api/validation/rbac.ts; escalation checks are admission's (apiserver/authorization/rbac/escalation.ts).
import type { ResourceInfo } from '../../../api/resources.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

function rbacStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, { allowCreateOnUpdate: true });
}

export const RBAC_STRATEGIES = { Role: rbacStrategy, ClusterRole: rbacStrategy, RoleBinding: rbacStrategy, ClusterRoleBinding: rbacStrategy };
