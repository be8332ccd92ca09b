// The strategy of each served kind.
import type { ResourceInfo } from '../../../api/resources.js';
import { defaultStrategy, type Strategy } from '../strategy.js';
import { controllerRevisionStrategy, daemonSetStrategy, replicationControllerStrategy } from './apps.js';
import { endpointsStrategy, eventStrategy, nodeStrategy, secretStrategy } from './core.js';
import { endpointSliceStrategy } from './discovery.js';
import { namespaceStrategy } from './namespace.js';
import { podStrategy } from './pod.js';
import { priorityClassStrategy } from './scheduling.js';
import { RBAC_STRATEGIES } from './rbac.js';
import { certificateSigningRequestStrategy } from './certificates.js';
import { serviceStrategy, type ServiceRanges } from './service.js';
import { persistentVolumeClaimStrategy, persistentVolumeStrategy } from './storage.js';
import { workloadStrategy } from './workloads.js';
import { statusKindStrategy } from './autoscaling.js';
import { crdStrategy } from '../../apiextensions/crd-strategy.js';

const BY_KIND: Record<string, (info: ResourceInfo, opts: { serviceRanges?: ServiceRanges }) => Strategy> = {
  Pod: podStrategy,
  Namespace: namespaceStrategy,
  Node: nodeStrategy,
  Service: (info, o) => serviceStrategy(info, o.serviceRanges),
  Event: eventStrategy,
  Endpoints: endpointsStrategy,
  EndpointSlice: endpointSliceStrategy,
  Secret: secretStrategy,
  Deployment: workloadStrategy,
  ReplicaSet: workloadStrategy,
  StatefulSet: workloadStrategy,
  DaemonSet: daemonSetStrategy,
  ControllerRevision: controllerRevisionStrategy,
  ReplicationController: replicationControllerStrategy,
  Job: workloadStrategy,
  CronJob: workloadStrategy,
  PriorityClass: priorityClassStrategy,
  HorizontalPodAutoscaler: statusKindStrategy,
  PodDisruptionBudget: statusKindStrategy,
  PersistentVolume: persistentVolumeStrategy,
  PersistentVolumeClaim: persistentVolumeClaimStrategy,
  ...RBAC_STRATEGIES,
  CertificateSigningRequest: certificateSigningRequestStrategy,
  CustomResourceDefinition: crdStrategy,
};

export function strategyFor(info: ResourceInfo, opts: { serviceRanges?: ServiceRanges } = {}): Strategy {
  const make = BY_KIND[info.kind];
  return make ? make(info, opts) : defaultStrategy(info);
}
