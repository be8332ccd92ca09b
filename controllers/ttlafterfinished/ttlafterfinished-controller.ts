// The ttl-after-finished controller (pkg/controller/ttlafterfinished): deletes a finished Job, with its pods (foreground),
// spec.ttlSecondsAfterFinished after its Complete or Failed condition; a fresh read decides, so a TTL changed or a Job
// re-created meanwhile is never deleted on stale data.
import { isNotFound } from '../../api/errors.js';
import type { Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { JOBS, type Job } from '../job/types.js';
import { finishedCondition } from '../job/util.js';

export interface TtlAfterFinishedOptions {
  workers?: number;
}

const needsCleanup = (job: Job): boolean => job.spec.ttlSecondsAfterFinished !== undefined && finishedCondition(job) !== undefined;

export class TtlAfterFinishedController extends Controller {
  private readonly jobInformer: Informer<Job>;
  private readonly jobs: ResourceClient<Job>;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: TtlAfterFinishedOptions = {}) {
    super({ name: 'ttl-after-finished-controller', clock: ctx.clock, workers: opts.workers ?? 5 });
    this.jobInformer = ctx.informers.for<Job>(JOBS);
    this.informers = [this.jobInformer];
    this.jobs = ctx.rest.resource<Job>(JOBS);
    const consider = (job: Job): void => {
      if (!job.metadata.deletionTimestamp && needsCleanup(job)) this.enqueue(job);
    };
    this.jobInformer.addEventHandler({ onAdd: consider, onUpdate: (_old, job) => consider(job) });
  }

  /** Milliseconds until the Job expires (<= 0: expired), or undefined when it is not due for clean-up at all. */
  private timeLeft(job: Job, log: SyncContext['log']): number | undefined {
    if (job.metadata.deletionTimestamp || !needsCleanup(job)) return undefined;
    const finished = Date.parse(finishedCondition(job)?.lastTransitionTime ?? '');
    if (Number.isNaN(finished)) {
      log.warn('finished job has no finish time', { job: job.metadata.name });
      return undefined;
    }
    const now = this.clock.now();
    if (finished > now) log.info('job finished in the future: clock skew?', { finishedAt: new Date(finished).toISOString() });
    return finished + (job.spec.ttlSecondsAfterFinished ?? 0) * 1000 - now;
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const cached = this.jobInformer.indexer.get(key);
    if (!cached) return;
    const left = this.timeLeft(cached, log);
    if (left === undefined) return;
    if (left > 0) return { requeueAfterMs: left };
    // Expired by the cache: check a fresh copy (its TTL may have been changed) before deleting.
    let fresh: Job;
    try {
      fresh = await this.jobs.get(cached.metadata.namespace, cached.metadata.name ?? '');
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const freshLeft = this.timeLeft(fresh, log);
    if (freshLeft === undefined) return;
    if (freshLeft > 0) return { requeueAfterMs: freshLeft };
    log.info('deleting expired job', { ttlSecondsAfterFinished: fresh.spec.ttlSecondsAfterFinished });
    try {
      await this.jobs.delete(fresh.metadata.namespace, fresh.metadata.name ?? '', {
        propagationPolicy: 'Foreground',
        preconditions: { uid: fresh.metadata.uid ?? '', resourceVersion: fresh.metadata.resourceVersion ?? '' },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
