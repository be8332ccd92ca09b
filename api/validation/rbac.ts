// Rules for rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding (pkg/apis/rbac/validation).
import { RBAC_GROUP, type ClusterRole, type ClusterRoleBinding, type PolicyRule, type Role, type RoleBinding, type RoleRef, type Subject } from '../schemas/rbac.js';
import { child, deepEqual, index, invalid, notSupported, required, type Cause } from '../field.js';
import { isValidPathSegmentName, nameIsDNSSubdomain, type NameValidator } from '../names.js';
import { validateLabelSelector } from './meta.js';
import { rules } from './rules.js';

/** RBAC names are path segments only (`system:controller:x` is a valid name), as OpenShift's minimal rule. */
const minimalName: NameValidator = (name) => isValidPathSegmentName(name);

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function validatePolicyRule(rule: PolicyRule, namespaced: boolean, path: string): Cause[] {
  const causes: Cause[] = [];
  // A missing verbs list is the schema's "Required value"; an empty one is this rule's.
  if (Array.isArray(rule.verbs) && rule.verbs.length === 0) causes.push(required(child(path, 'verbs'), 'verbs must contain at least one value'));
  const urls = list(rule.nonResourceURLs);
  if (urls.length > 0) {
    if (namespaced) causes.push(invalid(child(path, 'nonResourceURLs'), urls, 'namespaced rules cannot apply to non-resource URLs'));
    if (list(rule.apiGroups).length > 0 || list(rule.resources).length > 0 || list(rule.resourceNames).length > 0) {
      causes.push(invalid(child(path, 'nonResourceURLs'), urls, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return causes;
  }
  if (list(rule.apiGroups).length === 0) causes.push(required(child(path, 'apiGroups'), 'resource rules must supply at least one api group'));
  if (list(rule.resources).length === 0) causes.push(required(child(path, 'resources'), 'resource rules must supply at least one resource'));
  if (list(rule.resourceNames).length > 0 && list(rule.resources).length > 1) {
    causes.push(required(child(path, 'resourceNames'), 'resource names cannot apply to multiple resources'));
  }
  return causes;
}

const policyRules = (rs: PolicyRule[] | undefined, namespaced: boolean): Cause[] =>
  list(rs).flatMap((r, i) => validatePolicyRule(r as PolicyRule, namespaced, index('rules', i)));

function validateAggregationRule(role: ClusterRole): Cause[] {
  const agg = role.aggregationRule;
  if (!agg) return [];
  const path = 'aggregationRule.clusterRoleSelectors';
  const selectors = list(agg.clusterRoleSelectors) as NonNullable<typeof agg.clusterRoleSelectors>;
  if (selectors.length === 0) return [required(path, 'at least one clusterRoleSelector required if aggregationRule is non-nil')];
  return selectors.flatMap((sel, i) => validateLabelSelector(sel, index(path, i)));
}

function validateRoleRef(ref: RoleRef | undefined, kinds: readonly string[]): Cause[] {
  const r = (ref ?? {}) as Partial<RoleRef>;
  const causes: Cause[] = [];
  if (r.apiGroup !== RBAC_GROUP) causes.push(notSupported('roleRef.apiGroup', r.apiGroup ?? '', [RBAC_GROUP]));
  if (!kinds.includes(r.kind ?? '')) causes.push(notSupported('roleRef.kind', r.kind ?? '', kinds));
  if (!r.name) causes.push(required('roleRef.name'));
  else causes.push(...minimalName(r.name, false).map((m) => invalid('roleRef.name', r.name, m)));
  return causes;
}

const SUBJECT_KINDS = ['ServiceAccount', 'User', 'Group'] as const;

function validateSubject(s: Subject, namespaced: boolean, path: string): Cause[] {
  const causes: Cause[] = [];
  const name = s.name ?? '';
  if (!name) causes.push(required(child(path, 'name')));
  switch (s.kind) {
    case 'ServiceAccount':
      if (name) causes.push(...nameIsDNSSubdomain(name, false).map((m) => invalid(child(path, 'name'), name, m)));
      if (s.apiGroup) causes.push(notSupported(child(path, 'apiGroup'), s.apiGroup, ['']));
      if (!namespaced && !s.namespace) causes.push(required(child(path, 'namespace')));
      break;
    case 'User':
    case 'Group':
      if (!name) causes.push(invalid(child(path, 'name'), name, `${s.kind === 'User' ? 'user' : 'group'} name cannot be empty`));
      if (s.apiGroup !== RBAC_GROUP) causes.push(notSupported(child(path, 'apiGroup'), s.apiGroup ?? '', [RBAC_GROUP]));
      break;
    default:
      causes.push(notSupported(child(path, 'kind'), s.kind ?? '', SUBJECT_KINDS));
  }
  return causes;
}

function validateBinding(b: RoleBinding | ClusterRoleBinding, namespaced: boolean): Cause[] {
  return [
    ...validateRoleRef(b.roleRef, namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole']),
    ...list(b.subjects).flatMap((s, i) => validateSubject(s as Subject, namespaced, index('subjects', i))),
  ];
}

/** roleRef cannot change: a binding to another role is another binding (delete and create). */
function roleRefUnchanged(b: RoleBinding | ClusterRoleBinding, old: RoleBinding | ClusterRoleBinding): Cause[] {
  return deepEqual(b.roleRef, old.roleRef) ? [] : [invalid('roleRef', b.roleRef, 'cannot change roleRef')];
}

export const role = rules<Role>({ name: minimalName, validate: (r) => policyRules(r.rules, true) });

export const clusterRole = rules<ClusterRole>({
  name: minimalName,
  validate: (r) => [...policyRules(r.rules, false), ...validateAggregationRule(r)],
});

export const roleBinding = rules<RoleBinding>({
  name: minimalName,
  validate: (b) => validateBinding(b, true),
  validateUpdate: roleRefUnchanged,
});

export const clusterRoleBinding = rules<ClusterRoleBinding>({
  name: minimalName,
  validate: (b) => validateBinding(b, false),
  validateUpdate: roleRefUnchanged,
});
