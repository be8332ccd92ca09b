// Indexed Jobs (kube's indexed_job_utils.go): succeeded and failed indexes from pods, the next indexes to start, pods
// of repeated or out-of-range indexes, and the per-index failure counts carried from a failed pod to its replacement.
import { hasIndex, intervalsOf, mergeIntervals, parseIndexes, withIndexes, type Interval, type Intervals } from '../../api/indexes.js';
import type { Pod } from '../framework/types.js';
import { compareForDeletion } from '../replicaset/pod-ranking.js';
import { finishedTime } from './backoff.js';
import { matchPodFailurePolicy } from './policies.js';
import type { Job } from './types.js';
import {
  completionIndex, completionsOf, hasTrackingFinalizer, INDEX_FAILURE_COUNT_ANNOTATION, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION, int32Annotation,
  isPodFailed, UNKNOWN_INDEX,
} from './util.js';

/** The index of a pod counted by the Job: known and below completions. */
export function validIndex(job: Job, pod: Pod): number {
  const ix = completionIndex(pod);
  return ix !== UNKNOWN_INDEX && ix < completionsOf(job) ? ix : UNKNOWN_INDEX;
}

/** status.completedIndexes, and it with the indexes of succeeded pods not counted yet (still holding the finalizer). */
export function succeededIndexes(job: Job, pods: Pod[]): { prev: Interval[]; now: Interval[] } {
  const prev = parseIndexes(job.status?.completedIndexes, completionsOf(job));
  const fresh: number[] = [];
  for (const p of pods) {
    const ix = validIndex(job, p);
    if (ix !== UNKNOWN_INDEX && p.status?.phase === 'Succeeded' && hasTrackingFinalizer(p)) fresh.push(ix);
  }
  return { prev, now: mergeIntervals(prev, intervalsOf(fresh)) };
}

/** Whether a failed pod's index has used up its backoffLimitPerIndex (or a FailIndex rule matched it). */
export function isIndexFailed(job: Job, pod: Pod): boolean {
  if (!isPodFailed(pod, job)) return false;
  const m = matchPodFailurePolicy(job.spec.podFailurePolicy, pod);
  if (m.action === 'FailIndex') return true;
  return m.countFailed && int32Annotation(pod, INDEX_FAILURE_COUNT_ANNOTATION) >= (job.spec.backoffLimitPerIndex ?? 0);
}

/** status.failedIndexes with the indexes that failed since. */
export function failedIndexes(job: Job, pods: Pod[]): Interval[] {
  const prev = parseIndexes(job.status?.failedIndexes, completionsOf(job));
  const fresh: number[] = [];
  for (const p of pods) {
    const ix = validIndex(job, p);
    if (ix !== UNKNOWN_INDEX && hasTrackingFinalizer(p) && isIndexFailed(job, p)) fresh.push(ix);
  }
  return mergeIntervals(prev, intervalsOf(fresh));
}

/** Indexes of the given pods (unknown ones left out). */
export function indexesOf(pods: Pod[]): Interval[] {
  return intervalsOf(pods.map(completionIndex).filter((ix) => ix !== UNKNOWN_INDEX));
}

/**
 * The first `count` indexes below completions that are neither succeeded, failed, nor held by a pod in `busy` (the
 * active pods, and the terminating ones when only failed pods are replaced). Bounded by the intervals and count.
 */
export function firstPendingIndexes(completions: number, count: number, succeeded: Intervals, failed: Intervals | undefined, busy: Pod[]): number[] {
  if (count <= 0) return [];
  let taken = mergeIntervals(succeeded, indexesOf(busy));
  if (failed) taken = mergeIntervals(taken, failed);
  const out: number[] = [];
  let candidate = 0;
  for (const iv of taken) {
    for (; candidate < completions && out.length < count && candidate < iv.first; candidate++) out.push(candidate);
    if (candidate < iv.last + 1) candidate = iv.last + 1;
  }
  for (; candidate < completions && out.length < count; candidate++) out.push(candidate);
  return out;
}

/** Active pods to delete: all without a valid index, and all but the best-placed one of each repeated index. */
export function duplicatedIndexPods(job: Job, active: Pod[]): { remove: Pod[]; keep: Pod[] } {
  const byIndex = new Map<number, Pod[]>();
  const remove: Pod[] = [];
  for (const p of active) {
    const ix = validIndex(job, p);
    if (ix === UNKNOWN_INDEX) remove.push(p);
    else {
      const list = byIndex.get(ix);
      if (list) list.push(p);
      else byIndex.set(ix, [p]);
    }
  }
  const keep: Pod[] = [];
  for (const list of byIndex.values()) {
    if (list.length > 1) list.sort((a, b) => compareForDeletion(a, b, 0, 0));
    remove.push(...list.slice(0, -1));
    keep.push(list[list.length - 1]!);
  }
  return { remove, keep };
}

/**
 * Per index, the failed pod whose deletion waits until its replacement exists (so the replacement can carry the
 * index's failure count): the latest failed pod of each index that is not succeeded, failed or running again.
 */
export function podsWithDelayedDeletion(job: Job, pods: Pod[], active: Pod[], succeeded: Intervals, failed: Intervals | undefined, expectedRm: ReadonlySet<string>): Map<number, Pod> {
  const activeIx = new Set(active.map(completionIndex));
  const out = new Map<number, Pod>();
  const count = (p: Pod): number => int32Annotation(p, INDEX_FAILURE_COUNT_ANNOTATION) + int32Annotation(p, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
  for (const p of pods) {
    if (!hasTrackingFinalizer(p) || expectedRm.has(p.metadata.uid ?? '') || !isPodFailed(p, job)) continue;
    const ix = validIndex(job, p);
    if (ix === UNKNOWN_INDEX || hasIndex(succeeded, ix) || hasIndex(failed, ix) || activeIx.has(ix)) continue;
    const last = out.get(ix);
    if (!last || (count(last) <= count(p) && finishedTime(p) >= finishedTime(last))) out.set(ix, p);
  }
  return out;
}

/** The failure-count annotations for the replacement of `replaced` (kube's getNewIndexFailureCounts). */
export function replacementFailureCounts(job: Job, replaced: Pod | undefined): { failed: number; ignored: number } {
  if (!replaced) return { failed: 0, ignored: 0 };
  let failed = int32Annotation(replaced, INDEX_FAILURE_COUNT_ANNOTATION);
  let ignored = int32Annotation(replaced, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
  if (matchPodFailurePolicy(job.spec.podFailurePolicy, replaced).countFailed) failed++;
  else ignored++;
  return { failed, ignored };
}

/** The generateName of an index's pods: "NAME-INDEX-", the name cut so that the generated name stays under 63. */
export function indexedGenerateName(jobName: string, ix: number): string {
  const suffix = `-${ix}-`;
  const MAX_GENERATED = 58; // names.MaxGeneratedNameLength: 63 minus the 5 random characters
  const prefix = jobName + suffix;
  return prefix.length > MAX_GENERATED ? jobName.slice(0, MAX_GENERATED - suffix.length) + suffix : prefix;
}

export { withIndexes };
