// The CronJob controller (pkg/controller/cronjob/cronjob_controllerv2.go): creates a Job per schedule time, named by that
// time so that no time runs twice; concurrencyPolicy Allow/Forbid/Replace, startingDeadlineSeconds, suspend, history
// limits, and status.active/lastScheduleTime/lastSuccessfulTime. Each CronJob is requeued for its next schedule time.
import { Histogram, type Registry } from 'prom-client';
import { isAlreadyExists, isNotFound } from '../../api/errors.js';
import { formatInZone, scheduleHasTimeZone, type Schedule } from '../../api/schedule.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, type Informer } from '../../client/informer.js';
import { objectReference } from '../../client/object-ref.js';
import type { ResourceClient } from '../../client/rest.js';
import type { Logger } from '../../lib/logger.js';
import { Controller, ensureIndex, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { controllerRefOf, newControllerRef } from '../framework/owners.js';
import { rfc3339 } from '../framework/pods.js';
import type { ObjectReference } from '../../api/index.js';
import type { OwnerReference } from '../framework/types.js';
import { isNamespaceTerminating } from '../framework/pod-control.js';
import { CRONJOBS, JOBS, type CronJob, type Job } from '../job/types.js';
import { finishedCondition, isNewerVersion } from '../job/util.js';
import { cachedSchedule, dueScheduleTime, jobNameFor, knownTimeZone, nextScheduleDelay, rfc1123z } from './schedule-times.js';

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
const BY_CONTROLLER_UID = 'controllerUid';
/** How long a Job this controller created is taken as existing before the cache shows it (kube's expectations TTL). */
const CREATED_UNSEEN_TTL_MS = 5 * 60_000;

/**
 * Workers (--concurrent-cron-job-syncs; kube's default is 5). A due minute is two sequential writes per CronJob (its
 * Job, then its status), and 1,000 CronJobs due at once must have started their Jobs within 5 s (issue 18): 5 workers
 * at ~13 ms per write here take 5.2 s for the writes alone.
 */
export const DEFAULT_CRONJOB_WORKERS = 20;

export interface CronJobControllerOptions {
  workers?: number;
}

/** kube's cronjob_controller_job_creation_skew_duration_seconds (STABLE): a Job's schedule time to its creation. */
export const CREATION_SKEW_METRIC = 'cronjob_controller_job_creation_skew_duration_seconds';

function creationSkewHistogram(registry: Registry | undefined): Histogram | undefined {
  if (!registry) return undefined;
  const known = registry.getSingleMetric(CREATION_SKEW_METRIC);
  if (known) return known as Histogram;
  return new Histogram({
    name: CREATION_SKEW_METRIC,
    help: 'Time between when a cronjob is scheduled to be run, and when the corresponding job is created',
    buckets: Array.from({ length: 10 }, (_v, i) => 2 ** i),
    registers: [registry],
  });
}

/** What a sync that created a Job leaves for the key's next sync to write into status (see `unwritten`). */
interface UnwrittenStatus {
  uid: string;
  job: ObjectReference;
  lastScheduleTime: string;
}

export class CronJobController extends Controller {
  /**
   * The status this controller last wrote, per CronJob key, until the cache shows it: a sync that starts before then
   * (the Job's add event comes first) works from it instead of reading the CronJob from the API server.
   */
  private readonly written = new Map<string, CronJob>();
  /**
   * Status changes of a sync whose only change was the Job it created, per CronJob key, not yet written: the write is
   * the key's next sync (queued behind the CronJobs already due), so that the Jobs of CronJobs due at once are all
   * created before their status writes take API server time. The next sync applies them to the newest copy.
   */
  private readonly unwritten = new Map<string, UnwrittenStatus>();
  private readonly creationSkew: Histogram | undefined;
  /** Jobs this controller created that the cache has not shown yet, by uid, with the time of creation. */
  private readonly createdUnseen = new Map<string, number>();
  private readonly jobInformer: Informer<Job>;
  private readonly cronJobInformer: Informer<CronJob>;
  private readonly jobs: ResourceClient<Job>;
  private readonly cronJobs: ResourceClient<CronJob>;
  private readonly recorder: EventRecorder;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: CronJobControllerOptions = {}) {
    super({ name: 'cronjob-controller', clock: ctx.clock, workers: opts.workers ?? DEFAULT_CRONJOB_WORKERS });
    this.jobInformer = ctx.informers.for<Job>(JOBS);
    this.cronJobInformer = ctx.informers.for<CronJob>(CRONJOBS);
    this.informers = [this.jobInformer, this.cronJobInformer];
    this.jobs = ctx.rest.resource<Job>(JOBS);
    this.cronJobs = ctx.rest.resource<CronJob>(CRONJOBS);
    this.recorder = ctx.recorder(this.name);
    this.creationSkew = creationSkewHistogram(ctx.metrics);
    ensureIndex(
      this.jobInformer,
      BY_CONTROLLER_UID,
      (j) => {
        const uid = controllerRefOf(j)?.uid;
        return uid ? [uid] : [];
      },
      (a, b) => a.metadata.ownerReferences === b.metadata.ownerReferences,
    );
    const onJob = (job: Job): void => {
      this.createdUnseen.delete(job.metadata.uid ?? '');
      const cj = this.resolveControllerRef(job.metadata.namespace, controllerRefOf(job));
      if (cj) this.enqueue(cj);
    };
    this.jobInformer.addEventHandler({
      onAdd: onJob,
      onUpdate: (old, cur) => {
        if (JSON.stringify(controllerRefOf(old)) !== JSON.stringify(controllerRefOf(cur))) onJob(old);
        onJob(cur);
      },
      onDelete: onJob,
    });
    this.cronJobInformer.addEventHandler({
      onAdd: (cj) => this.enqueue(cj),
      onUpdate: (old, cur) => {
        this.forgetWritten(cur);
        this.updateCronJob(old, cur);
      },
      onDelete: (cj) => {
        this.written.delete(keyOf(cj));
        this.enqueue(cj);
      },
    });
  }

  /** Remembers a created Job until the cache shows it; forgets, oldest first, those past the TTL (never seen: a relist missed them). */
  private expectCreated(job: Job): void {
    const now = this.clock.now();
    for (const [uid, at] of this.createdUnseen) {
      if (now - at < CREATED_UNSEEN_TTL_MS) break;
      this.createdUnseen.delete(uid);
    }
    if (!this.jobInformer.indexer.get(keyOf(job))) this.createdUnseen.set(job.metadata.uid ?? '', now);
  }

  /** Drops the remembered status write once the cache holds it or something newer. */
  private forgetWritten(cur: CronJob): void {
    const key = keyOf(cur);
    const w = this.written.get(key);
    if (w && (w.metadata.uid !== cur.metadata.uid || !isNewerVersion(w, cur))) this.written.delete(key);
  }

  /** The CronJob as the cache has it, or as this controller last wrote it when the cache has not caught up. */
  private latest(shared: CronJob): CronJob {
    const w = this.written.get(keyOf(shared));
    return w && w.metadata.uid === shared.metadata.uid && isNewerVersion(w, shared) ? w : shared;
  }

  private resolveControllerRef(namespace: string | undefined, ref: OwnerReference | undefined): CronJob | undefined {
    if (!ref || ref.kind !== 'CronJob') return undefined;
    const cj = this.cronJobInformer.indexer.get(`${namespace}/${ref.name}`);
    return cj?.metadata.uid === ref.uid ? cj : undefined;
  }

  /** A new schedule or zone moves the next sync to its next time; other changes are looked at now. */
  private updateCronJob(old: CronJob, cur: CronJob): void {
    if (old.spec.schedule === cur.spec.schedule && old.spec.timeZone === cur.spec.timeZone) return this.enqueue(cur);
    let sched: Schedule;
    try {
      sched = cachedSchedule(cur.spec.schedule, cur.spec.timeZone);
    } catch {
      void this.recorder.event(objectReference(cur, CRONJOBS), 'Warning', 'UnParseableCronJobSchedule', `unparseable schedule for cronjob: ${cur.spec.schedule}`);
      return;
    }
    const delay = nextScheduleDelay(cur, this.clock.now(), sched);
    if (delay !== undefined) this.enqueueAfter(cur, delay);
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const shared = this.cronJobInformer.indexer.get(key);
    if (!shared) {
      this.written.delete(key);
      this.unwritten.delete(key);
      return;
    }
    const cj = structuredClone(this.latest(shared));
    cj.status ??= {};
    const owed = this.applyUnwritten(key, cj);
    const children = this.jobInformer.indexer.byIndex(BY_CONTROLLER_UID, cj.metadata.uid ?? '');
    // As kube's sync: the due Job first, then the history clean-up, then one status write for both.
    let result: SyncOutcome;
    let syncErr: unknown;
    try {
      result = await this.syncCronJob(cj, children, log);
    } catch (err) {
      syncErr = err;
      result = { changed: (err as { changed?: boolean }).changed === true };
    }
    const cleaned = await this.cleanupFinishedJobs(cj, children, log);
    if (result.created && !result.changedBefore && !cleaned && !owed) {
      // Only the new Job to record: the write waits for this key's next sync (see `unwritten`).
      this.unwritten.set(key, { uid: cj.metadata.uid ?? '', job: result.created, lastScheduleTime: cj.status.lastScheduleTime ?? '' });
      this.queue.add(key);
    } else if (cleaned || result.changed || owed) {
      const updated = await this.cronJobs.updateStatus({ ...cj, apiVersion: CRONJOBS.apiVersion, kind: CRONJOBS.kind });
      this.written.set(key, updated);
      this.unwritten.delete(key);
    }
    if (syncErr) throw syncErr instanceof StatusChangedError ? syncErr.cause : syncErr;
    // The delay counts from now, not from the sync's start: the writes above must not push the next run late.
    return result.requeueAt !== undefined ? { requeueAfterMs: result.requeueAt - this.clock.now() } : undefined;
  }

  /** Puts a previous sync's unwritten status changes into cj (the newest copy); returns whether there were any. */
  private applyUnwritten(key: string, cj: CronJob): boolean {
    const u = this.unwritten.get(key);
    if (!u) return false;
    if (u.uid !== cj.metadata.uid) {
      this.unwritten.delete(key);
      return false;
    }
    const status = cj.status!;
    if (!(status.active ?? []).some((a) => a.uid === u.job.uid)) status.active = [...(status.active ?? []), u.job];
    if (!status.lastScheduleTime || Date.parse(status.lastScheduleTime) < Date.parse(u.lastScheduleTime)) status.lastScheduleTime = u.lastScheduleTime;
    return true;
  }

  /** Reconciles status.active with the Jobs, then starts the due Job, if any. Mutates cj's status. */
  private async syncCronJob(cj: CronJob, children: Job[], log: Logger): Promise<SyncOutcome> {
    const state = { changed: await this.reconcileActive(cj, children) };
    const fail = (err: unknown): never => {
      throw new StatusChangedError(err, state.changed);
    };
    const now = this.clock.now();
    if (cj.metadata.deletionTimestamp) return state;
    const c = objectReference(cj, CRONJOBS);
    const tz = cj.spec.timeZone;
    if (tz !== undefined && !knownTimeZone(tz)) {
      void this.recorder.event(c, 'Warning', 'UnknownTimeZone', `invalid timeZone: ${JSON.stringify(tz)}: unknown time zone ${tz}`);
      return state;
    }
    if (cj.spec.suspend === true) return state;
    if (scheduleHasTimeZone(cj.spec.schedule)) {
      void this.recorder.event(c, 'Warning', 'UnsupportedSchedule', `CRON_TZ or TZ used in schedule ${JSON.stringify(cj.spec.schedule)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details`);
    }
    let sched: Schedule;
    try {
      sched = cachedSchedule(cj.spec.schedule, tz);
    } catch (err) {
      void this.recorder.event(c, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec.schedule)} : ${(err as Error).message}`);
      return state;
    }
    const next = (): SyncOutcome => {
      const d = nextScheduleDelay(cj, now, sched);
      return d === undefined ? state : { requeueAt: now + d, changed: state.changed };
    };
    const due = dueScheduleTime(cj, now, sched);
    if (due.error) {
      void this.recorder.event(c, 'Warning', 'InvalidSchedule', `invalid schedule: ${cj.spec.schedule} : ${due.error}`);
      return state;
    }
    if (due.tooManyMissed) {
      void this.recorder.event(c, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
      log.info('too many missed times');
    }
    if (due.time === undefined) return next();
    const scheduled = due.time;
    const sds = cj.spec.startingDeadlineSeconds;
    if (sds !== undefined && scheduled + sds * 1000 < now) {
      void this.recorder.event(c, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${rfc1123z(scheduled)}`);
      return next();
    }
    const name = jobNameFor(cj, scheduled);
    const active = cj.status!.active ?? [];
    if (active.some((a) => a.name === name && a.namespace === cj.metadata.namespace) || Date.parse(cj.status!.lastScheduleTime ?? '') === scheduled) return next();
    if (cj.spec.concurrencyPolicy === 'Forbid' && active.length > 0) {
      void this.recorder.event(c, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return next();
    }
    if (cj.spec.concurrencyPolicy === 'Replace') {
      for (const ref of [...active]) {
        let job: Job;
        try {
          job = await this.jobs.get(ref.namespace, ref.name ?? '');
        } catch (err) {
          void this.recorder.event(c, 'Warning', 'FailedGet', `Get job: ${(err as Error).message}`);
          return fail(err);
        }
        if (!(await this.deleteJob(cj, job))) return fail(new Error(`could not replace job ${keyOf(job)}`));
        state.changed = true;
      }
    }
    const created = await this.createJob(cj, scheduled, name).catch(fail);
    if (!created) return state;
    const ref = objectReference(created, JOBS);
    cj.status!.active = [...(cj.status!.active ?? []), ref];
    cj.status!.lastScheduleTime = rfc3339(scheduled);
    const changedBefore = state.changed;
    state.changed = true;
    return { ...next(), created: ref, changedBefore };
  }

  /** Drops finished and vanished Jobs from status.active and records the last success. Returns whether status changed. */
  private async reconcileActive(cj: CronJob, children: Job[]): Promise<boolean> {
    const status = cj.status!;
    const c = objectReference(cj, CRONJOBS);
    let changed = false;
    for (const j of children) {
      const inActive = (status.active ?? []).some((a) => a.uid === j.metadata.uid);
      const fin = finishedCondition(j);
      if (!inActive && !fin) {
        const fresh = await this.cronJobs.get(cj.metadata.namespace, cj.metadata.name ?? '');
        if ((fresh.status?.active ?? []).some((a) => a.uid === j.metadata.uid)) {
          status.active = fresh.status?.active ?? [];
          continue;
        }
        // Created by us before a crash lost the status write, or by someone who wants it adopted.
        void this.recorder.event(c, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name ?? ''}`);
      } else if (inActive && fin) {
        status.active = (status.active ?? []).filter((a) => a.uid !== j.metadata.uid);
        void this.recorder.event(c, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name ?? ''}, status: ${fin.type}`);
        changed = true;
      }
      if (fin?.type === 'Complete' && j.status?.completionTime) {
        const at = Date.parse(j.status.completionTime);
        if (!status.lastSuccessfulTime || at > Date.parse(status.lastSuccessfulTime)) {
          status.lastSuccessfulTime = j.status.completionTime;
          changed = true;
        }
      }
    }
    const known = new Set(children.map((j) => j.metadata.uid));
    const now = this.clock.now();
    for (const ref of [...(status.active ?? [])]) {
      if (known.has(ref.uid)) continue;
      // Created here a moment ago: the cache has yet to show it, and asking the API server would only say it exists.
      const createdAt = this.createdUnseen.get(ref.uid ?? '');
      if (createdAt !== undefined && now - createdAt < CREATED_UNSEEN_TTL_MS) continue;
      this.createdUnseen.delete(ref.uid ?? '');
      // The cache may lag: ask the API server before calling the Job missing.
      try {
        await this.jobs.get(ref.namespace, ref.name ?? '');
      } catch (err) {
        if (!isNotFound(err)) throw new StatusChangedError(err, changed);
        void this.recorder.event(c, 'Normal', 'MissingJob', `Active job went missing: ${ref.name ?? ''}`);
        status.active = (status.active ?? []).filter((a) => a.uid !== ref.uid);
        changed = true;
      }
    }
    return changed;
  }

  /** The Job for schedule time `scheduled`; undefined when another actor's Job holds the name. */
  private async createJob(cj: CronJob, scheduled: number, name: string): Promise<Job | undefined> {
    const c = objectReference(cj, CRONJOBS);
    const tmpl = cj.spec.jobTemplate;
    const job: Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: cj.metadata.namespace,
        labels: { ...(tmpl.metadata?.labels ?? {}) },
        annotations: { ...(tmpl.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP_ANNOTATION]: formatInZone(scheduled, cj.spec.timeZone) },
        ownerReferences: [newControllerRef(cj, CRONJOBS)],
      },
      spec: structuredClone(tmpl.spec ?? { template: { spec: { containers: [] } } }),
    };
    try {
      const created = await this.jobs.create(cj.metadata.namespace, job);
      // kube observes the Job's creationTimestamp (whole seconds) here; the clock at the answer is finer.
      this.creationSkew?.observe(Math.max(0, this.clock.now() - scheduled) / 1000);
      this.expectCreated(created);
      void this.recorder.event(c, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name ?? ''}`);
      return created;
    } catch (err) {
      if (isNamespaceTerminating(err)) throw err;
      if (!isAlreadyExists(err)) {
        void this.recorder.event(c, 'Warning', 'FailedCreate', `Error creating job: ${(err as Error).message}`);
        throw err;
      }
      // Created before (the status write was lost), or by someone else: only ours goes back into status.active.
      const existing = await this.jobs.get(cj.metadata.namespace, name);
      if (controllerRefOf(existing)?.uid !== cj.metadata.uid) return undefined;
      if ((cj.status?.active ?? []).some((a) => a.uid === existing.metadata.uid)) return undefined;
      return existing;
    }
  }

  /** Deletes a Job and its pods (background) and drops it from status.active; false when the delete failed. */
  private async deleteJob(cj: CronJob, job: Job): Promise<boolean> {
    const c = objectReference(cj, CRONJOBS);
    try {
      await this.jobs.delete(job.metadata.namespace, job.metadata.name ?? '', { propagationPolicy: 'Background' });
    } catch (err) {
      if (!isNotFound(err)) {
        void this.recorder.event(c, 'Warning', 'FailedDelete', `Deleted job: ${(err as Error).message}`);
        return false;
      }
    }
    cj.status!.active = (cj.status!.active ?? []).filter((a) => a.uid !== job.metadata.uid);
    void this.recorder.event(c, 'Normal', 'SuccessfulDelete', `Deleted job ${job.metadata.name ?? ''}`);
    return true;
  }

  /** Keeps successfulJobsHistoryLimit Complete and failedJobsHistoryLimit Failed Jobs, deleting the oldest beyond. */
  private async cleanupFinishedJobs(cj: CronJob, children: Job[], log: Logger): Promise<boolean> {
    const { successfulJobsHistoryLimit: okLimit, failedJobsHistoryLimit: failLimit } = cj.spec;
    if (okLimit === undefined && failLimit === undefined) return false;
    const done = children.filter((j) => !j.metadata.deletionTimestamp);
    const ok = done.filter((j) => finishedCondition(j)?.type === 'Complete');
    const failed = done.filter((j) => finishedCondition(j)?.type === 'Failed');
    let changed = false;
    for (const [jobs, limit] of [[ok, okLimit], [failed, failLimit]] as const) {
      if (limit === undefined || jobs.length <= limit) continue;
      const oldest = [...jobs].sort(byStartTime).slice(0, jobs.length - limit);
      log.info('removing old jobs', { count: oldest.length, limit });
      for (const j of oldest) if (await this.deleteJob(cj, j)) changed = true;
    }
    return changed;
  }
}

interface SyncOutcome {
  /** When to sync again (the next schedule time, on the controller's clock). */
  requeueAt?: number;
  /** Whether the status was changed and must be written. */
  changed: boolean;
  /** The Job this sync created (already in status.active). */
  created?: ObjectReference;
  /** Whether status had changed before the Job was created (then it is written at once). */
  changedBefore?: boolean;
}

/** A sync error that carries whether status had already changed (the status is still written before retrying). */
class StatusChangedError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly changed: boolean,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Jobs without a start time last, then by start time, then by name (kube's byJobStartTime). */
function byStartTime(a: Job, b: Job): number {
  const sa = a.status?.startTime;
  const sb = b.status?.startTime;
  if (!sa || !sb) return sa ? -1 : sb ? 1 : (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
  const d = Date.parse(sa) - Date.parse(sb);
  return d !== 0 ? d : (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}
