// What the cluster DNS reads: the kinds it is fed (Services, EndpointSlices, Pods, Namespaces), as narrow sources that
// an Informer satisfies, and the few constants of the Kubernetes DNS schema.
import type { Endpoint, EndpointSlice, EndpointSlicePort, Namespace, Pod, Service } from '../../api/index.js';
import type { EventHandlers, ResourceRef } from '../../client/index.js';

export type { EndpointSlice, Namespace, Pod, Service };
export type SliceEndpoint = Endpoint;
export type SlicePort = EndpointSlicePort;

/** The label that ties an EndpointSlice to its Service. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';

/** What the DNS server needs of an informer: event handlers and whether the first list has arrived. */
export interface Source<T> {
  addEventHandler(h: EventHandlers<T>): void;
  readonly hasSynced: boolean;
}

/**
 * The objects the DNS answers from. Pods are optional: with them, pod IPs get PTR records and `pods verified` can be
 * used; without them every agent is spared a watch of all pods. Without namespaces every namespace counts as existing.
 */
export interface DnsSources {
  services: Source<Service>;
  endpointSlices: Source<EndpointSlice>;
  pods?: Source<Pod>;
  namespaces?: Source<Namespace>;
}

export const SERVICES_REF: ResourceRef = { group: '', version: 'v1', resource: 'services', namespaced: true };
export const ENDPOINTSLICES_REF: ResourceRef = { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', namespaced: true };
export const PODS_REF: ResourceRef = { group: '', version: 'v1', resource: 'pods', namespaced: true };
export const NAMESPACES_REF: ResourceRef = { group: '', version: 'v1', resource: 'namespaces', namespaced: false };

/** CoreDNS's kubernetes plugin: TTL of every answer, and the schema version served at dns-version.ZONE. */
export const DEFAULT_TTL = 5;
export const DNS_SCHEMA_VERSION = '1.1.0';
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
export const DEFAULT_CLUSTER_DNS = '10.96.0.10';
