// rbac.authorization.k8s.io/v1 schemas: Role, ClusterRole, RoleBinding, ClusterRoleBinding and their parts.
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Arr, StrArr } from './kit.js';
import { kindSchema, LabelSelector } from './meta.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const def = (name: string): string => `io.k8s.api.rbac.v1.${name}`;
const atomic = (description: string) => StrArr({ 'x-kubernetes-list-type': 'atomic', description });

export const PolicyRule = named(
  def('PolicyRule'),
  Type.Object(
    {
      verbs: atomic("The verbs allowed, e.g. 'get', 'list', 'create'; '*' is every verb."),
      apiGroups: Opt(atomic("API groups of the resources; '' is the core group, '*' every group.")),
      resources: Opt(atomic("Resources, 'resource/subresource' or '*/subresource'; '*' is every resource.")),
      resourceNames: Opt(atomic('Names the rule is limited to; empty means every name.')),
      nonResourceURLs: Opt(atomic("Non-resource paths ('/healthz'), a trailing '*' matching any suffix; ClusterRoles only.")),
    },
    { description: 'What a subject may do: verbs on resources (or on non-resource URLs).' },
  ),
);
export type PolicyRule = Static<typeof PolicyRule>;

export const AggregationRule = named(
  def('AggregationRule'),
  Type.Object(
    { clusterRoleSelectors: Opt(Arr(LabelSelector, { 'x-kubernetes-list-type': 'atomic' })) },
    { description: "Selects the ClusterRoles whose rules are gathered into this one's (by the aggregation controller)." },
  ),
);
export type AggregationRule = Static<typeof AggregationRule>;

export const RoleRef = named(
  def('RoleRef'),
  Type.Object(
    {
      apiGroup: Str({ description: 'The group of the referenced role: rbac.authorization.k8s.io.' }),
      kind: Str({ description: 'Role or ClusterRole.' }),
      name: Str(),
    },
    { 'x-kubernetes-map-type': 'atomic', description: 'The role a binding grants; immutable.' },
  ),
);
export type RoleRef = Static<typeof RoleRef>;

export const Subject = named(
  def('Subject'),
  Type.Object(
    {
      kind: Str({ description: 'User, Group or ServiceAccount.' }),
      apiGroup: Opt(Str({ description: "'' for ServiceAccount, rbac.authorization.k8s.io for User and Group." })),
      name: Str(),
      namespace: Opt(Str({ description: 'The namespace of a ServiceAccount.' })),
    },
    { 'x-kubernetes-map-type': 'atomic', description: 'Who a binding grants its role to.' },
  ),
);
export type Subject = Static<typeof Subject>;

const rules = Opt(Arr(PolicyRule, { 'x-kubernetes-list-type': 'atomic' }));
const subjects = Opt(Arr(Subject, { 'x-kubernetes-list-type': 'atomic' }));

export const Role = kindSchema(def('Role'), `${RBAC_GROUP}/v1`, 'Role', { rules }, 'Rules within one namespace.');
export type Role = Static<typeof Role>;

export const ClusterRole = kindSchema(
  def('ClusterRole'),
  `${RBAC_GROUP}/v1`,
  'ClusterRole',
  { rules, aggregationRule: Opt(AggregationRule) },
  'Rules cluster-wide, or in a namespace when a RoleBinding grants it.',
);
export type ClusterRole = Static<typeof ClusterRole>;

export const RoleBinding = kindSchema(def('RoleBinding'), `${RBAC_GROUP}/v1`, 'RoleBinding', { subjects, roleRef: RoleRef }, 'Grants a Role or ClusterRole within one namespace.');
export type RoleBinding = Static<typeof RoleBinding>;

export const ClusterRoleBinding = kindSchema(
  def('ClusterRoleBinding'),
  `${RBAC_GROUP}/v1`,
  'ClusterRoleBinding',
  { subjects, roleRef: RoleRef },
  'Grants a ClusterRole cluster-wide.',
);
export type ClusterRoleBinding = Static<typeof ClusterRoleBinding>;
