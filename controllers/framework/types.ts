// The API types the controllers use, in one place (from the schemas in api/), and the resource refs (from client/).

export type { Pod, PodCondition, PodTemplateSpec, Node, NodeCondition, Taint, Toleration, Namespace } from '../../api/index.js';
export type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetStatus } from '../../api/index.js';
export type { ControllerRevision, DaemonSet, DaemonSetStatus, StatefulSet, StatefulSetStatus, ReplicationController, PersistentVolumeClaim } from '../../api/index.js';
export type { Lease } from '../../api/index.js';
export type { Service, ServicePort, Endpoints, EndpointSubset, EndpointAddress, EndpointPort } from '../../api/index.js';
export type { EndpointSlice, Endpoint, EndpointSlicePort } from '../../api/index.js';
export type { LabelSelector, ObjectMeta, OwnerReference } from '../../api/index.js';

export { refFor, PODS, NODES, NAMESPACES, REPLICASETS, DEPLOYMENTS, DAEMONSETS, STATEFULSETS, CONTROLLERREVISIONS, REPLICATIONCONTROLLERS, LEASES, SERVICES, ENDPOINTS, ENDPOINTSLICES } from '../../client/resources.js';
