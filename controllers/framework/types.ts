// The API types the controllers use, in one place (from the schemas in api/), and the resource refs built from RESOURCES.
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { ResourceRef } from '../../client/rest.js';

export type { Pod, PodCondition, PodTemplateSpec, Node, NodeCondition, Taint, Toleration, Namespace } from '../../api/index.js';
export type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetStatus } from '../../api/index.js';
export type { Lease } from '../../api/index.js';
export type { Service, ServicePort, Endpoints, EndpointSubset, EndpointAddress, EndpointPort } from '../../api/index.js';
export type { EndpointSlice, Endpoint, EndpointSlicePort } from '../../api/index.js';
export type { LabelSelector, ObjectMeta, OwnerReference } from '../../api/index.js';

/** The REST coordinates of a served kind, from the resource table. */
export function refFor<const V extends string, const K extends string>(apiVersion: V, kind: K): ResourceRef & { apiVersion: V; kind: K } {
  const info: ResourceInfo | undefined = findByKind(apiVersion, kind);
  if (!info) throw new Error(`no resource serves ${apiVersion}/${kind}`);
  return { group: info.group, version: info.version, resource: info.resource, namespaced: info.namespaced, apiVersion, kind };
}

export const PODS = refFor('v1', 'Pod');
export const NODES = refFor('v1', 'Node');
export const NAMESPACES = refFor('v1', 'Namespace');
export const REPLICASETS = refFor('apps/v1', 'ReplicaSet');
export const DEPLOYMENTS = refFor('apps/v1', 'Deployment');
export const LEASES = refFor('coordination.k8s.io/v1', 'Lease');
export const SERVICES = refFor('v1', 'Service');
export const ENDPOINTS = refFor('v1', 'Endpoints');
export const ENDPOINTSLICES = refFor('discovery.k8s.io/v1', 'EndpointSlice');
