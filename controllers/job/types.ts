// The batch/v1 types and resource refs the Job, CronJob and ttl-after-finished controllers share.

export type { CronJob, CronJobStatus, Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy, SuccessPolicy } from '../../api/index.js';

export { CRONJOBS, JOBS } from '../../client/resources.js';
