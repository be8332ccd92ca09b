// What a container is in its pod, as kube's podutil tells it (shared by the agent, controllers and the autoscaler).
import type { Container } from './schemas/core.js';

/** A sidecar: an init container with restartPolicy Always (kube's IsRestartableInitContainer). */
export const isRestartableInitContainer = (c: Pick<Container, 'restartPolicy'>): boolean => c.restartPolicy === 'Always';
