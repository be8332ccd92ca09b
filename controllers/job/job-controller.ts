// The Job controller (pkg/controller/job/job_controller.go): runs a Job's pods to completion, NonIndexed or Indexed,
// with backoff limits (global and per index), pod failure and success policies, deadlines, suspension, and pod tracking
// through the batch.kubernetes.io/job-tracking finalizer so that no finished pod is lost before it is counted.
import { isNotFound } from '../../api/errors.js';
import { deepEqual } from '../../api/field.js';
import { formatIndexes, hasIndex, totalIndexes, withIndexes, type Interval } from '../../api/indexes.js';
import { matchesLabelSelector } from '../../api/selectors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import type { Logger } from '../../lib/logger.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { UIDTrackingExpectations } from '../framework/expectations.js';
import { claimObjects, controllerRefOf, indexByController, orphansIn, ownedBy } from '../framework/owners.js';
import { isPodActive, isPodReady, rfc3339 } from '../framework/pods.js';
import { PODS, type OwnerReference, type Pod } from '../framework/types.js';
import { nextBackoffRecord, type BackoffRecord, type BackoffTimes } from './backoff.js';
import { JobPods } from './job-pods.js';
import type { JobSync } from './job-sync.js';
import { duplicatedIndexPods, failedIndexes, podsWithDelayedDeletion, succeededIndexes, validIndex } from './indexed.js';
import { matchPodFailurePolicy, matchSuccessPolicy } from './policies.js';
import { JOBS, type Job, type JobCondition } from './types.js';
import {
  completionIndex, completionsOf, ensureCondition, findCondition, hasBackoffLimitPerIndex, hasTrackingFinalizer, isIndexed, isJobFinished,
  isNewerVersion, isPodFailed, isPodTerminating, isSuspended, JOB_CONTROLLER_NAME, newCondition, UNKNOWN_INDEX,
} from './util.js';

/** Pods tracked per sync before the status is written, keeping uncountedTerminatedPods under ~20 KB (kube's MaxUncountedPods). */
export const MAX_UNCOUNTED_PODS = 500;
const ORPHAN_PREFIX = 'pod:';

/**
 * Workers (--concurrent-job-syncs; kube's default is 5). A new Job's first sync is two sequential writes (its first
 * pods, then status.active), and the 1,000 Jobs of CronJobs due at once must be started within 5 s (issue 18); one
 * Job's sync is not sped up by more workers, and all syncs share the pod write limiter (WRITE_CONCURRENCY).
 */
export const DEFAULT_JOB_WORKERS = 20;

export interface JobControllerOptions {
  workers?: number;
  /** Pod events of one Job within this are synced once (kube's syncJobBatchPeriod, 1 s). */
  syncBatchPeriodMs?: number;
  /** Delay before replacing failed pods: base doubled per consecutive failure, capped (kube: 10 s, 10 min). */
  podFailureBackoff?: BackoffTimes;
  maxUncountedPods?: number;
}

/** What one sync works out about a Job; `job` is a private copy whose status is rewritten. */
export class JobController extends Controller {
  readonly expectations: UIDTrackingExpectations;
  /** Pod uids whose finalizer removal was asked for and not yet seen, per Job key. */
  readonly finalizerExpectations = new Map<string, Set<string>>();
  private readonly backoffRecords = new Map<string, BackoffRecord>();
  /**
   * The Job as this controller's last status write returned it, per key, until the cache shows that write: a sync
   * that starts before then (pod events come faster than the Job's own) works from it, instead of from a copy whose
   * resourceVersion is sure to conflict and whose counters are behind.
   */
  private readonly written = new Map<string, Job>();
  readonly jobInformer: Informer<Job>;
  readonly podInformer: Informer<Pod>;
  private readonly jobs: ResourceClient<Job>;
  private readonly pods: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  private readonly batchMs: number;
  private readonly maxUncounted: number;
  private readonly manager: JobPods;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: JobControllerOptions = {}) {
    super({ name: 'job-controller', clock: ctx.clock, workers: opts.workers ?? DEFAULT_JOB_WORKERS });
    this.batchMs = opts.syncBatchPeriodMs ?? 1000;
    this.maxUncounted = opts.maxUncountedPods ?? MAX_UNCOUNTED_PODS;
    this.expectations = new UIDTrackingExpectations(ctx.clock);
    this.jobInformer = ctx.informers.for<Job>(JOBS);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    this.informers = [this.jobInformer, this.podInformer];
    this.jobs = ctx.rest.resource<Job>(JOBS);
    this.pods = ctx.rest.resource<Pod>(PODS);
    this.recorder = ctx.recorder(this.name);
    this.manager = new JobPods({
      pods: this.pods,
      recorder: this.recorder,
      expectations: this.expectations,
      clock: ctx.clock,
      backoff: opts.podFailureBackoff ?? { baseMs: 10_000, maxMs: 600_000 },
      requeueAfter: (key, ms) => this.queue.addAfter(key, Math.max(ms, this.batchMs)),
    });
    // The indexes the ReplicaSet, Deployment, DaemonSet and StatefulSet controllers read too: one of each on the shared
    // pod informer, not a second copy of each bucket for every pod.
    indexByController(this.podInformer);
    this.jobInformer.addEventHandler({
      onAdd: (job) => this.enqueue(job),
      onUpdate: (old, cur) => {
        const w = this.written.get(keyOf(cur));
        if (w && (w.metadata.uid !== cur.metadata.uid || !isNewerVersion(w, cur))) this.written.delete(keyOf(cur));
        this.updateJob(old, cur);
      },
      onDelete: (job) => {
        this.written.delete(keyOf(job));
        this.enqueue(job);
        this.cleanupPodFinalizers(job);
      },
    });
    this.podInformer.addEventHandler({
      onAdd: (pod) => this.addPod(pod),
      onUpdate: (old, pod) => this.updatePod(old, pod),
      onDelete: (pod) => this.deletePod(pod, true),
    });
  }

  private enqueueBatched(job: Job): void {
    this.enqueueAfter(job, this.batchMs);
  }

  private updateJob(old: Job, cur: Job): void {
    // A spec change is acted on at once; status writes (mostly from pod events) are batched.
    if (cur.metadata.generation === old.metadata.generation) this.enqueueBatched(cur);
    else this.enqueue(cur);
    if (isJobFinished(cur)) this.cleanupPodFinalizers(cur);
    const ads = cur.spec.activeDeadlineSeconds;
    const start = cur.status?.startTime ? Date.parse(cur.status.startTime) : NaN;
    if (ads !== undefined && !Number.isNaN(start) && ads !== old.spec.activeDeadlineSeconds) {
      this.enqueueAfter(cur, start + ads * 1000 - this.clock.now());
    }
  }

  /** The Job a controller reference points at, if it is in the cache with that uid. */
  private resolveControllerRef(namespace: string | undefined, ref: OwnerReference | undefined): Job | undefined {
    if (!ref || ref.kind !== 'Job' || ref.apiVersion.split('/')[0] !== 'batch') return undefined;
    const job = this.jobInformer.indexer.get(`${namespace}/${ref.name}`);
    return job?.metadata.uid === ref.uid ? job : undefined;
  }

  private jobsForPod(pod: Pod): Job[] {
    return this.jobInformer.indexer.byIndex('namespace', pod.metadata.namespace ?? '').filter((j) => matchesLabelSelector(j.spec.selector, pod.metadata.labels));
  }

  private enqueueOrphan(pod: Pod): void {
    this.queue.add(ORPHAN_PREFIX + keyOf(pod));
  }

  private finalizerRemovalObserved(jobKey: string, uid: string | undefined): void {
    const set = this.finalizerExpectations.get(jobKey);
    if (set && uid) set.delete(uid);
  }

  private addPod(pod: Pod): void {
    if (pod.metadata.deletionTimestamp) return this.deletePod(pod, false);
    const ref = controllerRefOf(pod);
    if (ref) {
      const job = this.resolveControllerRef(pod.metadata.namespace, ref);
      if (!job) return;
      this.expectations.creationObserved(keyOf(job));
      this.enqueueBatched(job);
      return;
    }
    if (hasTrackingFinalizer(pod)) this.enqueueOrphan(pod);
    for (const job of this.jobsForPod(pod)) this.enqueueBatched(job);
  }

  private updatePod(old: Pod, cur: Pod): void {
    if (cur.metadata.deletionTimestamp) return this.deletePod(cur, false);
    const finalizerGone = !hasTrackingFinalizer(cur);
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      const job = this.resolveControllerRef(old.metadata.namespace, oldRef);
      if (job) {
        if (finalizerGone) this.finalizerRemovalObserved(keyOf(job), cur.metadata.uid);
        this.enqueueBatched(job);
      }
    }
    if (curRef) {
      const job = this.resolveControllerRef(cur.metadata.namespace, curRef);
      if (!job) return;
      if (finalizerGone) this.finalizerRemovalObserved(keyOf(job), cur.metadata.uid);
      this.enqueueBatched(job);
      return;
    }
    if (hasTrackingFinalizer(cur)) this.enqueueOrphan(cur);
    const labelsChanged = !deepEqual(cur.metadata.labels ?? {}, old.metadata.labels ?? {});
    if (labelsChanged || refChanged) for (const job of this.jobsForPod(cur)) this.enqueueBatched(job);
  }

  /** A pod being deleted (final: gone from the store). */
  private deletePod(pod: Pod, final: boolean): void {
    const ref = controllerRefOf(pod);
    const hasFinalizer = hasTrackingFinalizer(pod);
    const job = ref ? this.resolveControllerRef(pod.metadata.namespace, ref) : undefined;
    if (!job || isJobFinished(job)) {
      // Nobody will count this pod any more: its finalizer only keeps it from going away.
      if (hasFinalizer) this.enqueueOrphan(pod);
      return;
    }
    const key = keyOf(job);
    this.expectations.deletionObserved(key, keyOf(pod));
    if (final || !hasFinalizer) this.finalizerRemovalObserved(key, pod.metadata.uid);
    this.enqueueBatched(job);
  }

  /** Queues the finalizer removal of a finished or deleted Job's pods (a backstop: syncs remove them as they count). */
  private cleanupPodFinalizers(job: Job): void {
    for (const pod of ownedBy(this.podInformer, job.metadata.uid ?? '')) if (hasTrackingFinalizer(pod)) this.enqueueOrphan(pod);
  }

  protected async sync(key: string, ctx: SyncContext): Promise<SyncResult | void> {
    if (key.startsWith(ORPHAN_PREFIX)) return this.syncOrphanPod(key.slice(ORPHAN_PREFIX.length));
    const cached = this.jobInformer.indexer.get(key);
    const w = this.written.get(key);
    const shared = cached && w && w.metadata.uid === cached.metadata.uid && isNewerVersion(w, cached) ? w : cached;
    if (!shared) {
      this.written.delete(key);
      this.expectations.delete(key);
      this.finalizerExpectations.delete(key);
      this.backoffRecords.delete(key);
      return;
    }
    const managedBy = shared.spec.managedBy;
    if (managedBy !== undefined && managedBy !== JOB_CONTROLLER_NAME) return; // another controller reconciles it
    if (isJobFinished(shared)) {
      this.backoffRecords.delete(key);
      return;
    }
    const mode = shared.spec.completionMode;
    if (mode !== undefined && mode !== 'NonIndexed' && mode !== 'Indexed') {
      void this.recorder.event(objectReference(shared, JOBS), 'Warning', 'UnknownCompletionMode', 'Skipped Job sync because completion mode is unknown');
      return;
    }
    await this.syncJob(key, structuredClone(shared), ctx.log);
  }

  /** Removes the tracking finalizer of a pod no unfinished Job of ours owns. */
  private async syncOrphanPod(podKey: string): Promise<void> {
    const pod = this.podInformer.indexer.get(podKey);
    if (!pod || !hasTrackingFinalizer(pod)) return;
    const ref = controllerRefOf(pod);
    if (ref) {
      if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return; // another owner's pod: not ours to touch
      const job = this.resolveControllerRef(pod.metadata.namespace, ref);
      if (job && job.spec.managedBy !== undefined && job.spec.managedBy !== JOB_CONTROLLER_NAME) return;
      if (job && !isJobFinished(job)) return; // adopted: its Job counts it
    }
    try {
      await this.manager.removeFinalizer(pod);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** The Job's pods: those it controls (by uid index) and matching orphans, adopted with the tracking finalizer. */
  private async podsForJob(job: Job, log: Logger): Promise<Pod[]> {
    const owned = ownedBy(this.podInformer, job.metadata.uid ?? '');
    const orphans = orphansIn(this.podInformer, job.metadata.namespace ?? '');
    const matches = (p: Pod): boolean => matchesLabelSelector(job.spec.selector, p.metadata.labels);
    // The common case costs one pass: nothing to adopt, nothing to release.
    if (!orphans.some(matches) && owned.every(matches)) return owned;
    const ownedUids = new Set(owned.map((p) => p.metadata.uid));
    const claimed = await claimObjects({
      owner: job,
      gvk: JOBS,
      selector: job.spec.selector ?? {},
      candidates: [...owned, ...orphans],
      client: this.pods,
      canAdopt: async () => {
        const fresh = await this.jobs.get(job.metadata.namespace, job.metadata.name ?? '');
        if (fresh.metadata.uid !== job.metadata.uid) throw new Error(`original Job ${keyOf(job)} is gone: got uid ${fresh.metadata.uid}, wanted ${job.metadata.uid}`);
        if (fresh.metadata.deletionTimestamp) throw new Error(`Job ${keyOf(job)} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
      },
      log,
    });
    // Adopted pods get the tracking finalizer, so that they are counted before they can go away.
    return Promise.all(claimed.map((p) => (ownedUids.has(p.metadata.uid) || hasTrackingFinalizer(p) ? p : this.manager.addFinalizer(p))));
  }

  private async syncJob(key: string, job: Job, log: Logger): Promise<void> {
    const status = (job.status ??= {});
    status.uncountedTerminatedPods ??= {};
    // Expectations first: a pod created after this check is seen by the next sync, never half-counted by this one.
    const satisfied = this.expectations.satisfied(key);
    const pods = await this.podsForJob(job, log);
    const active = pods.filter(isPodActive);
    const s: JobSync = {
      key,
      job,
      pods,
      active,
      ready: active.filter(isPodReady).length,
      terminating: pods.filter(isPodTerminating).length,
      succeeded: 0,
      failed: 0,
      uncounted: { succeeded: new Set(status.uncountedTerminatedPods.succeeded ?? []), failed: new Set(status.uncountedTerminatedPods.failed ?? []) },
      expectedRm: new Set(this.finalizerExpectations.get(key) ?? []),
      prevSucceeded: [],
      succeededIx: [],
      delayedDeletion: new Map(),
      backoff: { failuresAfterLastSuccess: 0 },
      log,
    };
    const { newSucceeded, newFailed } = this.newFinishedPods(s);
    const counted = newFailed.filter((p) => matchPodFailurePolicy(job.spec.podFailurePolicy, p).countFailed).length;
    s.succeeded = (status.succeeded ?? 0) + newSucceeded.length + s.uncounted.succeeded.size;
    s.failed = (status.failed ?? 0) + counted + s.uncounted.failed.size;
    if (!status.startTime && !isSuspended(job)) status.startTime = rfc3339(this.clock.now());
    s.backoff = nextBackoffRecord(this.backoffRecords.get(key), newSucceeded, newFailed);
    this.decideFailure(s);
    if (isIndexed(job)) this.decideIndexed(s);
    let manageErr: unknown;
    let conditionsChanged = false;
    let activeCount = s.active.length;
    if (s.finished) {
      const { deleted, deletedReady, error } = await this.manager.deleteActivePods(job, s.active);
      if (deleted !== s.active.length || !satisfied) s.finished = undefined; // wait for every pod to be seen gone
      activeCount -= deleted;
      s.terminating += deleted;
      s.ready -= deletedReady;
      manageErr = error;
    } else {
      const managed = satisfied && !job.metadata.deletionTimestamp;
      if (managed) {
        const r = await this.manager.manageJob(s);
        activeCount = r.active;
        manageErr = r.error;
      }
      conditionsChanged = this.decideCompletion(s, activeCount, managed);
    }
    const needsFlush = conditionsChanged || activeCount !== (status.active ?? 0) || s.ready !== status.ready || s.terminating !== status.terminating;
    status.active = activeCount;
    status.ready = s.ready;
    status.terminating = s.terminating;
    await this.trackStatus(s, needsFlush);
    if (manageErr) throw manageErr;
  }

  /** Succeeded and failed pods this Job has not counted yet (they still hold the finalizer, not in uncounted). */
  private newFinishedPods(s: JobSync): { newSucceeded: Pod[]; newFailed: Pod[] } {
    const newSucceeded: Pod[] = [];
    const newFailed: Pod[] = [];
    for (const p of s.pods) {
      const uid = p.metadata.uid ?? '';
      if (!hasTrackingFinalizer(p) || s.expectedRm.has(uid)) continue;
      if (isIndexed(s.job) && validIndex(s.job, p) === UNKNOWN_INDEX) continue;
      if (p.status?.phase === 'Succeeded' && !s.uncounted.succeeded.has(uid)) newSucceeded.push(p);
      else if (isPodFailed(p, s.job) && !s.uncounted.failed.has(uid)) newFailed.push(p);
    }
    return { newSucceeded, newFailed };
  }

  /** The failure conditions: a FailureTarget kept from before, a FailJob rule, the backoff limit, the deadline. */
  private decideFailure(s: JobSync): void {
    const job = s.job;
    const now = this.clock.now();
    const met = findCondition(job, 'SuccessCriteriaMet');
    if (met?.status === 'True') {
      s.finished = met;
      return;
    }
    const target = findCondition(job, 'FailureTarget');
    if (target?.status === 'True') {
      s.finished = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', now);
      return;
    }
    if (job.spec.podFailurePolicy) {
      for (const p of s.pods) {
        if (!isPodFailed(p, job)) continue;
        const msg = matchPodFailurePolicy(job.spec.podFailurePolicy, p).failJobMessage;
        if (msg !== undefined) {
          s.finished = newCondition('FailureTarget', 'True', 'PodFailurePolicy', msg, now);
          return;
        }
      }
    }
    if (s.failed > (job.spec.backoffLimit ?? 6) || pastBackoffLimitOnFailure(job, s.pods)) {
      s.finished = newCondition('FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now);
    } else if (this.pastActiveDeadline(job)) {
      s.finished = newCondition('FailureTarget', 'True', 'DeadlineExceeded', 'Job was active longer than specified deadline', now);
    } else if (job.spec.activeDeadlineSeconds !== undefined && !isSuspended(job) && job.status?.startTime) {
      this.queue.addAfter(s.key, Date.parse(job.status.startTime) + job.spec.activeDeadlineSeconds * 1000 - now);
    }
  }

  private pastActiveDeadline(job: Job): boolean {
    const ads = job.spec.activeDeadlineSeconds;
    if (ads === undefined || !job.status?.startTime || isSuspended(job)) return false;
    return this.clock.now() - Date.parse(job.status.startTime) >= ads * 1000;
  }

  /** Indexed Jobs: succeeded and failed indexes, maxFailedIndexes, and the success policy. */
  private decideIndexed(s: JobSync): void {
    const job = s.job;
    const now = this.clock.now();
    const { prev, now: succeeded } = succeededIndexes(job, s.pods);
    s.prevSucceeded = prev;
    s.succeededIx = succeeded;
    s.succeeded = totalIndexes(succeeded);
    if (hasBackoffLimitPerIndex(job)) {
      s.failedIx = failedIndexes(job, s.pods);
      const failedCount = totalIndexes(s.failedIx);
      if (!s.finished) {
        if (job.spec.maxFailedIndexes !== undefined && failedCount > job.spec.maxFailedIndexes) {
          s.finished = newCondition('FailureTarget', 'True', 'MaxFailedIndexesExceeded', 'Job has exceeded the specified maximal number of failed indexes', now);
        } else if (failedCount > 0 && failedCount + s.succeeded >= completionsOf(job)) {
          s.finished = newCondition('FailureTarget', 'True', 'FailedIndexes', 'Job has failed indexes', now);
        }
      }
      s.delayedDeletion = podsWithDelayedDeletion(job, s.pods, s.active, s.succeededIx, s.failedIx, s.expectedRm);
    }
    if (!s.finished) {
      const msg = matchSuccessPolicy(job.spec.successPolicy, completionsOf(job), s.succeededIx);
      if (msg !== undefined) s.finished = newCondition('SuccessCriteriaMet', 'True', 'SuccessPolicy', msg, now);
    }
  }

  /** Complete when enough pods succeeded and none run; otherwise the Suspended condition. Returns whether it changed. */
  private decideCompletion(s: JobSync, active: number, managed: boolean): boolean {
    const job = s.job;
    const now = this.clock.now();
    const done = active === 0 && (job.spec.completions === undefined ? s.succeeded > 0 : s.succeeded >= job.spec.completions);
    if (done) {
      s.finished = newCondition('SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      return false;
    }
    if (!managed) return false;
    if (isSuspended(job)) {
      if (!ensureCondition(job, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now)) return false;
      void this.recorder.event(objectReference(job, JOBS), 'Normal', 'Suspended', 'Job suspended');
      return true;
    }
    if (!ensureCondition(job, 'Suspended', 'False', 'JobResumed', 'Job resumed', now)) return false;
    void this.recorder.event(objectReference(job, JOBS), 'Normal', 'Resumed', 'Job resumed');
    // activeDeadlineSeconds counts continuous activity: a resumed Job starts its clock again.
    job.status!.startTime = rfc3339(now);
    return true;
  }

  /**
   * Counts finished pods through status.uncountedTerminatedPods: their uids are written first, then their finalizers
   * removed, then the counters moved; a crash between the steps neither loses nor double-counts a pod. Then the
   * terminal condition, once nothing is uncounted or terminating.
   */
  private async trackStatus(s: JobSync, flush: boolean): Promise<void> {
    let needsFlush = flush;
    const job = s.job;
    const status = job.status!;
    const indexed = isIndexed(job);
    const pods = indexed ? byCompletionIndex(s.pods) : s.pods;
    const withFinalizer = new Set<string>();
    for (const p of pods) if (hasTrackingFinalizer(p) && !s.expectedRm.has(p.metadata.uid ?? '')) withFinalizer.add(p.metadata.uid ?? '');
    if (moveUncounted(status, withFinalizer)) needsFlush = true;
    const uncounted = status.uncountedTerminatedPods!;
    const toRemove: Pod[] = [];
    const newSucceededIx: number[] = [];
    let reachedMax = false;
    for (const pod of pods) {
      const uid = pod.metadata.uid ?? '';
      if (!hasTrackingFinalizer(pod) || s.expectedRm.has(uid)) continue;
      const failed = isPodFailed(pod, job);
      if (!this.canRemoveFinalizer(s, pod, failed)) continue;
      toRemove.push(pod);
      if (pod.status?.phase === 'Succeeded' && !s.uncounted.failed.has(uid)) {
        if (indexed) {
          const ix = validIndex(job, pod);
          if (ix !== UNKNOWN_INDEX && !hasIndex(s.prevSucceeded, ix)) {
            newSucceededIx.push(ix);
            needsFlush = true;
          }
        } else if (!s.uncounted.succeeded.has(uid)) {
          needsFlush = true;
          uncounted.succeeded = [...(uncounted.succeeded ?? []), uid];
        }
      } else if (failed || (s.finished && s.finished.type !== 'SuccessCriteriaMet')) {
        // Once the Job is finished, every pod not succeeded counts as failed.
        const countable = !s.uncounted.failed.has(uid) && (!indexed || validIndex(job, pod) !== UNKNOWN_INDEX);
        if (countable && matchPodFailurePolicy(job.spec.podFailurePolicy, pod).countFailed) {
          needsFlush = true;
          uncounted.failed = [...(uncounted.failed ?? []), uid];
        }
      }
      if (newSucceededIx.length + (uncounted.succeeded?.length ?? 0) + (uncounted.failed?.length ?? 0) >= this.maxUncounted) {
        reachedMax = true; // the rest waits for the next sync, which this status write triggers
        break;
      }
    }
    if (indexed && this.recordIndexes(s, newSucceededIx)) needsFlush = true;
    if (this.stageTerminalCondition(s)) needsFlush = true;
    needsFlush = await this.flushAndRemoveFinalizers(s, toRemove, withFinalizer, needsFlush);
    const finished = !reachedMax && this.enactFinished(s);
    if (!needsFlush && !finished) return;
    s.job = await this.updateStatus(s.job);
    if (finished) this.recordFinished(s.job, s.finished!);
  }

  /** status.completedIndexes, succeeded and failedIndexes from this sync; returns whether they changed. */
  private recordIndexes(s: JobSync, newSucceeded: number[]): boolean {
    const status = s.job.status!;
    let changed = false;
    s.succeededIx = withIndexes(s.succeededIx, newSucceeded);
    const text = formatIndexes(s.succeededIx);
    if (text !== (status.completedIndexes ?? '')) changed = true;
    status.succeeded = totalIndexes(s.succeededIx);
    status.completedIndexes = text;
    const failedText = s.failedIx ? formatIndexes(s.failedIx) : undefined;
    if (failedText !== status.failedIndexes) {
      if (failedText === undefined) delete status.failedIndexes;
      else status.failedIndexes = failedText;
      changed = true;
    }
    return changed;
  }

  /** Writes the interim FailureTarget or SuccessCriteriaMet and turns s.finished into the final Failed or Complete. */
  private stageTerminalCondition(s: JobSync): boolean {
    const f = s.finished;
    if (!f) return false;
    const status = s.job.status!;
    const now = this.clock.now();
    if (f.type === 'FailureTarget') {
      status.conditions = [...(status.conditions ?? []), f];
      s.finished = newCondition('Failed', 'True', f.reason ?? '', f.message ?? '', now);
      return true;
    }
    if (f.type !== 'SuccessCriteriaMet') return false;
    const had = findCondition(s.job, 'SuccessCriteriaMet')?.status === 'True';
    if (!had) status.conditions = [...(status.conditions ?? []), f];
    s.finished = newCondition('Complete', 'True', f.reason ?? '', f.message ?? '', now);
    return !had;
  }

  /**
   * A finished pod's finalizer may go once it is recorded: always when the Job is deleted or finishing, or the pod
   * succeeded; a failed pod of an index waiting for its replacement keeps it (the replacement inherits its count).
   */
  private canRemoveFinalizer(s: JobSync, pod: Pod, failed: boolean): boolean {
    if (s.job.metadata.deletionTimestamp || s.finished || pod.status?.phase === 'Succeeded') return true;
    if (!failed) return false;
    if (hasBackoffLimitPerIndex(s.job)) {
      const waiting = s.delayedDeletion.get(completionIndex(pod));
      if (waiting && waiting.metadata.uid === pod.metadata.uid) return false;
    }
    return true;
  }

  private async flushAndRemoveFinalizers(s: JobSync, toRemove: Pod[], withFinalizer: Set<string>, flush: boolean): Promise<boolean> {
    let needsFlush = flush;
    if (needsFlush) {
      s.job = await this.updateStatus(s.job);
      this.backoffRecords.set(s.key, s.backoff);
      needsFlush = false;
    }
    let error: unknown;
    if (toRemove.length) {
      const uids = toRemove.map((p) => p.metadata.uid ?? '');
      let expected = this.finalizerExpectations.get(s.key);
      if (!expected) this.finalizerExpectations.set(s.key, (expected = new Set()));
      for (const u of uids) expected.add(u);
      const results = await Promise.allSettled(toRemove.map((p) => this.manager.write(() => this.manager.removeFinalizer(p))));
      results.forEach((r, i) => {
        const uid = uids[i]!;
        if (r.status === 'fulfilled') return void withFinalizer.delete(uid);
        // No update will come for a failed removal: stop expecting it.
        expected!.delete(uid);
        if (isNotFound(r.reason)) withFinalizer.delete(uid);
        else error ??= r.reason;
      });
    }
    if (moveUncounted(s.job.status!, withFinalizer)) needsFlush = true;
    if (error) {
      if (needsFlush) s.job = await this.updateStatus(s.job);
      throw error;
    }
    return needsFlush;
  }

  /** Sets Complete or Failed once no pod is left uncounted or terminating. */
  private enactFinished(s: JobSync): boolean {
    const f = s.finished;
    if (!f) return false;
    const status = s.job.status!;
    const uncounted = (status.uncountedTerminatedPods?.succeeded?.length ?? 0) + (status.uncountedTerminatedPods?.failed?.length ?? 0);
    if (uncounted > 0 || s.terminating > 0) {
      s.log.debug('delaying the terminal condition', { condition: f.type, uncounted, terminating: s.terminating });
      return false;
    }
    ensureCondition(s.job, f.type as 'Complete' | 'Failed', 'True', f.reason ?? '', f.message ?? '', this.clock.now());
    if (f.type === 'Complete') status.completionTime = findCondition(s.job, 'Complete')?.lastTransitionTime ?? f.lastTransitionTime!;
    return true;
  }

  private recordFinished(job: Job, f: JobCondition): void {
    const j = objectReference(job, JOBS);
    if (f.type === 'Complete') {
      if (job.spec.completions !== undefined && (job.status?.succeeded ?? 0) > job.spec.completions) {
        void this.recorder.event(j, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
      }
      void this.recorder.event(j, 'Normal', 'Completed', 'Job completed');
    } else void this.recorder.event(j, 'Warning', f.reason ?? 'Failed', f.message ?? '');
  }

  private async updateStatus(job: Job): Promise<Job> {
    const updated = await this.jobs.updateStatus({ ...job, apiVersion: JOBS.apiVersion, kind: JOBS.kind });
    (updated.status ??= {}).uncountedTerminatedPods ??= {};
    // A copy: the sync goes on changing `updated`, and the next one must start from what was written.
    this.written.set(keyOf(updated), structuredClone(updated));
    return updated;
  }
}

/** Pods in completion index order (the index parsed once per pod, not once per comparison). */
function byCompletionIndex(pods: Pod[]): Pod[] {
  return pods
    .map((p) => ({ p, ix: completionIndex(p) }))
    .sort((a, b) => a.ix - b.ix)
    .map((x) => x.p);
}

/** Moves uids whose finalizer is gone from uncountedTerminatedPods into the counters; returns whether any moved. */
export function moveUncounted(status: NonNullable<Job['status']>, withFinalizer: ReadonlySet<string>): boolean {
  const u = (status.uncountedTerminatedPods ??= {});
  let changed = false;
  for (const kind of ['succeeded', 'failed'] as const) {
    const uids = u[kind] ?? [];
    const keep = uids.filter((uid) => withFinalizer.has(uid));
    if (keep.length === uids.length) continue;
    status[kind] = (status[kind] ?? 0) + (uids.length - keep.length);
    if (keep.length) u[kind] = keep;
    else delete u[kind];
    changed = true;
  }
  return changed;
}

/** restartPolicy OnFailure: the container restarts of running pods count against backoffLimit. */
export function pastBackoffLimitOnFailure(job: Job, pods: Pod[]): boolean {
  if (job.spec.template.spec.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    const phase = p.status?.phase;
    if (phase !== 'Running' && phase !== 'Pending') continue;
    for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) restarts += c.restartCount ?? 0;
  }
  const limit = job.spec.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}
