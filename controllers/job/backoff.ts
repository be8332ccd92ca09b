// Pod-failure backoff (kube's backoff_utils.go): after failures a Job waits before creating replacements, 10 s doubled
// per consecutive failure up to 10 min; per index (backoffLimitPerIndex) from the failure count on the last failed pod.
import type { Pod } from '../framework/types.js';
import { INDEX_FAILURE_COUNT_ANNOTATION, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION, int32Annotation } from './util.js';

export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  lastFailureTime?: number;
}

export interface BackoffTimes {
  baseMs: number;
  maxMs: number;
}

const ms = (t: string | undefined): number | undefined => {
  const v = t === undefined ? NaN : Date.parse(t);
  return Number.isNaN(v) ? undefined : v;
};

/**
 * When a pod finished: the last container to terminate; else the Ready=False transition (kubelets set it on the way
 * to a terminal phase); else deletionTimestamp minus its grace period (pods deleted by pod GC); else creation.
 */
export function finishedTime(pod: Pod): number {
  const statuses = pod.status?.containerStatuses ?? [];
  let latest: number | undefined;
  let all = statuses.length > 0;
  for (const cs of statuses) {
    const t = ms(cs.state?.terminated?.finishedAt);
    if (t === undefined) {
      all = false;
      break;
    }
    if (latest === undefined || t > latest) latest = t;
  }
  if (all && latest !== undefined) return latest;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const readyAt = ready?.status === 'False' ? ms(ready.lastTransitionTime) : undefined;
  if (readyAt !== undefined) return readyAt;
  const deleted = ms(pod.metadata.deletionTimestamp);
  if (deleted !== undefined) return deleted - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  return ms(pod.metadata.creationTimestamp) ?? 0;
}

/** The record after this sync's newly finished pods: a success resets it, failures after the last success add up. */
export function nextBackoffRecord(prev: BackoffRecord | undefined, succeeded: Pod[], failed: Pod[]): BackoffRecord {
  const rec: BackoffRecord = { failuresAfterLastSuccess: prev?.failuresAfterLastSuccess ?? 0, ...(prev?.lastFailureTime !== undefined ? { lastFailureTime: prev.lastFailureTime } : {}) };
  if (!failed.length && !succeeded.length) return rec;
  const failTimes = failed.map(finishedTime).sort((a, b) => a - b);
  if (!succeeded.length) return { failuresAfterLastSuccess: rec.failuresAfterLastSuccess + failed.length, lastFailureTime: failTimes[failTimes.length - 1]! };
  const lastSuccess = Math.max(...succeeded.map(finishedTime));
  const after = failTimes.filter((t) => t > lastSuccess);
  return after.length ? { failuresAfterLastSuccess: after.length, lastFailureTime: after[after.length - 1]! } : { failuresAfterLastSuccess: 0 };
}

/** How long until a replacement may be created after `failures` consecutive failures, the last at `lastFailure`. */
export function remainingBackoffMs(failures: number, lastFailure: number | undefined, now: number, t: BackoffTimes): number {
  if (failures === 0 || lastFailure === undefined) return 0;
  let backoff = t.baseMs;
  for (let i = 1; i < failures && backoff < t.maxMs; i++) backoff *= 2;
  backoff = Math.min(backoff, t.maxMs);
  const elapsed = now - lastFailure;
  return backoff < elapsed ? 0 : backoff - elapsed;
}

/** The per-index wait: from the failure counts carried by the index's last failed pod. */
export function remainingIndexBackoffMs(lastFailed: Pod | undefined, now: number, t: BackoffTimes): number {
  if (!lastFailed) return 0;
  const failures = int32Annotation(lastFailed, INDEX_FAILURE_COUNT_ANNOTATION) + int32Annotation(lastFailed, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION) + 1;
  return remainingBackoffMs(failures, finishedTime(lastFailed), now, t);
}
