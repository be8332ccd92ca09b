// Escalation prevention (pkg/registry/rbac/validation/rule.go ConfirmNoEscalation, pkg/registry/rbac/escalation_check.go
// and the */policybased storages): a user may write a Role or ClusterRole only with rules it holds itself, and bind a
// role only if it holds the role's rules, unless it may `escalate` roles or `bind` that role. system:masters may do all.
import { ApiError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
import { RBAC_GROUP, type AggregationRule, type PolicyRule, type RoleRef } from '../../../api/schemas/rbac.js';
import { deepEqual } from '../../../api/field.js';
import { forbiddenBy } from '../../admission/namespace-lifecycle.js';
import { compactRules, compactString, covers, goQuoteList } from './rules.js';
import { aggregate, type RbacAuthorizer } from './authorizer.js';
import { SYSTEM_MASTERS, type Attributes, type AuthorizationResult, type UserInfo } from '../types.js';

/** `*` on everything: what setting an aggregationRule requires, since it can gather any rule. */
const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

/**
 * ConfirmNoEscalation: undefined when the user's rules in `namespace` ('' : cluster-wide only) cover `rules`, else
 * kube's message naming what is missing.
 */
export function confirmNoEscalation(resolver: Pick<RbacAuthorizer, 'policyRulesFor'>, user: UserInfo, namespace: string, rules: readonly PolicyRule[]): string | undefined {
  const owner = resolver.policyRulesFor(user, namespace);
  const { covered, missing } = covers(owner.rules, rules);
  if (covered) return undefined;
  const described = [...new Set(compactRules(missing).map(compactString))].sort();
  let msg = `user ${JSON.stringify(user.name)} (groups=${goQuoteList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${described.join('\n')}`;
  if (owner.errors.length) msg += `; resolution errors: [${aggregate(owner.errors)}]`;
  return msg;
}

export interface EscalationDeps {
  /** The RBAC cache: the user's rules, and the rules a roleRef names. */
  rbac: Pick<RbacAuthorizer, 'policyRulesFor' | 'roleReferenceRules'>;
  /** The server's whole authorizer chain (Node,RBAC): asked whether the user may `escalate` or `bind`, as kube does. */
  authorize(attrs: Attributes): AuthorizationResult | Promise<AuthorizationResult>;
}

export type EscalationCheck = (user: UserInfo, operation: 'create' | 'update' | 'delete', obj: KubeObject, old?: KubeObject) => Promise<void>;

const RESOURCE_OF: Record<string, string> = { Role: 'roles', ClusterRole: 'clusterroles', RoleBinding: 'rolebindings', ClusterRoleBinding: 'clusterrolebindings' };

/** IsOnlyMutatingGCFields: only ownerReferences and finalizers differ (server bookkeeping aside), as the GC writes. */
function onlyGcFieldsChange(obj: KubeObject, old: KubeObject): boolean {
  const strip = (o: KubeObject, meta: KubeObject['metadata']): unknown => {
    const { resourceVersion: _rv, managedFields: _mf, ownerReferences: _or, finalizers: _f, ...rest } = meta;
    return { ...o, metadata: rest };
  };
  return deepEqual(strip(obj, obj.metadata), strip(old, old.metadata));
}

function attrs(user: UserInfo, verb: string, resource: string, namespace: string, name: string): Attributes {
  return { user, verb, namespace, apiGroup: RBAC_GROUP, apiVersion: '*', resource, subresource: '', name, path: '', resourceRequest: true };
}

/**
 * The check a create or update of a Role, ClusterRole, RoleBinding or ClusterRoleBinding runs with the requesting user,
 * before it is stored; other kinds and deletes pass. Refusals are kube's 403 (`roles.rbac.authorization.k8s.io "x" is
 * forbidden: user "u" (groups=[...]) is attempting to grant RBAC permissions not currently held: ...`).
 */
export function rbacEscalationCheck(deps: EscalationDeps): EscalationCheck {
  const allowed = async (a: Attributes): Promise<boolean> => (await deps.authorize(a)).decision === 'allow';
  return async (user, operation, obj, old) => {
    const resource = RESOURCE_OF[obj.kind];
    if (operation === 'delete' || !resource || !obj.apiVersion.startsWith(`${RBAC_GROUP}/`)) return;
    if (user.groups.includes(SYSTEM_MASTERS)) return; // the API server's own loopback identity: may do anything
    if (operation === 'update' && old && onlyGcFieldsChange(obj, old)) return;
    const name = obj.metadata.name ?? '';
    const namespace = obj.kind === 'Role' || obj.kind === 'RoleBinding' ? (obj.metadata.namespace ?? '') : '';
    const info = { group: RBAC_GROUP, resource };
    const refuse = (why: string): ApiError => forbiddenBy(info, name, why);

    if (obj.kind === 'Role' || obj.kind === 'ClusterRole') {
      // RoleEscalationAuthorized: the request's name, which a create has not (kube reads it from the URL).
      if (await allowed(attrs(user, 'escalate', resource, namespace, operation === 'create' ? '' : name))) return;
      const why = confirmNoEscalation(deps.rbac, user, namespace, (obj.rules as PolicyRule[] | undefined) ?? []);
      if (why) throw refuse(why);
      const aggregated = (o: KubeObject | undefined): boolean => ((o?.aggregationRule as AggregationRule | undefined)?.clusterRoleSelectors?.length ?? 0) > 0;
      if (obj.kind === 'ClusterRole' && (aggregated(obj) || aggregated(old))) {
        if (confirmNoEscalation(deps.rbac, user, '', FULL_AUTHORITY)) throw refuse('must have cluster-admin privileges to use an aggregationRule');
      }
      return;
    }

    // BindingAuthorized: `bind` on the referenced role, in the binding's namespace ('' for a ClusterRoleBinding).
    const ref = (obj.roleRef ?? {}) as RoleRef;
    const roleResource = ref.kind === 'Role' ? 'roles' : ref.kind === 'ClusterRole' ? 'clusterroles' : '';
    if (roleResource && ref.apiGroup === RBAC_GROUP && (await allowed({ ...attrs(user, 'bind', roleResource, namespace, ref.name), apiGroup: ref.apiGroup }))) return;
    const why = confirmNoEscalation(deps.rbac, user, namespace, deps.rbac.roleReferenceRules(ref, namespace));
    if (why) throw refuse(why);
  };
}
