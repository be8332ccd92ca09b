// The table of served resources: one row per kind, read by the API server (routes, discovery) and the CLI.

export interface ResourceInfo {
  group: string; // '' for core
  version: string;
  kind: string;
  /** plural, lower-case: the URL segment */
  resource: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** e.g. ['status', 'scale', 'binding', 'eviction', 'log', 'exec', 'attach', 'portforward'] */
  subresources: string[];
  verbs: string[];
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function r(
  group: string,
  version: string,
  kind: string,
  resource: string,
  namespaced: boolean,
  shortNames: string[] = [],
  subresources: string[] = [],
  categories: string[] = [],
): ResourceInfo {
  return { group, version, kind, resource, singular: kind.toLowerCase(), namespaced, shortNames, categories, subresources, verbs: ALL_VERBS };
}

export const RESOURCES: readonly ResourceInfo[] = [
  r('', 'v1', 'Namespace', 'namespaces', false, ['ns'], ['status', 'finalize']),
  r('', 'v1', 'Pod', 'pods', true, ['po'], ['status', 'binding', 'eviction', 'log', 'exec', 'attach', 'portforward'], ['all']),
  r('', 'v1', 'Node', 'nodes', false, ['no'], ['status']),
  r('', 'v1', 'Service', 'services', true, ['svc'], ['status'], ['all']),
  r('', 'v1', 'Endpoints', 'endpoints', true, ['ep']),
  r('', 'v1', 'ConfigMap', 'configmaps', true, ['cm']),
  r('', 'v1', 'Secret', 'secrets', true),
  r('', 'v1', 'Event', 'events', true, ['ev']),
  r('', 'v1', 'ServiceAccount', 'serviceaccounts', true, ['sa'], ['token']),
  r('', 'v1', 'ReplicationController', 'replicationcontrollers', true, ['rc'], ['status', 'scale'], ['all']),
  r('apps', 'v1', 'Deployment', 'deployments', true, ['deploy'], ['status', 'scale'], ['all']),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, ['rs'], ['status', 'scale'], ['all']),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, ['ds'], ['status'], ['all']),
  r('apps', 'v1', 'StatefulSet', 'statefulsets', true, ['sts'], ['status', 'scale'], ['all']),
  r('apps', 'v1', 'ControllerRevision', 'controllerrevisions', true),
  r('batch', 'v1', 'Job', 'jobs', true, [], ['status'], ['all']),
  r('batch', 'v1', 'CronJob', 'cronjobs', true, ['cj'], ['status'], ['all']),
  r('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, ['hpa'], ['status'], ['all']),
  r('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, ['pdb'], ['status']),
  r('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
  r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true),
  r('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false, ['pc']),
  r('', 'v1', 'PersistentVolume', 'persistentvolumes', false, ['pv'], ['status']),
  r('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, ['pvc'], ['status']),
  r('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false, ['sc']),
  r('storage.k8s.io', 'v1', 'CSIDriver', 'csidrivers', false),
  r('storage.k8s.io', 'v1', 'CSINode', 'csinodes', false),
  r('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  r('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  r('certificates.k8s.io', 'v1', 'CertificateSigningRequest', 'certificatesigningrequests', false, ['csr'], ['status', 'approval']),
  r('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, ['crd', 'crds'], ['status'], ['api-extensions']),
  r('admissionregistration.k8s.io', 'v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false, [], [], ['api-extensions']),
  r('admissionregistration.k8s.io', 'v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false, [], [], ['api-extensions']),
  r('admissionregistration.k8s.io', 'v1', 'ValidatingAdmissionPolicy', 'validatingadmissionpolicies', false, [], ['status'], ['api-extensions']),
  r('admissionregistration.k8s.io', 'v1', 'ValidatingAdmissionPolicyBinding', 'validatingadmissionpolicybindings', false, [], [], ['api-extensions']),
  r('apiregistration.k8s.io', 'v1', 'APIService', 'apiservices', false, [], ['status'], ['api-extensions']),
];

/**
 * Other versions served of a stored kind, as kube serves autoscaling/v1 HorizontalPodAutoscalers beside v2: read and
 * written through the stored version's store, converted each way (apiserver/registry/versions.ts). Discovery lists
 * them after the stored (preferred) version; controllers and the garbage collector use the stored one only.
 */
export const OTHER_VERSIONS: readonly ResourceInfo[] = [r('autoscaling', 'v1', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, ['hpa'], ['status'], ['all'])];

/** The stored version of a kind that OTHER_VERSIONS serves in another version. */
export function storedVersionOf(info: Pick<ResourceInfo, 'group' | 'kind'>): ResourceInfo | undefined {
  return RESOURCES.find((x) => x.group === info.group && x.kind === info.kind);
}

/** Kinds that are created and answered, never stored (authentication.k8s.io and authorization.k8s.io reviews). */
function review(group: string, kind: string, resource: string, namespaced: boolean): ResourceInfo {
  return { group, version: 'v1', kind, resource, singular: kind.toLowerCase(), namespaced, shortNames: [], categories: [], subresources: [], verbs: ['create'] };
}

export const REVIEWS: readonly ResourceInfo[] = [
  review('authentication.k8s.io', 'SelfSubjectReview', 'selfsubjectreviews', false),
  review('authentication.k8s.io', 'TokenReview', 'tokenreviews', false),
  review('authorization.k8s.io', 'LocalSubjectAccessReview', 'localsubjectaccessreviews', true),
  review('authorization.k8s.io', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false),
  review('authorization.k8s.io', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', false),
  review('authorization.k8s.io', 'SubjectAccessReview', 'subjectaccessreviews', false),
];

export const apiVersionOf = (info: Pick<ResourceInfo, 'group' | 'version'>): string =>
  info.group ? `${info.group}/${info.version}` : info.version;

// Resources added while the server runs (custom resources, by the CRD controller): the registration interface.
const dynamic = new Map<string, ResourceInfo>();
const dynamicKey = (group: string, version: string, resource: string): string => `${group}/${version}/${resource}`;

/** Serves `info` from now on (its REST paths, discovery, OpenAPI); replaces an earlier registration of the same resource. */
export function registerResource(info: ResourceInfo): void {
  dynamic.set(dynamicKey(info.group, info.version, info.resource), info);
}

export function unregisterResource(info: Pick<ResourceInfo, 'group' | 'version' | 'resource'>): void {
  dynamic.delete(dynamicKey(info.group, info.version, info.resource));
}

/** Whether the resource was registered at run time (not one of the built-in RESOURCES). */
export function isRegistered(info: Pick<ResourceInfo, 'group' | 'version' | 'resource'>): boolean {
  return dynamic.has(dynamicKey(info.group, info.version, info.resource));
}

/** Every stored resource now served: the built-in ones, then those registered at run time. */
export function servedResources(): readonly ResourceInfo[] {
  return dynamic.size === 0 ? RESOURCES : [...RESOURCES, ...dynamic.values()];
}

export function findByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  const match = (x: ResourceInfo): boolean => apiVersionOf(x) === apiVersion && x.kind === kind;
  return servedResources().find(match) ?? OTHER_VERSIONS.find(match);
}

export function findByResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  const match = (x: ResourceInfo): boolean => x.group === group && x.version === version && x.resource === resource;
  return RESOURCES.find(match) ?? OTHER_VERSIONS.find(match) ?? dynamic.get(dynamicKey(group, version, resource));
}
