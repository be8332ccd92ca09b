// StatefulSet rules (pkg/controller/statefulset/stateful_set_utils.go) as pure functions: ordinals from pod names,
// stable identity (hostname, subdomain, pod-name and pod-index labels), one claim per template and ordinal, the
// claims' owner references under persistentVolumeClaimRetentionPolicy, revisions and status.
import { scaledValue } from '../../api/intstr.js';
import { isPodAvailable, isPodReady } from '../framework/pods.js';
import type { ControllerRevision, OwnerReference, PersistentVolumeClaim, Pod, StatefulSet, StatefulSetStatus } from '../framework/types.js';
import { CONTROLLER_REVISION_HASH, templateOfRevision } from '../history/revisions.js';

/** apps.StatefulSetPodNameLabel */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
/** apps.PodIndexLabel */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

const STATEFUL_POD = /^(.*)-([0-9]+)$/;

/** getParentNameAndOrdinal: "web-3" is ordinal 3 of "web"; a name without a numeric suffix has ordinal -1. */
export function parentAndOrdinal(name: string): { parent: string; ordinal: number } {
  const m = STATEFUL_POD.exec(name);
  if (!m) return { parent: '', ordinal: -1 };
  const n = Number(m[2]);
  // ParseInt(s, 10, 32): out of int32 range is no ordinal.
  return { parent: m[1]!, ordinal: Number.isSafeInteger(n) && n <= 2147483647 ? n : -1 };
}

export const ordinalOf = (pod: Pod): number => parentAndOrdinal(pod.metadata.name ?? '').ordinal;

export const replicasOf = (set: StatefulSet): number => set.spec.replicas ?? 1;
/** getStartOrdinal: spec.ordinals.start, 0 by default. */
export const startOrdinal = (set: StatefulSet): number => set.spec.ordinals?.start ?? 0;
/** getEndOrdinal (inclusive). */
export const endOrdinal = (set: StatefulSet): number => startOrdinal(set) + replicasOf(set) - 1;

export function inOrdinalRange(pod: Pod, set: StatefulSet): boolean {
  const o = ordinalOf(pod);
  return o >= startOrdinal(set) && o <= endOrdinal(set);
}

export const podName = (set: StatefulSet, ordinal: number): string => `${set.metadata.name ?? ''}-${ordinal}`;

/** getPersistentVolumeClaimName: `<template>-<set>-<ordinal>`. */
export const claimName = (set: StatefulSet, template: PersistentVolumeClaim, ordinal: number): string =>
  `${template.metadata?.name ?? ''}-${set.metadata.name ?? ''}-${ordinal}`;

/** isMemberOf: a pod named after the set (the filter for adopting orphans). */
export const isMemberOf = (set: StatefulSet, pod: Pod): boolean => parentAndOrdinal(pod.metadata.name ?? '').parent === set.metadata.name;

/** identityMatches: the pod's name, namespace and pod-name label are those of its ordinal in set. */
export function identityMatches(set: StatefulSet, pod: Pod): boolean {
  const { parent, ordinal } = parentAndOrdinal(pod.metadata.name ?? '');
  return ordinal >= 0 && parent === set.metadata.name && pod.metadata.namespace === set.metadata.namespace && pod.metadata.labels?.[POD_NAME_LABEL] === pod.metadata.name;
}

/** storageMatches: a volume per claim template, bound to the ordinal's claim. */
export function storageMatches(set: StatefulSet, pod: Pod): boolean {
  const ordinal = ordinalOf(pod);
  if (ordinal < 0) return false;
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  return (set.spec.volumeClaimTemplates ?? []).every((t) => volumes.get(t.metadata?.name ?? '')?.persistentVolumeClaim?.claimName === claimName(set, t, ordinal));
}

/** getPersistentVolumeClaims: the claims of the pod's ordinal, by template name, labelled with the set's matchLabels. */
export function claimsFor(set: StatefulSet, ordinal: number): Map<string, PersistentVolumeClaim> {
  const claims = new Map<string, PersistentVolumeClaim>();
  for (const t of set.spec.volumeClaimTemplates ?? []) {
    const claim = structuredClone(t);
    claim.apiVersion = 'v1';
    claim.kind = 'PersistentVolumeClaim';
    claim.metadata = {
      ...(claim.metadata ?? {}),
      name: claimName(set, t, ordinal),
      namespace: set.metadata.namespace ?? '',
      labels: { ...(claim.metadata?.labels ?? {}), ...(set.spec.selector.matchLabels ?? {}) },
    };
    delete claim.status;
    claims.set(t.metadata?.name ?? '', claim);
  }
  return claims;
}

/** updateStorage: volumes for the claims replace any of the same name; the other volumes stay. */
export function updateStorage(set: StatefulSet, pod: Pod): void {
  const claims = claimsFor(set, ordinalOf(pod));
  const volumes: NonNullable<Pod['spec']['volumes']> = [...claims].map(([name, claim]) => ({ name, persistentVolumeClaim: { claimName: claim.metadata?.name ?? '' } }));
  for (const v of pod.spec.volumes ?? []) if (!claims.has(v.name)) volumes.push(v);
  pod.spec.volumes = volumes;
}

/** updateIdentity: name, namespace and the pod-name and pod-index labels of the pod's ordinal. */
export function updateIdentity(set: StatefulSet, pod: Pod): void {
  const ordinal = ordinalOf(pod);
  pod.metadata.name = podName(set, ordinal);
  pod.metadata.namespace = set.metadata.namespace ?? '';
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [POD_NAME_LABEL]: pod.metadata.name, [POD_INDEX_LABEL]: String(ordinal) };
}

/** initIdentity: on creation also hostname and subdomain, so the pod is <name>.<serviceName> in DNS. */
export function initIdentity(set: StatefulSet, pod: Pod): void {
  updateIdentity(set, pod);
  pod.spec.hostname = pod.metadata.name;
  if (set.spec.serviceName) pod.spec.subdomain = set.spec.serviceName;
}

export const podRevision = (pod: Pod): string => pod.metadata.labels?.[CONTROLLER_REVISION_HASH] ?? '';

/** isCreated: the API server has it (a pod built here to be created has no phase yet). */
export const isCreated = (pod: Pod): boolean => !!pod.status?.phase;
export const isTerminating = (pod: Pod): boolean => !!pod.metadata.deletionTimestamp;
export const isRunningAndReady = (pod: Pod): boolean => pod.status?.phase === 'Running' && isPodReady(pod);
export const isRunningAndAvailable = (pod: Pod, minReadySeconds: number, now: number): boolean => isPodAvailable(pod, minReadySeconds, now);
/** isUnavailable: not available yet, or going away. */
export const isUnavailable = (pod: Pod, minReadySeconds: number, now: number): boolean => !isPodAvailable(pod, minReadySeconds, now) || isTerminating(pod);
export const allowsBurst = (set: StatefulSet): boolean => set.spec.podManagementPolicy === 'Parallel';

/** The set as it was at a revision: its template from the revision (ApplyRevision; only the template is saved). */
export function applyRevision(set: StatefulSet, revision: ControllerRevision): StatefulSet {
  const template = templateOfRevision(revision);
  return template ? { ...set, spec: { ...set.spec, template } } : set;
}

/** getStatefulSetMaxUnavailable: maxUnavailable of the replicas (percentages round down), at least 1; 1 by default. */
export function maxUnavailableOf(set: StatefulSet): number {
  const v = set.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1;
  return Math.max(1, scaledValue(v, replicasOf(set), false));
}

type ReplicaCounts = Required<Pick<StatefulSetStatus, 'replicas' | 'readyReplicas' | 'availableReplicas' | 'currentReplicas' | 'updatedReplicas'>>;

/** computeReplicaStatus over pods: created, ready, available, and at the current or update revision. */
export function replicaCounts(pods: Array<Pod | undefined>, minReadySeconds: number, currentRevision: string, updateRevision: string, now: number): ReplicaCounts {
  const c: ReplicaCounts = { replicas: 0, readyReplicas: 0, availableReplicas: 0, currentReplicas: 0, updatedReplicas: 0 };
  for (const pod of pods) {
    if (!pod || !isCreated(pod)) continue;
    c.replicas++;
    if (isRunningAndReady(pod)) {
      c.readyReplicas++;
      if (isRunningAndAvailable(pod, minReadySeconds, now)) c.availableReplicas++;
    }
    if (isTerminating(pod)) continue;
    if (podRevision(pod) === currentRevision) c.currentReplicas++;
    if (podRevision(pod) === updateRevision) c.updatedReplicas++;
  }
  return c;
}

/** completeRollingUpdate: once every replica is updated and ready, the update revision becomes the current one. */
export function completeRollingUpdate(set: StatefulSet, status: StatefulSetStatus): void {
  const n = replicasOf(set);
  if ((set.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && status.updatedReplicas === n && status.readyReplicas === n && status.replicas === n) {
    status.currentReplicas = status.updatedReplicas;
    status.currentRevision = status.updateRevision;
  }
}

/** inconsistentStatus: whether status differs from what the set shows (so it must be written). */
export function statusChanged(set: StatefulSet, s: StatefulSetStatus): boolean {
  const o = set.status;
  if (!o) return true;
  return (
    (s.observedGeneration ?? 0) > (o.observedGeneration ?? 0) ||
    s.replicas !== o.replicas ||
    (s.currentReplicas ?? 0) !== (o.currentReplicas ?? 0) ||
    (s.readyReplicas ?? 0) !== (o.readyReplicas ?? 0) ||
    (s.updatedReplicas ?? 0) !== (o.updatedReplicas ?? 0) ||
    (s.availableReplicas ?? 0) !== (o.availableReplicas ?? 0) ||
    (s.currentRevision ?? '') !== (o.currentRevision ?? '') ||
    (s.updateRevision ?? '') !== (o.updateRevision ?? '') ||
    (s.collisionCount ?? 0) !== (o.collisionCount ?? 0)
  );
}

// ---- claims and persistentVolumeClaimRetentionPolicy ----

export const hasOwnerRef = (obj: { metadata?: { ownerReferences?: OwnerReference[] } }, uid: string | undefined): boolean =>
  !!uid && (obj.metadata?.ownerReferences ?? []).some((r) => r.uid === uid);

/**
 * The owner references a claim should have under the retention policy (updateClaimOwnerRefForSetAndPod): the set owns
 * it when whenDeleted is Delete (and the pod is in range), the pod owns it when whenScaled is Delete and the pod is
 * being scaled away. Returns the new list, or undefined when the claim already matches.
 */
export function retentionOwnerRefs(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): OwnerReference[] | undefined {
  const policy = set.spec.persistentVolumeClaimRetentionPolicy ?? {};
  const scaledDown = !inOrdinalRange(pod, set);
  const wantSet = policy.whenDeleted === 'Delete' && !(policy.whenScaled === 'Delete' && scaledDown);
  const wantPod = policy.whenScaled === 'Delete' && scaledDown;
  const setUid = set.metadata.uid;
  const podUid = pod.metadata.uid;
  if (hasOwnerRef(claim, setUid) === wantSet && hasOwnerRef(claim, podUid) === wantPod) return undefined;
  let refs = (claim.metadata?.ownerReferences ?? []).filter((r) => r.uid !== setUid && r.uid !== podUid);
  if (wantSet) refs = [...refs, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata.name ?? '', uid: setUid ?? '' }];
  if (wantPod) refs = [...refs, { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name ?? '', uid: podUid ?? '' }];
  return refs;
}
