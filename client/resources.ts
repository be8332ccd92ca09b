// The REST coordinates (and apiVersion/kind) of the kinds the components read and write, from api's resource table:
// one definition each, for the scheduler, controllers, agent and CLI.
import { findByKind } from '../api/resources.js';
import type { ResourceRef } from './rest.js';

/** The REST coordinates of a served kind, with its apiVersion and kind (for object and owner references). */
export function refFor<const V extends string, const K extends string>(apiVersion: V, kind: K): ResourceRef & { apiVersion: V; kind: K } {
  const info = findByKind(apiVersion, kind);
  if (!info) throw new Error(`no resource serves ${apiVersion}/${kind}`);
  return { group: info.group, version: info.version, resource: info.resource, namespaced: info.namespaced, apiVersion, kind };
}

export const PODS = refFor('v1', 'Pod');
export const NODES = refFor('v1', 'Node');
export const NAMESPACES = refFor('v1', 'Namespace');
export const CONFIGMAPS = refFor('v1', 'ConfigMap');
export const SECRETS = refFor('v1', 'Secret');
export const SERVICEACCOUNTS = refFor('v1', 'ServiceAccount');
export const EVENTS = refFor('v1', 'Event');
export const REPLICASETS = refFor('apps/v1', 'ReplicaSet');
export const DEPLOYMENTS = refFor('apps/v1', 'Deployment');
export const DAEMONSETS = refFor('apps/v1', 'DaemonSet');
export const STATEFULSETS = refFor('apps/v1', 'StatefulSet');
export const CONTROLLERREVISIONS = refFor('apps/v1', 'ControllerRevision');
export const REPLICATIONCONTROLLERS = refFor('v1', 'ReplicationController');
export const JOBS = refFor('batch/v1', 'Job');
export const CRONJOBS = refFor('batch/v1', 'CronJob');
export const LEASES = refFor('coordination.k8s.io/v1', 'Lease');
export const PERSISTENTVOLUMES = refFor('v1', 'PersistentVolume');
export const PERSISTENTVOLUMECLAIMS = refFor('v1', 'PersistentVolumeClaim');
export const STORAGECLASSES = refFor('storage.k8s.io/v1', 'StorageClass');
export const CSIDRIVERS = refFor('storage.k8s.io/v1', 'CSIDriver');
export const CSINODES = refFor('storage.k8s.io/v1', 'CSINode');
export const SERVICES = refFor('v1', 'Service');
export const ENDPOINTS = refFor('v1', 'Endpoints');
export const ENDPOINTSLICES = refFor('discovery.k8s.io/v1', 'EndpointSlice');
export const PODDISRUPTIONBUDGETS = refFor('policy/v1', 'PodDisruptionBudget');
export const HORIZONTALPODAUTOSCALERS = refFor('autoscaling/v2', 'HorizontalPodAutoscaler');
