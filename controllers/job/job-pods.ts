// The pod side of a Job sync (kube's manageJob and pod control): how many pods should run, which indexes start next,
// which pods go, with expectations recorded before every write so that no sync acts twice on the same pods.
import { isNotFound } from '../../api/errors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import { keyOf } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import type { Clock } from '../../lib/clock.js';
import { limiter } from '../../lib/limit.js';
import { slowStartBatch } from '../framework/batch.js';
import type { UIDTrackingExpectations } from '../framework/expectations.js';
import { isPodReady, podFromTemplate } from '../framework/pods.js';
import type { Pod, PodTemplateSpec } from '../framework/types.js';
import { compareForDeletion } from '../replicaset/pod-ranking.js';
import { isNamespaceTerminating } from '../framework/pod-control.js';
import { remainingBackoffMs, remainingIndexBackoffMs, type BackoffTimes } from './backoff.js';
import { duplicatedIndexPods, firstPendingIndexes, indexedGenerateName, replacementFailureCounts } from './indexed.js';
import type { JobSync } from './job-sync.js';
import { JOBS, type Job } from './types.js';
import {
  COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_ENV, completionsOf, hasBackoffLimitPerIndex, hasTrackingFinalizer, INDEX_FAILURE_COUNT_ANNOTATION,
  INDEX_IGNORED_FAILURE_COUNT_ANNOTATION, isIndexed, isPodTerminating, isSuspended, JOB_TRACKING_FINALIZER, onlyReplaceFailedPods,
  REMOVE_FINALIZER_PATCH,
} from './util.js';

/** Pods created or deleted per sync (kube's MaxPodCreateDeletePerSync). */
const MAX_PER_SYNC = 500;
/**
 * Pod writes in flight at once (all of this controller's syncs): as many as its client has connections (64; with
 * --use-service-account-credentials, the default, the Job controller's client is its own). At 32 the creates of a
 * 500-pod Job ran at 0.64-0.68 of raw POSTs at the same concurrency, bound by round trips; at 64, 0.68-0.80.
 */
export const WRITE_CONCURRENCY = 64;

export interface JobPodsOptions {
  pods: ResourceClient<Pod>;
  recorder: EventRecorder;
  expectations: UIDTrackingExpectations;
  clock: Clock;
  backoff: BackoffTimes;
  /** Syncs the Job key again after ms (a backoff that has not run out). */
  requeueAfter(key: string, ms: number): void;
}

export interface PodChange {
  /** Pods active after the change (created ones counted, deleted ones not). */
  active: number;
  error?: unknown;
}

export class JobPods {
  /** Runs a pod write within the controller's cap on writes in flight (all syncs' creates, deletes and finalizer removals). */
  readonly write = limiter(WRITE_CONCURRENCY);

  constructor(private readonly o: JobPodsOptions) {}

  /** Creates or deletes pods so that the right number run; only one of the two per sync, deletion first. */
  async manageJob(s: JobSync): Promise<PodChange> {
    const job = s.job;
    const active = s.active.length;
    if (isSuspended(job)) return this.deleteForJob(s, podsForRemoval(job, s.active, active));
    const parallelism = job.spec.parallelism ?? 1;
    let want: number;
    if (job.spec.completions === undefined) want = s.succeeded > 0 ? active : parallelism;
    else want = Math.max(0, Math.min(job.spec.completions - s.succeeded, parallelism));
    const victims = podsForRemoval(job, s.active, Math.max(0, active - want)).slice(0, MAX_PER_SYNC);
    if (victims.length) return this.deleteForJob(s, victims);
    const terminating = onlyReplaceFailedPods(job) ? s.terminating : 0;
    let diff = want - terminating - active;
    if (diff <= 0) return { active };
    const now = this.o.clock.now();
    if (!hasBackoffLimitPerIndex(job)) {
      const wait = remainingBackoffMs(s.backoff.failuresAfterLastSuccess, s.backoff.lastFailureTime, now, this.o.backoff);
      if (wait > 0) {
        this.o.requeueAfter(s.key, wait);
        return { active };
      }
    }
    diff = Math.min(diff, MAX_PER_SYNC);
    let indexes: number[] | undefined;
    if (isIndexed(job)) {
      const busy = onlyReplaceFailedPods(job) ? [...s.active, ...s.pods.filter(isPodTerminating)] : s.active;
      indexes = firstPendingIndexes(completionsOf(job), diff, s.succeededIx, s.failedIx, busy);
      if (hasBackoffLimitPerIndex(job)) {
        const waits = indexes.map((ix) => remainingIndexBackoffMs(s.delayedDeletion.get(ix), now, this.o.backoff));
        const ready = indexes.filter((_ix, i) => waits[i] === 0);
        if (!ready.length && waits.length) {
          this.o.requeueAfter(s.key, Math.min(...waits));
          return { active };
        }
        indexes = ready;
      }
      diff = indexes.length;
    }
    return this.createPods(s, diff, indexes);
  }

  private async createPods(s: JobSync, count: number, indexes: number[] | undefined): Promise<PodChange> {
    const job = s.job;
    const active = s.active.length;
    if (count <= 0) return { active };
    this.o.expectations.expectCreations(s.key, count);
    s.log.info('creating pods', { count, active });
    const body = jobPodEncoder(jobPodTemplate(job), job);
    const ref = objectReference(job, JOBS);
    let next = 0;
    const { successes, error } = await slowStartBatch(
      count,
      1,
      async () => {
        const ix = indexes?.[next++];
        const encoded = body(ix, ix === undefined ? undefined : s.delayedDeletion.get(ix));
        try {
          // Only the name is read back (for the event): the informer's add event is what counts the pod.
          const created = await this.write(() => this.o.pods.createEncoded(job.metadata.namespace, encoded));
          void this.o.recorder.event(ref, 'Normal', 'SuccessfulCreate', `Created pod: ${created.name}`);
        } catch (err) {
          // The namespace is going away, and this Job with it: nothing to retry.
          if (isNamespaceTerminating(err)) return this.o.expectations.creationObserved(s.key);
          void this.o.recorder.event(ref, 'Warning', 'FailedCreate', `Error creating: ${err instanceof Error ? err.message : String(err)}`);
          throw err;
        }
      },
      WRITE_CONCURRENCY,
    );
    // Creations that failed or never ran will not be observed: stop expecting them.
    for (let i = successes; i < count; i++) this.o.expectations.creationObserved(s.key);
    return error ? { active: active + successes, error } : { active: active + successes };
  }

  /** Deletes pods the Job no longer wants (too many, suspended): finalizer first, so each is counted as it goes. */
  private async deleteForJob(s: JobSync, victims: Pod[]): Promise<PodChange> {
    const active = s.active.length;
    if (!victims.length) return { active };
    this.o.expectations.expectDeletions(s.key, victims.map((p) => keyOf(p)));
    s.log.info('deleting pods', { count: victims.length, active });
    const results = await Promise.allSettled(
      victims.map((pod) =>
        this.write(async () => {
          try {
            if (hasTrackingFinalizer(pod)) await this.removeFinalizer(pod);
            await this.deletePod(s.job, pod);
          } catch (err) {
            // No deletion will be observed for this pod.
            this.o.expectations.deletionObserved(s.key, keyOf(pod));
            if (!isNotFound(err)) throw err;
          }
        }),
      ),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const removed = victims.length - failed.length;
    s.terminating += removed;
    s.ready -= victims.filter((p, i) => results[i]!.status === 'fulfilled' && isPodReady(p)).length;
    return failed.length ? { active: active - removed, error: failed[0]!.reason } : { active: active - removed };
  }

  /** Deletes a finishing Job's active pods, keeping their finalizers: they are counted as failed when they go. */
  async deleteActivePods(job: Job, pods: Pod[]): Promise<{ deleted: number; deletedReady: number; error?: unknown }> {
    const results = await Promise.allSettled(
      pods.map((pod) =>
        this.write(async () => {
          try {
            await this.deletePod(job, pod);
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }),
      ),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const deletedReady = pods.filter((p, i) => results[i]!.status === 'fulfilled' && isPodReady(p)).length;
    return { deleted: pods.length - failed.length, deletedReady, ...(failed.length ? { error: failed[0]!.reason } : {}) };
  }

  private async deletePod(job: Job, pod: Pod): Promise<void> {
    try {
      await this.o.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
    } catch (err) {
      if (!isNotFound(err)) void this.o.recorder.event(objectReference(job, JOBS), 'Warning', 'FailedDelete', `Error deleting: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    void this.o.recorder.event(objectReference(job, JOBS), 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name ?? ''}`);
  }

  /** Removes the tracking finalizer and nothing else. */
  removeFinalizer(pod: Pod): Promise<Pod> {
    return this.o.pods.patch(pod.metadata.namespace, pod.metadata.name ?? '', REMOVE_FINALIZER_PATCH, 'strategic');
  }

  /** Adds the tracking finalizer to an adopted pod (finalizers merge as a set). */
  addFinalizer(pod: Pod): Promise<Pod> {
    return this.o.pods.patch(pod.metadata.namespace, pod.metadata.name ?? '', { metadata: { finalizers: [JOB_TRACKING_FINALIZER] } }, 'strategic');
  }
}

/**
 * Active pods to remove: for Indexed Jobs, those of repeated or invalid indexes first; then, to reach rmAtLeast, the
 * pods least far along (unscheduled, pending, not ready) first, as kube's controller.ActivePods order.
 */
export function podsForRemoval(job: Job, active: Pod[], rmAtLeast: number): Pod[] {
  let remove: Pod[] = [];
  let left = active;
  if (isIndexed(job)) ({ remove, keep: left } = duplicatedIndexPods(job, active));
  if (remove.length < rmAtLeast) {
    const sorted = [...left].sort((a, b) => compareForDeletion(a, b, 0, 0));
    remove = [...remove, ...sorted.slice(0, rmAtLeast - remove.length)];
  }
  return remove;
}

/** The template a Job's pods are made from: the Job's, with the tracking finalizer, and JOB_COMPLETION_INDEX if Indexed. */
export function jobPodTemplate(job: Job): PodTemplateSpec {
  const template = structuredClone(job.spec.template);
  if (isIndexed(job)) addCompletionIndexEnv(template);
  const tm = (template.metadata ??= {});
  if (!tm.finalizers?.includes(JOB_TRACKING_FINALIZER)) tm.finalizers = [...(tm.finalizers ?? []), JOB_TRACKING_FINALIZER];
  return template;
}

/**
 * A pod of the Job from jobPodTemplate; for index `ix`, the index as annotation and label, hostname NAME-INDEX, and the
 * index's failure counts from `replaced` (the failed pod it replaces).
 */
export function newJobPod(template: PodTemplateSpec, job: Job, ix: number | undefined, replaced?: Pod): Pod {
  const pod = podFromTemplate(template, job, JOBS);
  if (ix === undefined) return pod;
  indexPodMeta(pod.metadata, job, ix, replaced);
  pod.spec.hostname = indexedHostname(job, ix);
  return pod;
}

const indexedHostname = (job: Job, ix: number): string => `${job.metadata.name ?? ''}-${ix}`;

/** The index's annotation, label, generateName and failure counts on a new pod's metadata. */
function indexPodMeta(m: Pod['metadata'], job: Job, ix: number, replaced: Pod | undefined): void {
  (m.annotations ??= {})[COMPLETION_INDEX_ANNOTATION] = String(ix);
  (m.labels ??= {})[COMPLETION_INDEX_ANNOTATION] = String(ix);
  m.generateName = indexedGenerateName(job.metadata.name ?? '', ix);
  if (hasBackoffLimitPerIndex(job)) {
    const counts = replacementFailureCounts(job, replaced);
    m.annotations[INDEX_FAILURE_COUNT_ANNOTATION] = String(counts.failed);
    if (counts.ignored > 0) m.annotations[INDEX_IGNORED_FAILURE_COUNT_ANNOTATION] = String(counts.ignored);
  }
}

/** Stands for the spec in a pod encoded without it (a NUL never survives validation as part of a name or label). */
const SPEC_MARK = '\u0000spec';
const SPEC_MARK_JSON = JSON.stringify(SPEC_MARK);

/**
 * The JSON bodies of a sync's new pods, each what JSON.stringify(newJobPod(template, job, ix, replaced)) decodes to:
 * the template's spec is encoded once, not cloned and encoded per pod; only the metadata (and an Indexed pod's
 * hostname) is per pod.
 */
export function jobPodEncoder(template: PodTemplateSpec, job: Job): (ix: number | undefined, replaced?: Pod) => string {
  const { hostname: _h, ...rest } = template.spec;
  const indexedSpec = JSON.stringify(rest);
  const specOpen = indexedSpec.slice(0, -1) + (indexedSpec === '{}' ? '' : ',');
  const plainSpec = JSON.stringify(template.spec);
  const shell: PodTemplateSpec = { ...template, spec: SPEC_MARK as unknown as PodTemplateSpec['spec'] };
  return (ix, replaced) => {
    const pod = podFromTemplate(shell, job, JOBS);
    let spec = plainSpec;
    if (ix !== undefined) {
      indexPodMeta(pod.metadata, job, ix, replaced);
      spec = `${specOpen}"hostname":${JSON.stringify(indexedHostname(job, ix))}}`;
    }
    const json = JSON.stringify(pod);
    // The spec is the pod's last member, after any label or annotation that might hold the mark's text.
    const at = json.lastIndexOf(SPEC_MARK_JSON);
    return json.slice(0, at) + spec + json.slice(at + SPEC_MARK_JSON.length);
  };
}

/** JOB_COMPLETION_INDEX in every container, from the index label (kube's PodIndexLabel). */
function addCompletionIndexEnv(template: PodTemplateSpec): void {
  for (const c of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
    if (c.env?.some((e) => e.name === COMPLETION_INDEX_ENV)) continue;
    c.env = [...(c.env ?? []), { name: COMPLETION_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${COMPLETION_INDEX_ANNOTATION}']` } } }];
  }
}
