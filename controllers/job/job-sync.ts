// What one sync of a Job knows: the Job, its pods sorted by state, the counts and indexes it computes, shared by the
// controller's decisions (job-controller.ts) and the pod writes they lead to (job-pods.ts).
import type { Interval } from '../../api/indexes.js';
import type { Logger } from '../../lib/logger.js';
import type { Pod } from '../framework/types.js';
import type { BackoffRecord } from './backoff.js';
import type { Job, JobCondition } from './types.js';

export interface JobSync {
  key: string;
  job: Job;
  pods: Pod[];
  active: Pod[];
  ready: number;
  terminating: number;
  succeeded: number;
  failed: number;
  uncounted: { succeeded: Set<string>; failed: Set<string> };
  expectedRm: Set<string>;
  finished?: JobCondition;
  prevSucceeded: Interval[];
  succeededIx: Interval[];
  failedIx?: Interval[];
  delayedDeletion: Map<number, Pod>;
  backoff: BackoffRecord;
  log: Logger;
}
