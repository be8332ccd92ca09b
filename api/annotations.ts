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
