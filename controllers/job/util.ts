// Names and small predicates of the Job controller (kube's batch/v1 constants and job/util): conditions, the tracking
// finalizer, completion indexes, and which pods count as failed.
import type { Pod } from '../framework/types.js';
import type { Job, JobCondition } from './types.js';
import { rfc3339 } from '../framework/pods.js';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const INDEX_FAILURE_COUNT_ANNOTATION = 'batch.kubernetes.io/job-index-failure-count';
export const INDEX_IGNORED_FAILURE_COUNT_ANNOTATION = 'batch.kubernetes.io/job-index-ignored-failure-count';
export const COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';
/** spec.managedBy of Jobs this controller reconciles (unset means the same). */
export const JOB_CONTROLLER_NAME = 'kubernetes.io/job-controller';
export const UNKNOWN_INDEX = -1;
const MAX_INT32 = 2147483647;

export type ConditionType = 'Complete' | 'Failed' | 'Suspended' | 'FailureTarget' | 'SuccessCriteriaMet';

export function findCondition(job: Job, type: ConditionType): JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type);
}

const isTrue = (c: JobCondition | undefined): c is JobCondition => c?.status === 'True';

/** Complete or Failed is True (kube's IsJobFinished). */
export function isJobFinished(job: Job): boolean {
  return isTrue(findCondition(job, 'Complete')) || isTrue(findCondition(job, 'Failed'));
}

/** The type and time of a finished Job's terminal condition. */
export function finishedCondition(job: Job): JobCondition | undefined {
  return job.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

export function newCondition(type: ConditionType, status: 'True' | 'False', reason: string, message: string, now: number): JobCondition {
  const t = rfc3339(now);
  return { type, status, lastProbeTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Sets a condition's status, reason and message (kube's ensureJobConditionStatus): a False condition is not added when
 * absent. Returns whether the list changed; the list is replaced, never mutated in place.
 */
export function ensureCondition(job: Job, type: ConditionType, status: 'True' | 'False', reason: string, message: string, now: number): boolean {
  const list = job.status?.conditions ?? [];
  const i = list.findIndex((c) => c.type === type);
  const status_ = (job.status ??= {});
  if (i >= 0) {
    const c = list[i]!;
    if (c.status === status && (c.reason ?? '') === reason && (c.message ?? '') === message) return false;
    status_.conditions = list.map((x, j) => (j === i ? newCondition(type, status, reason, message, now) : x));
    return true;
  }
  if (status === 'False') return false;
  status_.conditions = [...list, newCondition(type, status, reason, message, now)];
  return true;
}

export const hasTrackingFinalizer = (pod: Pod): boolean => pod.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER) ?? false;

/** The pod's completion index from its annotation, or UNKNOWN_INDEX. */
export function completionIndex(pod: Pod): number {
  const v = pod.metadata.annotations?.[COMPLETION_INDEX_ANNOTATION];
  if (v === undefined || !/^\d{1,10}$/.test(v)) return UNKNOWN_INDEX;
  const n = Number(v);
  return n <= MAX_INT32 ? n : UNKNOWN_INDEX;
}

/** An annotation as a non-negative int32, 0 when absent or not one (a hostile value must not break the count). */
export function int32Annotation(pod: Pod, key: string): number {
  const v = pod.metadata.annotations?.[key];
  if (v === undefined || !/^\d{1,10}$/.test(v)) return 0;
  const n = Number(v);
  return n <= MAX_INT32 ? n : 0;
}

export const isIndexed = (job: Job): boolean => job.spec.completionMode === 'Indexed';
export const hasBackoffLimitPerIndex = (job: Job): boolean => job.spec.backoffLimitPerIndex !== undefined;
export const isSuspended = (job: Job): boolean => job.spec.suspend === true;
export const completionsOf = (job: Job): number => job.spec.completions ?? 0;

/** Pods are replaced only once they are Failed, not while terminating (podReplacementPolicy Failed, or a pod failure policy). */
export function onlyReplaceFailedPods(job: Job): boolean {
  return job.spec.podReplacementPolicy === 'Failed' || job.spec.podFailurePolicy !== undefined;
}

/** Failed, or (unless only failed pods are replaced) deleted before it succeeded: an orphan may never reach Failed. */
export function isPodFailed(pod: Pod, job: Job): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Failed') return true;
  if (onlyReplaceFailedPods(job)) return false;
  return !!pod.metadata.deletionTimestamp && phase !== 'Succeeded';
}

/** Being deleted and not yet finished (controller.FilterTerminatingPods). */
export function isPodTerminating(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !!pod.metadata.deletionTimestamp && phase !== 'Failed' && phase !== 'Succeeded';
}

/** Removes the tracking finalizer and nothing else (a strategic-merge directive: a merge patch would replace the list). */
export const REMOVE_FINALIZER_PATCH = { metadata: { '$deleteFromPrimitiveList/finalizers': [JOB_TRACKING_FINALIZER] } };

/**
 * Whether a's resourceVersion is newer than b's. Both are etcd revisions here (decimal numbers); anything else is
 * opaque, and then neither is newer.
 */
export function isNewerVersion(a: { metadata: { resourceVersion?: string } }, b: { metadata: { resourceVersion?: string } }): boolean {
  const ra = a.metadata.resourceVersion ?? '';
  const rb = b.metadata.resourceVersion ?? '';
  return /^\d{1,30}$/.test(ra) && /^\d{1,30}$/.test(rb) && BigInt(ra) > BigInt(rb);
}
