// What a pod and its containers are, as kube's podutil tells it (shared by the agent, the API server and controllers).
import type { Container, Pod } from './schemas/core.js';

/** A sidecar: an init container with restartPolicy Always (kube's IsRestartableInitContainer). */
export const isRestartableInitContainer = (c: Pick<Container, 'restartPolicy'>): boolean => c.restartPolicy === 'Always';

/** The pod's Ready condition is True (kube's podutil.IsPodReady). */
export function isPodReady(pod: Pick<Pod, 'status'>): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
