// Pod helpers shared by controllers: readiness, availability (minReadySeconds), activity, and pods from templates.
import { nowRFC3339 } from '../../api/keys.js';
import type { ObjectLike } from '../../client/rest.js';
import { newControllerRef } from './owners.js';
import type { Pod, PodCondition, PodTemplateSpec } from './types.js';

export function podReadyCondition(pod: Pod): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export { isPodReady } from '../../api/pod-helpers.js';

/** Ready for at least minReadySeconds at time now. */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

/** Not finished and not being deleted (controller.IsPodActive). */
export function isPodActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

/** A pod to create from a controller's template, owned by it (controller.GetPodFromTemplate). */
export function podFromTemplate(template: PodTemplateSpec, owner: ObjectLike, gvk: { apiVersion: string; kind: string }): Pod {
  const tm = template.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${owner.metadata?.name ?? 'pod'}-`,
      ...(owner.metadata?.namespace ? { namespace: owner.metadata.namespace } : {}),
      labels: { ...(tm.labels ?? {}) },
      annotations: { ...(tm.annotations ?? {}) },
      ...(tm.finalizers?.length ? { finalizers: [...tm.finalizers] } : {}),
      ownerReferences: [newControllerRef(owner, gvk)],
    },
    spec: structuredClone(template.spec),
  };
}

/** RFC 3339 in whole seconds, as metav1.Time. */
export const rfc3339 = (ms: number): string => nowRFC3339(new Date(ms));
