// The batch/v1 types and resource refs the Job, CronJob and ttl-after-finished controllers share.
import { refFor } from '../framework/types.js';

export type { CronJob, CronJobStatus, Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy, SuccessPolicy } from '../../api/index.js';

export const JOBS = refFor('batch/v1', 'Job');
export const CRONJOBS = refFor('batch/v1', 'CronJob');
