// Well-known annotations that components write and others read (kept here so that no component imports another).

/**
 * On a pending pod: JSON {"<node>": ["<reason>", ...]}, the reasons each node was rejected for in the scheduler's last
 * failed attempt (`ketch why pod/NAME` reads it). Removed once the pod is bound.
 */
export const DIAGNOSIS_ANNOTATION = 'ketch.io/scheduling-diagnosis';

/**
 * On a DaemonSet: its template generation, 1 on create and one more each time spec.template changes (the API server
 * keeps it; the DaemonSet controller labels pods with it as `pod-template-generation`).
 */
export const DAEMONSET_TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

/** On Endpoints and EndpointSlices: when the change they reflect happened (RFC 3339), for network-programming latency. */
export const LAST_CHANGE_TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

/** On Endpoints cut down to their capacity (1,000 addresses). */
export const OVER_CAPACITY_ANNOTATION = 'endpoints.kubernetes.io/over-capacity';

/** On the Endpoints and EndpointSlices of a headless service (clusterIP None). */
export const HEADLESS_SERVICE_LABEL = 'service.kubernetes.io/headless';

/** The node label holding its zone, copied onto the endpoints of its pods. */
export const TOPOLOGY_ZONE_LABEL = 'topology.kubernetes.io/zone';
