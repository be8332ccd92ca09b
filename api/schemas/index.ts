// The schema table: "<apiVersion>/<Kind>" -> TypeBox schema, for every served kind, its List, and the bodies
// of subresources. The one source for TS types, validation (validation/) and OpenAPI (openapi.ts).
import type { Static, TSchema } from '@sinclair/typebox';
import { listOf, StatusSchema, TableSchema } from './meta.js';
import { Pod, Node, Namespace, Service, Endpoints, ConfigMap, Secret, Event, ServiceAccount, Binding, ReplicationController, PersistentVolume, PersistentVolumeClaim } from './core.js';
import { Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision } from './apps.js';
import { Job, CronJob } from './batch.js';
import { Lease } from './coordination.js';
import { EndpointSlice } from './discovery.js';
import { PriorityClass } from './scheduling.js';
import { StorageClass, CSIDriver, CSINode } from './storage.js';
import { Role, ClusterRole, RoleBinding, ClusterRoleBinding } from './rbac.js';
import { HorizontalPodAutoscaler, HorizontalPodAutoscalerV1 } from './autoscaling.js';
import { PodDisruptionBudget } from './policy.js';
import { CertificateSigningRequest } from './certificates.js';
import { Scale, Eviction, TokenRequest } from './subresources.js';
import { LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectReview, SelfSubjectRulesReview, SubjectAccessReview, TokenReview } from './reviews.js';
import { definitionName } from './kit.js';
import { APIService, CustomResourceDefinition, MutatingWebhookConfiguration, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidatingWebhookConfiguration } from './extensions.js';

function list<T extends TSchema>(apiVersion: string, kind: string, item: T) {
  return listOf(definitionName(item) ?? kind, apiVersion, kind, item);
}

export const PodList = list('v1', 'Pod', Pod);
export const NodeList = list('v1', 'Node', Node);
export const NamespaceList = list('v1', 'Namespace', Namespace);
export const ServiceList = list('v1', 'Service', Service);
export const EndpointsList = list('v1', 'Endpoints', Endpoints);
export const ConfigMapList = list('v1', 'ConfigMap', ConfigMap);
export const SecretList = list('v1', 'Secret', Secret);
export const EventList = list('v1', 'Event', Event);
export const ServiceAccountList = list('v1', 'ServiceAccount', ServiceAccount);
export const ReplicationControllerList = list('v1', 'ReplicationController', ReplicationController);
export const DeploymentList = list('apps/v1', 'Deployment', Deployment);
export const ReplicaSetList = list('apps/v1', 'ReplicaSet', ReplicaSet);
export const DaemonSetList = list('apps/v1', 'DaemonSet', DaemonSet);
export const StatefulSetList = list('apps/v1', 'StatefulSet', StatefulSet);
export const ControllerRevisionList = list('apps/v1', 'ControllerRevision', ControllerRevision);
export const JobList = list('batch/v1', 'Job', Job);
export const CronJobList = list('batch/v1', 'CronJob', CronJob);
export const LeaseList = list('coordination.k8s.io/v1', 'Lease', Lease);
export const EndpointSliceList = list('discovery.k8s.io/v1', 'EndpointSlice', EndpointSlice);
export const PriorityClassList = list('scheduling.k8s.io/v1', 'PriorityClass', PriorityClass);
export const PersistentVolumeList = list('v1', 'PersistentVolume', PersistentVolume);
export const PersistentVolumeClaimList = list('v1', 'PersistentVolumeClaim', PersistentVolumeClaim);
export const StorageClassList = list('storage.k8s.io/v1', 'StorageClass', StorageClass);
export const CSIDriverList = list('storage.k8s.io/v1', 'CSIDriver', CSIDriver);
export const CSINodeList = list('storage.k8s.io/v1', 'CSINode', CSINode);
export const RoleList = list('rbac.authorization.k8s.io/v1', 'Role', Role);
export const ClusterRoleList = list('rbac.authorization.k8s.io/v1', 'ClusterRole', ClusterRole);
export const RoleBindingList = list('rbac.authorization.k8s.io/v1', 'RoleBinding', RoleBinding);
export const ClusterRoleBindingList = list('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', ClusterRoleBinding);
export const HorizontalPodAutoscalerList = list('autoscaling/v2', 'HorizontalPodAutoscaler', HorizontalPodAutoscaler);
export const HorizontalPodAutoscalerListV1 = list('autoscaling/v1', 'HorizontalPodAutoscaler', HorizontalPodAutoscalerV1);
export const PodDisruptionBudgetList = list('policy/v1', 'PodDisruptionBudget', PodDisruptionBudget);
export const CertificateSigningRequestList = list('certificates.k8s.io/v1', 'CertificateSigningRequest', CertificateSigningRequest);

export const CustomResourceDefinitionList = list('apiextensions.k8s.io/v1', 'CustomResourceDefinition', CustomResourceDefinition);
export const MutatingWebhookConfigurationList = list('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', MutatingWebhookConfiguration);
export const ValidatingWebhookConfigurationList = list('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', ValidatingWebhookConfiguration);
export const ValidatingAdmissionPolicyList = list('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', ValidatingAdmissionPolicy);
export const ValidatingAdmissionPolicyBindingList = list('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding', ValidatingAdmissionPolicyBinding);
export const APIServiceList = list('apiregistration.k8s.io/v1', 'APIService', APIService);

export type PodList = Static<typeof PodList>;
export type NodeList = Static<typeof NodeList>;
export type NamespaceList = Static<typeof NamespaceList>;
export type ServiceList = Static<typeof ServiceList>;
export type EndpointsList = Static<typeof EndpointsList>;
export type ConfigMapList = Static<typeof ConfigMapList>;
export type SecretList = Static<typeof SecretList>;
export type EventList = Static<typeof EventList>;
export type ServiceAccountList = Static<typeof ServiceAccountList>;
export type ReplicationControllerList = Static<typeof ReplicationControllerList>;
export type DeploymentList = Static<typeof DeploymentList>;
export type ReplicaSetList = Static<typeof ReplicaSetList>;
export type DaemonSetList = Static<typeof DaemonSetList>;
export type StatefulSetList = Static<typeof StatefulSetList>;
export type ControllerRevisionList = Static<typeof ControllerRevisionList>;
export type JobList = Static<typeof JobList>;
export type CronJobList = Static<typeof CronJobList>;
export type LeaseList = Static<typeof LeaseList>;
export type EndpointSliceList = Static<typeof EndpointSliceList>;
export type PriorityClassList = Static<typeof PriorityClassList>;
export type PersistentVolumeList = Static<typeof PersistentVolumeList>;
export type PersistentVolumeClaimList = Static<typeof PersistentVolumeClaimList>;
export type StorageClassList = Static<typeof StorageClassList>;
export type RoleList = Static<typeof RoleList>;
export type ClusterRoleList = Static<typeof ClusterRoleList>;
export type RoleBindingList = Static<typeof RoleBindingList>;
export type ClusterRoleBindingList = Static<typeof ClusterRoleBindingList>;
export type HorizontalPodAutoscalerList = Static<typeof HorizontalPodAutoscalerList>;
export type PodDisruptionBudgetList = Static<typeof PodDisruptionBudgetList>;

export const schemas: Readonly<Record<string, TSchema>> = {
  'v1/Namespace': Namespace,
  'v1/Pod': Pod,
  'v1/Node': Node,
  'v1/Service': Service,
  'v1/Endpoints': Endpoints,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Event': Event,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ReplicationController': ReplicationController,
  'apps/v1/Deployment': Deployment,
  'apps/v1/ReplicaSet': ReplicaSet,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/ControllerRevision': ControllerRevision,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'coordination.k8s.io/v1/Lease': Lease,
  'discovery.k8s.io/v1/EndpointSlice': EndpointSlice,
  'scheduling.k8s.io/v1/PriorityClass': PriorityClass,
  'v1/PersistentVolume': PersistentVolume,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'storage.k8s.io/v1/StorageClass': StorageClass,
  'storage.k8s.io/v1/CSIDriver': CSIDriver,
  'storage.k8s.io/v1/CSINode': CSINode,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'autoscaling/v1/HorizontalPodAutoscaler': HorizontalPodAutoscalerV1,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'certificates.k8s.io/v1/CertificateSigningRequest': CertificateSigningRequest,

  'v1/NamespaceList': NamespaceList,
  'v1/PodList': PodList,
  'v1/NodeList': NodeList,
  'v1/ServiceList': ServiceList,
  'v1/EndpointsList': EndpointsList,
  'v1/ConfigMapList': ConfigMapList,
  'v1/SecretList': SecretList,
  'v1/EventList': EventList,
  'v1/ServiceAccountList': ServiceAccountList,
  'v1/ReplicationControllerList': ReplicationControllerList,
  'apps/v1/DeploymentList': DeploymentList,
  'apps/v1/ReplicaSetList': ReplicaSetList,
  'apps/v1/DaemonSetList': DaemonSetList,
  'apps/v1/StatefulSetList': StatefulSetList,
  'apps/v1/ControllerRevisionList': ControllerRevisionList,
  'batch/v1/JobList': JobList,
  'batch/v1/CronJobList': CronJobList,
  'coordination.k8s.io/v1/LeaseList': LeaseList,
  'discovery.k8s.io/v1/EndpointSliceList': EndpointSliceList,
  'scheduling.k8s.io/v1/PriorityClassList': PriorityClassList,
  'v1/PersistentVolumeList': PersistentVolumeList,
  'v1/PersistentVolumeClaimList': PersistentVolumeClaimList,
  'storage.k8s.io/v1/StorageClassList': StorageClassList,
  'storage.k8s.io/v1/CSIDriverList': CSIDriverList,
  'storage.k8s.io/v1/CSINodeList': CSINodeList,
  'rbac.authorization.k8s.io/v1/RoleList': RoleList,
  'rbac.authorization.k8s.io/v1/ClusterRoleList': ClusterRoleList,
  'rbac.authorization.k8s.io/v1/RoleBindingList': RoleBindingList,
  'rbac.authorization.k8s.io/v1/ClusterRoleBindingList': ClusterRoleBindingList,
  'autoscaling/v2/HorizontalPodAutoscalerList': HorizontalPodAutoscalerList,
  'autoscaling/v1/HorizontalPodAutoscalerList': HorizontalPodAutoscalerListV1,
  'policy/v1/PodDisruptionBudgetList': PodDisruptionBudgetList,
  'certificates.k8s.io/v1/CertificateSigningRequestList': CertificateSigningRequestList,

  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
  'apiextensions.k8s.io/v1/CustomResourceDefinitionList': CustomResourceDefinitionList,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfigurationList': MutatingWebhookConfigurationList,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': ValidatingWebhookConfiguration,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfigurationList': ValidatingWebhookConfigurationList,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyList': ValidatingAdmissionPolicyList,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': ValidatingAdmissionPolicyBinding,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBindingList': ValidatingAdmissionPolicyBindingList,
  'apiregistration.k8s.io/v1/APIService': APIService,
  'apiregistration.k8s.io/v1/APIServiceList': APIServiceList,

  'v1/Binding': Binding,
  'autoscaling/v1/Scale': Scale,
  'policy/v1/Eviction': Eviction,
  'authentication.k8s.io/v1/TokenRequest': TokenRequest,
  'authentication.k8s.io/v1/SelfSubjectReview': SelfSubjectReview,
  'authentication.k8s.io/v1/TokenReview': TokenReview,
  'authorization.k8s.io/v1/SelfSubjectAccessReview': SelfSubjectAccessReview,
  'authorization.k8s.io/v1/SelfSubjectRulesReview': SelfSubjectRulesReview,
  'authorization.k8s.io/v1/SubjectAccessReview': SubjectAccessReview,
  'authorization.k8s.io/v1/LocalSubjectAccessReview': LocalSubjectAccessReview,
  'v1/Status': StatusSchema,
  'meta.k8s.io/v1/Table': TableSchema,
};

export type SchemaKey = keyof typeof schemas;

export function schemaFor(apiVersion: string, kind: string): TSchema | undefined {
  return (schemas as Record<string, TSchema>)[`${apiVersion}/${kind}`];
}
