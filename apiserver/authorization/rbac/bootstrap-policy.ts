// The bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy: policy.go, controller_policy.go,
// namespace_policy.go): the roles and bindings kube-apiserver reconciles at every start, as data. Rules follow kube's
// rendered testdata (cluster-roles.yaml, controller-roles.yaml, ...); resources ketch does not serve yet are kept, so
// the roles grant what kube's do when those kinds arrive.
import { CLUSTER_ADMINS_GROUP, KUBELET_CLIENT_USER } from '../../pki/pki.js';
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from '../../../api/schemas/rbac.js';
import { RBAC_GROUP } from '../../../api/schemas/rbac.js';

export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';
export const BOOTSTRAP_LABEL = { 'kubernetes.io/bootstrapping': 'rbac-defaults' } as const;
const AGGREGATE_TO = 'rbac.authorization.k8s.io/aggregate-to-';

const list = (s: string): string[] => s.split(',');
/** rule('get,list', ',apps', 'pods,deployments'): groups are comma-separated, '' the core group. */
export const rule = (verbs: string, groups: string, resources: string, names?: string): PolicyRule => ({
  verbs: list(verbs),
  apiGroups: list(groups),
  resources: list(resources),
  ...(names ? { resourceNames: list(names) } : {}),
});
const urls = (verbs: string, paths: string): PolicyRule => ({ verbs: list(verbs), nonResourceURLs: list(paths) });

const READ = 'get,list,watch';
const READ_WRITE = 'create,delete,deletecollection,get,list,patch,update,watch';
const WRITE = 'create,delete,deletecollection,patch,update';
const EVENTS = rule('create,patch,update', ',events.k8s.io', 'events');

const meta = (name: string, labels: Record<string, string> = {}) => ({
  name,
  labels: { ...BOOTSTRAP_LABEL, ...labels },
  annotations: { [AUTOUPDATE_ANNOTATION]: 'true' },
});

function clusterRole(name: string, rules: PolicyRule[], labels: Record<string, string> = {}, aggregateFrom?: string): ClusterRole {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRole',
    metadata: meta(name, labels),
    ...(aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`${AGGREGATE_TO}${aggregateFrom}`]: 'true' } }] } } : { rules }),
  };
}

const aggregatesTo = (role: string): Record<string, string> => ({ [`${AGGREGATE_TO}${role}`]: 'true' });

/** system:node's rules: also the Node authorizer's fixed rules (kube's NodeRules()). */
export const NODE_RULES: readonly PolicyRule[] = [
  rule('create', 'authentication.k8s.io', 'tokenreviews'),
  rule('create', 'authorization.k8s.io', 'localsubjectaccessreviews,subjectaccessreviews'),
  rule(READ, '', 'services'),
  rule('create,get,list,watch', '', 'nodes'),
  rule('patch,update', '', 'nodes/status'),
  rule('patch,update', '', 'nodes'),
  rule('create,patch,update', '', 'events'),
  rule(READ, '', 'pods'),
  rule('create,delete', '', 'pods'),
  rule('patch,update', '', 'pods/status'),
  rule('create', '', 'pods/eviction'),
  rule(READ, '', 'configmaps,secrets'),
  rule('get', '', 'persistentvolumeclaims,persistentvolumes'),
  rule('get', '', 'endpoints'),
  rule('create,get,list,watch', 'certificates.k8s.io', 'certificatesigningrequests'),
  rule('create,delete,get,patch,update', 'coordination.k8s.io', 'leases'),
  rule('get', 'storage.k8s.io', 'volumeattachments'),
  rule('create', '', 'serviceaccounts/token'),
  rule('get,patch,update', '', 'persistentvolumeclaims/status'),
  rule(READ, 'storage.k8s.io', 'csidrivers'),
  rule('create,delete,get,patch,update', 'storage.k8s.io', 'csinodes'),
  rule(READ, 'node.k8s.io', 'runtimeclasses'),
];

const signers = (verb: string, names: string): PolicyRule => rule(verb, 'certificates.k8s.io', 'signers', names);
const leaderLease = (name: string): PolicyRule[] => [rule('create', 'coordination.k8s.io', 'leases'), rule('get,update', 'coordination.k8s.io', 'leases', name)];

const USER_ROLES: ClusterRole[] = [
  clusterRole('cluster-admin', [rule('*', '*', '*'), urls('*', '*')]),
  clusterRole('admin', [], {}, 'admin'),
  clusterRole('edit', [], aggregatesTo('admin'), 'edit'),
  clusterRole('view', [], aggregatesTo('edit'), 'view'),
  clusterRole('system:aggregate-to-admin', [rule('create', 'authorization.k8s.io', 'localsubjectaccessreviews'), rule(READ_WRITE, RBAC_GROUP, 'rolebindings,roles')], aggregatesTo('admin')),
  clusterRole(
    'system:aggregate-to-edit',
    [
      rule(READ, '', 'pods/attach,pods/exec,pods/portforward,pods/proxy,secrets,services/proxy'),
      rule('impersonate', '', 'serviceaccounts'),
      rule(WRITE, '', 'pods,pods/attach,pods/exec,pods/portforward,pods/proxy'),
      rule('create', '', 'pods/eviction'),
      rule(WRITE, '', 'configmaps,events,persistentvolumeclaims,replicationcontrollers,replicationcontrollers/scale,secrets,serviceaccounts,services,services/proxy'),
      rule('create', '', 'serviceaccounts/token'),
      rule(WRITE, 'apps', 'daemonsets,deployments,deployments/rollback,deployments/scale,replicasets,replicasets/scale,statefulsets,statefulsets/scale'),
      rule(WRITE, 'autoscaling', 'horizontalpodautoscalers'),
      rule(WRITE, 'batch', 'cronjobs,jobs'),
      rule(WRITE, 'extensions', 'daemonsets,deployments,deployments/rollback,deployments/scale,ingresses,networkpolicies,replicasets,replicasets/scale,replicationcontrollers/scale'),
      rule(WRITE, 'policy', 'poddisruptionbudgets'),
      rule(WRITE, 'networking.k8s.io', 'ingresses,networkpolicies'),
      rule(READ_WRITE, 'coordination.k8s.io', 'leases'),
    ],
    aggregatesTo('edit'),
  ),
  clusterRole(
    'system:aggregate-to-view',
    [
      rule(READ, '', 'configmaps,endpoints,persistentvolumeclaims,persistentvolumeclaims/status,pods,replicationcontrollers,replicationcontrollers/scale,serviceaccounts,services,services/status'),
      rule(READ, '', 'bindings,events,limitranges,namespaces/status,pods/log,pods/status,replicationcontrollers/status,resourcequotas,resourcequotas/status'),
      rule(READ, '', 'namespaces'),
      rule(READ, 'discovery.k8s.io', 'endpointslices'),
      rule(READ, 'apps', 'controllerrevisions,daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,replicasets,replicasets/scale,replicasets/status,statefulsets,statefulsets/scale,statefulsets/status'),
      rule(READ, 'autoscaling', 'horizontalpodautoscalers,horizontalpodautoscalers/status'),
      rule(READ, 'batch', 'cronjobs,cronjobs/status,jobs,jobs/status'),
      rule(READ, 'extensions', 'daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,ingresses,ingresses/status,networkpolicies,replicasets,replicasets/scale,replicasets/status,replicationcontrollers/scale'),
      rule(READ, 'policy', 'poddisruptionbudgets,poddisruptionbudgets/status'),
      rule(READ, 'networking.k8s.io', 'ingresses,ingresses/status,networkpolicies'),
    ],
    aggregatesTo('view'),
  ),
];

const SYSTEM_ROLES: ClusterRole[] = [
  clusterRole('system:auth-delegator', [rule('create', 'authentication.k8s.io', 'tokenreviews'), rule('create', 'authorization.k8s.io', 'subjectaccessreviews')]),
  clusterRole('system:basic-user', [rule('create', 'authorization.k8s.io', 'selfsubjectaccessreviews,selfsubjectrulesreviews'), rule('create', 'authentication.k8s.io', 'selfsubjectreviews')]),
  clusterRole('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [rule('create', 'certificates.k8s.io', 'certificatesigningrequests/nodeclient')]),
  clusterRole('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [rule('create', 'certificates.k8s.io', 'certificatesigningrequests/selfnodeclient')]),
  clusterRole('system:certificates.k8s.io:kube-apiserver-client-approver', [signers('approve', 'kubernetes.io/kube-apiserver-client')]),
  clusterRole('system:certificates.k8s.io:kube-apiserver-client-kubelet-approver', [signers('approve', 'kubernetes.io/kube-apiserver-client-kubelet')]),
  clusterRole('system:certificates.k8s.io:kubelet-serving-approver', [signers('approve', 'kubernetes.io/kubelet-serving')]),
  clusterRole('system:certificates.k8s.io:legacy-unknown-approver', [signers('approve', 'kubernetes.io/legacy-unknown')]),
  clusterRole('system:discovery', [urls('get', '/api,/api/*,/apis,/apis/*,/healthz,/livez,/openapi,/openapi/*,/readyz,/version,/version/')]),
  clusterRole('system:heapster', [rule(READ, '', 'events,namespaces,nodes,pods'), rule(READ, 'extensions', 'deployments')]),
  clusterRole('system:kube-aggregator', [rule(READ, '', 'endpoints,services')]),
  clusterRole('system:kube-controller-manager', [
    EVENTS,
    ...leaderLease('kube-controller-manager'),
    rule('create', '', 'secrets,serviceaccounts'),
    rule('delete', '', 'secrets'),
    rule('get', '', 'configmaps,namespaces,secrets,serviceaccounts'),
    rule('update', '', 'secrets,serviceaccounts'),
    rule('create', 'authentication.k8s.io', 'tokenreviews'),
    rule('create', 'authorization.k8s.io', 'subjectaccessreviews'),
    rule('list,watch', '*', '*'),
    rule('create', '', 'serviceaccounts/token'),
  ]),
  clusterRole('system:kube-dns', [rule('list,watch', '', 'endpoints,services')]),
  clusterRole('system:kube-scheduler', [
    EVENTS,
    ...leaderLease('kube-scheduler'),
    rule(READ, '', 'nodes'),
    rule('delete,get,list,watch', '', 'pods'),
    rule('create', '', 'bindings,pods/binding'),
    rule('patch,update', '', 'pods/status'),
    rule(READ, '', 'replicationcontrollers,services'),
    rule(READ, 'apps,extensions', 'replicasets'),
    rule(READ, 'apps', 'statefulsets'),
    rule(READ, 'policy', 'poddisruptionbudgets'),
    rule(READ, '', 'persistentvolumeclaims,persistentvolumes'),
    rule('create', 'authentication.k8s.io', 'tokenreviews'),
    rule('create', 'authorization.k8s.io', 'subjectaccessreviews'),
    rule(READ, 'storage.k8s.io', 'csinodes'),
    rule(READ, '', 'namespaces'),
    rule(READ, 'storage.k8s.io', 'csidrivers'),
    rule(READ, 'storage.k8s.io', 'csistoragecapacities'),
  ]),
  clusterRole('system:kubelet-api-admin', [rule(READ, '', 'nodes'), rule('proxy', '', 'nodes'), rule('*', '', 'nodes/log,nodes/metrics,nodes/proxy,nodes/stats')]),
  clusterRole('system:monitoring', [urls('get', '/healthz,/healthz/*,/livez,/livez/*,/metrics,/metrics/slis,/readyz,/readyz/*')]),
  clusterRole('system:node', [...NODE_RULES]),
  clusterRole('system:node-bootstrapper', [rule('create,get,list,watch', 'certificates.k8s.io', 'certificatesigningrequests')]),
  clusterRole('system:node-problem-detector', [rule('get', '', 'nodes'), rule('patch', '', 'nodes/status'), EVENTS]),
  clusterRole('system:node-proxier', [rule('list,watch', '', 'endpoints,services'), rule(READ, '', 'nodes'), EVENTS, rule('list,watch', 'discovery.k8s.io', 'endpointslices')]),
  clusterRole('system:persistent-volume-provisioner', [
    rule('create,delete,get,list,watch', '', 'persistentvolumes'),
    rule('get,list,update,watch', '', 'persistentvolumeclaims'),
    rule(READ, 'storage.k8s.io', 'storageclasses'),
    rule('watch', '', 'events'),
    EVENTS,
  ]),
  clusterRole('system:public-info-viewer', [urls('get', '/healthz,/livez,/readyz,/version,/version/')]),
  clusterRole('system:service-account-issuer-discovery', [urls('get', '/.well-known/openid-configuration,/openid/v1/jwks')]),
  clusterRole('system:volume-scheduler', [rule('get,list,patch,update,watch', '', 'persistentvolumes'), rule(READ, 'storage.k8s.io', 'storageclasses'), rule('get,list,patch,update,watch', '', 'persistentvolumeclaims')]),
];

/**
 * ketch's own addition: agents route the other nodes' pod CIDRs (agent/routes.ts), so they list and watch all Nodes,
 * which the Node authorizer (AuthorizeNodeWithSelectors) no longer grants a node. Bound to system:nodes; kube-proxy's
 * system:node-proxier grants the same read.
 */
export const NODE_ROUTES_ROLE = 'system:ketch:node-routes';
/**
 * metrics.k8s.io is served by the API server itself (kubectl top), so the role metrics-server installs with it is part of
 * the bootstrap policy: its reads, aggregated into view, edit and admin.
 */
export const METRICS_READER_ROLE = 'system:aggregated-metrics-reader';
/**
 * Every agent runs the service proxy and the node's cluster DNS (agent/node-network.ts) with its node credential, as
 * kube-proxy (system:node-proxier) and CoreDNS (system:kube-dns) would with theirs: reads of Services, Endpoints,
 * EndpointSlices and Namespaces. Bound to system:nodes.
 */
export const NODE_NETWORK_ROLE = 'system:ketch:node-network';
/**
 * Local-path volumes are removed by the agent of their node (agent/volumes/csi-local/cleanup.ts: the directory, then
 * the cleanup finalizer): its informer lists and watches PersistentVolumes and it updates one to drop the finalizer.
 * NodeRestriction admits that update only on a deleted volume pinned to the node and only as that finalizer's removal;
 * a node's get of a volume comes from the Node authorizer (its pods' volumes).
 */
export const LOCAL_PATH_CLEANER_ROLE = 'system:ketch:local-path-cleaner';
/** The nodes keep the kube-dns Service and their own kube-dns EndpointSlice in kube-system (agent/dns/kube-dns.ts). */
export const NODE_DNS_PUBLISHER_ROLE = 'system:ketch:node-dns-publisher';
/** The scheduler writes why a pod waits as an annotation on it (`ketch why` reads it): kube's role has no pod patch. */
export const SCHEDULER_DIAGNOSIS_ROLE = 'system:ketch:scheduler-diagnosis';
/**
 * Nodes pull from the built-in registry as themselves (their client certificate at its token endpoint), as a kubelet
 * pulls for any pod bound to it: get on every repository (registry/auth.ts maps pull to get).
 */
export const REGISTRY_PULLER_ROLE = 'system:ketch:registry-puller';
const KETCH_ROLES: ClusterRole[] = [
  clusterRole(NODE_ROUTES_ROLE, [rule('list,watch', '', 'nodes')]),
  clusterRole(LOCAL_PATH_CLEANER_ROLE, [rule('list,update,watch', '', 'persistentvolumes')]),
  clusterRole(NODE_NETWORK_ROLE, [rule(READ, '', 'endpoints,services,namespaces'), rule(READ, 'discovery.k8s.io', 'endpointslices'), EVENTS]),
  clusterRole(SCHEDULER_DIAGNOSIS_ROLE, [rule('patch', '', 'pods')]),
  clusterRole(REGISTRY_PULLER_ROLE, [rule('get', 'registry.ketch.dev', 'repositories')]),
  clusterRole(METRICS_READER_ROLE, [rule(READ, 'metrics.k8s.io', 'nodes,pods')], { ...aggregatesTo('view'), ...aggregatesTo('edit'), ...aggregatesTo('admin') }),
];

// ---- controllers (controller_policy.go): one ClusterRole and binding to its service account in kube-system each ----

/** A workload controller's own kind: read (and write, per verbs) it, update its status and finalizers. */
const ownKind = (verbs: string, groups: string, resource: string): PolicyRule[] => [
  rule(verbs, groups, resource),
  rule('update', groups, `${resource}/status`),
  rule('update', groups, `${resource}/finalizers`),
];

const CONTROLLER_RULES: Record<string, PolicyRule[]> = {
  'certificate-controller': [
    rule('delete,get,list,watch', 'certificates.k8s.io', 'certificatesigningrequests'),
    rule('update', 'certificates.k8s.io', 'certificatesigningrequests/approval,certificatesigningrequests/status'),
    signers('approve', 'kubernetes.io/kube-apiserver-client-kubelet'),
    signers('sign', 'kubernetes.io/kube-apiserver-client,kubernetes.io/kube-apiserver-client-kubelet,kubernetes.io/kubelet-serving,kubernetes.io/legacy-unknown'),
    rule('create', 'authorization.k8s.io', 'subjectaccessreviews'),
    EVENTS,
  ],
  'clusterrole-aggregation-controller': [rule('escalate,get,list,patch,update,watch', RBAC_GROUP, 'clusterroles')],
  'cronjob-controller': [
    ...ownKind('get,list,update,watch', 'batch', 'cronjobs'),
    rule('create,delete,get,list,patch,update,watch', 'batch', 'jobs'),
    rule('delete,list,watch', '', 'pods'),
    EVENTS,
  ],
  'daemon-set-controller': [
    ...ownKind(READ, 'apps,extensions', 'daemonsets'),
    rule('list,watch', '', 'nodes'),
    rule('create,delete,list,patch,watch', '', 'pods'),
    rule('create', '', 'pods/binding'),
    rule('create,delete,get,list,patch,update,watch', 'apps', 'controllerrevisions'),
    EVENTS,
  ],
  'deployment-controller': [
    ...ownKind('get,list,update,watch', 'apps,extensions', 'deployments'),
    rule('create,delete,get,list,patch,update,watch', 'apps,extensions', 'replicasets'),
    rule('get,list,update,watch', '', 'pods'),
    EVENTS,
  ],
  'disruption-controller': [
    rule(READ, 'apps,extensions', 'deployments'),
    rule(READ, 'apps,extensions', 'replicasets'),
    rule(READ, '', 'replicationcontrollers'),
    rule(READ, 'policy', 'poddisruptionbudgets'),
    rule(READ, 'apps', 'statefulsets'),
    rule('update', 'policy', 'poddisruptionbudgets/status'),
    rule('patch,update', '', 'pods/status'),
    rule('get', '*', '*/scale'),
    EVENTS,
  ],
  'endpoint-controller': [rule(READ, '', 'pods,services'), rule('create,delete,get,list,update,watch', '', 'endpoints'), rule('create', '', 'endpoints/restricted'), EVENTS],
  'endpointslice-controller': [rule(READ, '', 'nodes,pods,services'), rule('update', '', 'services/finalizers'), rule('create,delete,get,list,update,watch', 'discovery.k8s.io', 'endpointslices'), EVENTS],
  'endpointslicemirroring-controller': [
    rule(READ, '', 'endpoints,services'),
    rule('update', '', 'services/finalizers'),
    rule('update', '', 'endpoints/finalizers'),
    rule('create,delete,get,list,update,watch', 'discovery.k8s.io', 'endpointslices'),
    EVENTS,
  ],
  'ephemeral-volume-controller': [rule(READ, '', 'pods'), rule('update', '', 'pods/finalizers'), rule('create,get,list,watch', '', 'persistentvolumeclaims'), EVENTS],
  'expand-controller': [rule('get,list,patch,update,watch', '', 'persistentvolumes'), rule('patch,update', '', 'persistentvolumeclaims/status'), rule(READ, '', 'persistentvolumeclaims'), EVENTS],
  'generic-garbage-collector': [rule('delete,get,list,patch,update,watch', '*', '*'), EVENTS],
  'horizontal-pod-autoscaler': [
    rule(READ, 'autoscaling', 'horizontalpodautoscalers'),
    rule('update', 'autoscaling', 'horizontalpodautoscalers/status'),
    rule('get,update', '*', '*/scale'),
    rule('list,watch', '', 'pods'),
    rule('list,watch', 'metrics.k8s.io', 'pods'),
    rule(READ, 'custom.metrics.k8s.io', '*'),
    rule(READ, 'external.metrics.k8s.io', '*'),
    EVENTS,
  ],
  'job-controller': [
    ...ownKind('get,list,patch,update,watch', 'batch', 'jobs'),
    rule('create,delete,list,patch,watch', '', 'pods'),
    EVENTS,
  ],
  'legacy-service-account-token-cleaner': [rule('get', '', 'configmaps', 'kube-apiserver-legacy-service-account-token-tracking'), rule('delete,patch', '', 'secrets')],
  'namespace-controller': [rule('delete,get,list,watch', '', 'namespaces'), rule('update', '', 'namespaces/finalize,namespaces/status'), rule('delete,deletecollection,get,list,watch', '*', '*')],
  'node-controller': [rule('delete,get,list,patch,update,watch', '', 'nodes'), rule('patch,update', '', 'nodes/status'), rule('patch,update', '', 'pods/status'), rule('delete,get,list,watch', '', 'pods'), EVENTS],
  'persistent-volume-binder': [
    rule('create,delete,get,list,update,watch', '', 'persistentvolumes'),
    rule('update', '', 'persistentvolumes/status'),
    rule('get,list,update,watch', '', 'persistentvolumeclaims'),
    rule('update', '', 'persistentvolumeclaims/status'),
    rule('create,delete,get,list,watch', '', 'pods'),
    rule(READ, 'storage.k8s.io', 'storageclasses'),
    rule('list,watch', '', 'nodes'),
    EVENTS,
    rule('watch', '', 'events'),
  ],
  'pod-garbage-collector': [rule('delete,list,watch', '', 'pods'), rule(READ, '', 'nodes'), rule('patch', '', 'pods/status')],
  'pv-protection-controller': [rule('get,list,update,watch', '', 'persistentvolumes'), EVENTS],
  'pvc-protection-controller': [rule('get,list,update,watch', '', 'persistentvolumeclaims'), rule('update', '', 'persistentvolumeclaims/status'), rule(READ, '', 'pods'), EVENTS],
  'replicaset-controller': [
    ...ownKind('get,list,update,watch', 'apps,extensions', 'replicasets'),
    rule('create,delete,list,patch,watch', '', 'pods'),
    EVENTS,
  ],
  'replication-controller': [
    ...ownKind('get,list,update,watch', '', 'replicationcontrollers'),
    rule('create,delete,list,patch,watch', '', 'pods'),
    EVENTS,
  ],
  'resourcequota-controller': [rule('list,watch', '*', '*'), rule('update', '', 'resourcequotas/status'), EVENTS],
  'root-ca-cert-publisher': [rule('create,update', '', 'configmaps'), EVENTS],
  'route-controller': [rule('list,watch', '', 'nodes'), rule('patch', '', 'nodes/status'), EVENTS],
  'service-account-controller': [rule('create', '', 'serviceaccounts'), EVENTS],
  'service-controller': [rule(READ, '', 'services'), rule('patch,update', '', 'services/status'), rule('list,watch', '', 'nodes'), EVENTS],
  'statefulset-controller': [
    rule('list,watch', '', 'pods'),
    ...ownKind(READ, 'apps', 'statefulsets'),
    rule('create,delete,get,patch,update', '', 'pods'),
    rule('create,delete,get,list,patch,update,watch', 'apps', 'controllerrevisions'),
    rule('create,get,list,watch', '', 'persistentvolumeclaims'),
    rule('delete,update', '', 'persistentvolumeclaims'),
    rule('update', '', 'pods/finalizers'),
    EVENTS,
  ],
  'ttl-after-finished-controller': [rule('delete,get,list,watch', 'batch', 'jobs'), EVENTS],
  'ttl-controller': [rule('list,patch,update,watch', '', 'nodes'), EVENTS],
};

export const CONTROLLER_ROLE_PREFIX = 'system:controller:';

/** The service account each ketch controller runs as with --use-service-account-credentials (kube's names). */
export { CONTROLLER_SERVICE_ACCOUNTS } from '../../../api/controller-accounts.js';

const subject = {
  user: (name: string): Subject => ({ kind: 'User', apiGroup: RBAC_GROUP, name }),
  group: (name: string): Subject => ({ kind: 'Group', apiGroup: RBAC_GROUP, name }),
  sa: (namespace: string, name: string): Subject => ({ kind: 'ServiceAccount', name, namespace }),
};

function clusterBinding(name: string, roleName: string, subjects: Subject[]): ClusterRoleBinding {
  return { apiVersion: `${RBAC_GROUP}/v1`, kind: 'ClusterRoleBinding', metadata: meta(name), roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: roleName }, subjects };
}

/** Every ClusterRole kube-apiserver keeps (plus ketch's node-routes role). */
export const BOOTSTRAP_CLUSTER_ROLES: readonly ClusterRole[] = [
  ...USER_ROLES,
  ...SYSTEM_ROLES,
  ...KETCH_ROLES,
  ...Object.entries(CONTROLLER_RULES).map(([name, rules]) => clusterRole(`${CONTROLLER_ROLE_PREFIX}${name}`, rules)),
];

export const BOOTSTRAP_CLUSTER_ROLE_BINDINGS: readonly ClusterRoleBinding[] = [
  clusterBinding('cluster-admin', 'cluster-admin', [subject.group('system:masters')]),
  // The admin kubeconfig's group, as kubeadm 1.29+ binds it (kubeadm writes it; here the API server keeps it, so it
  // exists before admin.kubeconfig is written and a deleted one is back at the next start).
  clusterBinding(CLUSTER_ADMINS_GROUP, 'cluster-admin', [subject.group(CLUSTER_ADMINS_GROUP)]),
  clusterBinding('system:basic-user', 'system:basic-user', [subject.group('system:authenticated')]),
  clusterBinding('system:discovery', 'system:discovery', [subject.group('system:authenticated')]),
  clusterBinding('system:kube-controller-manager', 'system:kube-controller-manager', [subject.user('system:kube-controller-manager')]),
  clusterBinding('system:kube-dns', 'system:kube-dns', [subject.sa('kube-system', 'kube-dns')]),
  clusterBinding('system:kube-scheduler', 'system:kube-scheduler', [subject.user('system:kube-scheduler')]),
  clusterBinding('system:monitoring', 'system:monitoring', [subject.group('system:monitoring')]),
  // Nodes get their rights from the Node authorizer; the binding is kept without subjects, as kube keeps it.
  clusterBinding('system:node', 'system:node', []),
  clusterBinding('system:node-proxier', 'system:node-proxier', [subject.user('system:kube-proxy')]),
  clusterBinding('system:public-info-viewer', 'system:public-info-viewer', [subject.group('system:authenticated'), subject.group('system:unauthenticated')]),
  clusterBinding('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', [subject.group('system:serviceaccounts')]),
  clusterBinding('system:volume-scheduler', 'system:volume-scheduler', [subject.user('system:kube-scheduler')]),
  clusterBinding(NODE_ROUTES_ROLE, NODE_ROUTES_ROLE, [subject.group('system:nodes')]),
  clusterBinding(NODE_NETWORK_ROLE, NODE_NETWORK_ROLE, [subject.group('system:nodes')]),
  clusterBinding(LOCAL_PATH_CLEANER_ROLE, LOCAL_PATH_CLEANER_ROLE, [subject.group('system:nodes')]),
  clusterBinding(REGISTRY_PULLER_ROLE, REGISTRY_PULLER_ROLE, [subject.group('system:nodes')]),
  // The API server's client certificate towards the agents (logs, exec, port-forward), as kube-apiserver's docs bind it.
  clusterBinding('ketch:kube-apiserver-kubelet-client', 'system:kubelet-api-admin', [subject.user(KUBELET_CLIENT_USER)]),
  // Joining nodes, as kubeadm binds them (kubeadm:kubelet-bootstrap, kubeadm:node-autoapprove-*) to every bootstrap
  // token's group: a token may create CSRs and have its node client request approved; a node may renew its own.
  clusterBinding('ketch:kubelet-bootstrap', 'system:node-bootstrapper', [subject.group('system:bootstrappers')]),
  clusterBinding('ketch:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', [subject.group('system:bootstrappers')]),
  clusterBinding('ketch:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [subject.group('system:nodes')]),
  clusterBinding(SCHEDULER_DIAGNOSIS_ROLE, SCHEDULER_DIAGNOSIS_ROLE, [subject.user('system:kube-scheduler')]),
  ...Object.keys(CONTROLLER_RULES).map((name) => clusterBinding(`${CONTROLLER_ROLE_PREFIX}${name}`, `${CONTROLLER_ROLE_PREFIX}${name}`, [subject.sa('kube-system', name)])),
];

// ---- namespaced (namespace_policy.go) ----

const nsMeta = (namespace: string, name: string) => ({ ...meta(name), namespace });
const nsRole = (namespace: string, name: string, rules: PolicyRule[]): Role => ({ apiVersion: `${RBAC_GROUP}/v1`, kind: 'Role', metadata: nsMeta(namespace, name), rules });
const nsBinding = (namespace: string, name: string, roleName: string, subjects: Subject[]): RoleBinding => ({
  apiVersion: `${RBAC_GROUP}/v1`,
  kind: 'RoleBinding',
  metadata: nsMeta(namespace, name),
  roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: roleName },
  subjects,
});
const LEADER_LOCKING = [rule('create,get,list,update,watch', 'coordination.k8s.io', 'leases'), rule('create,get,list,update,watch', 'coordination.k8s.io', 'leasecandidates')];

export const BOOTSTRAP_ROLES: readonly Role[] = [
  // kubeadm's kubeadm:bootstrap-signer-clusterinfo: joining nodes read cluster-info before they have credentials.
  nsRole('kube-public', 'ketch:bootstrap-signer-clusterinfo', [rule('get', '', 'configmaps', 'cluster-info')]),
  nsRole('kube-public', 'system:controller:bootstrap-signer', [rule(READ, '', 'configmaps'), rule('update', '', 'configmaps', 'cluster-info'), EVENTS]),
  nsRole('kube-system', NODE_DNS_PUBLISHER_ROLE, [rule('create,get,patch,update', '', 'services'), rule('create,delete,get,patch,update', 'discovery.k8s.io', 'endpointslices')]),
  nsRole('kube-system', 'extension-apiserver-authentication-reader', [rule(READ, '', 'configmaps', 'extension-apiserver-authentication')]),
  nsRole('kube-system', 'system::leader-locking-kube-controller-manager', LEADER_LOCKING),
  nsRole('kube-system', 'system::leader-locking-kube-scheduler', LEADER_LOCKING),
  nsRole('kube-system', 'system:controller:bootstrap-signer', [rule(READ, '', 'secrets')]),
  nsRole('kube-system', 'system:controller:cloud-provider', [rule('create,get,list,watch', '', 'configmaps')]),
  nsRole('kube-system', 'system:controller:token-cleaner', [rule('delete,get,list,watch', '', 'secrets'), EVENTS]),
];

export const BOOTSTRAP_ROLE_BINDINGS: readonly RoleBinding[] = [
  nsBinding('kube-public', 'ketch:bootstrap-signer-clusterinfo', 'ketch:bootstrap-signer-clusterinfo', [subject.user('system:anonymous')]),
  nsBinding('kube-public', 'system:controller:bootstrap-signer', 'system:controller:bootstrap-signer', [subject.sa('kube-system', 'bootstrap-signer')]),
  nsBinding('kube-system', NODE_DNS_PUBLISHER_ROLE, NODE_DNS_PUBLISHER_ROLE, [subject.group('system:nodes')]),
  nsBinding('kube-system', 'system::extension-apiserver-authentication-reader', 'extension-apiserver-authentication-reader', [subject.user('system:kube-controller-manager'), subject.user('system:kube-scheduler')]),
  nsBinding('kube-system', 'system::leader-locking-kube-controller-manager', 'system::leader-locking-kube-controller-manager', [
    subject.user('system:kube-controller-manager'),
    subject.sa('kube-system', 'kube-controller-manager'),
    subject.sa('kube-system', 'leader-election-controller'),
  ]),
  nsBinding('kube-system', 'system::leader-locking-kube-scheduler', 'system::leader-locking-kube-scheduler', [subject.user('system:kube-scheduler'), subject.sa('kube-system', 'kube-scheduler')]),
  nsBinding('kube-system', 'system:controller:bootstrap-signer', 'system:controller:bootstrap-signer', [subject.sa('kube-system', 'bootstrap-signer')]),
  nsBinding('kube-system', 'system:controller:cloud-provider', 'system:controller:cloud-provider', [subject.sa('kube-system', 'cloud-provider')]),
  nsBinding('kube-system', 'system:controller:token-cleaner', 'system:controller:token-cleaner', [subject.sa('kube-system', 'token-cleaner')]),
];
