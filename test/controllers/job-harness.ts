// Support for the batch controller suites: the Job, CronJob and ttl-after-finished controllers over their own informers
// (so that a test can stop one and start another, as a restarted controller manager would), and a stand-in kubelet
// that finishes pods by writing their status as a kubelet does (a terminated container with its exit code).
import { EVENTS, EventRecorder, InformerFactory, type KubeEvent, type ResourceClient, type RestClient } from '../../client/index.js';
import type { Clock } from '../../lib/clock.js';
import { realClock } from '../../lib/clock.js';
import type { Controller, ControllerContext } from '../../controllers/framework/controller.js';
import { rfc3339 } from '../../controllers/framework/pods.js';
import type { Pod, PodCondition } from '../../controllers/framework/types.js';
import { JobController, type JobControllerOptions } from '../../controllers/job/job-controller.js';
import type { Job } from '../../controllers/job/types.js';

export interface RunningControllers<C extends Controller> {
  controller: C;
  informers: InformerFactory;
  stop(): Promise<void>;
}

/** Starts controllers made by make() on fresh informers, with workers, until stop(). */
export async function runControllers<C extends Controller>(rest: RestClient, make: (ctx: ControllerContext) => C, clock: Clock = realClock): Promise<RunningControllers<C>> {
  const informers = new InformerFactory(rest, { clock });
  const ctx: ControllerContext = { rest, informers, clock, recorder: (c) => new EventRecorder(rest.resource<KubeEvent>(EVENTS), { component: c }, clock) };
  const controller = make(ctx);
  informers.start();
  const abort = new AbortController();
  const running = controller.run(abort.signal);
  await informers.waitForSync();
  return {
    controller,
    informers,
    async stop() {
      abort.abort();
      await running;
      await informers.stop();
    },
  };
}

/** Fast timings for tests: pod events batched for 20 ms, failure backoff from 20 ms. */
export const FAST_JOB_OPTIONS: JobControllerOptions = { syncBatchPeriodMs: 20, podFailureBackoff: { baseMs: 20, maxMs: 200 } };

export function startJobController(rest: RestClient, opts: JobControllerOptions = FAST_JOB_OPTIONS): Promise<RunningControllers<JobController>> {
  return runControllers(rest, (ctx) => new JobController(ctx, opts));
}

/** Ends a pod as a kubelet reports it: the phase, each container terminated with exitCode, Ready False, extra conditions. */
export function finishPod(pods: ResourceClient<Pod>, pod: Pod, exitCode: number, conditions: PodCondition[] = []): Promise<Pod> {
  const t = rfc3339(Date.now());
  const phase = exitCode === 0 ? 'Succeeded' : 'Failed';
  const containerStatuses = pod.spec.containers.map((c) => ({
    name: c.name,
    ready: false,
    restartCount: 0,
    image: c.image ?? '',
    imageID: '',
    state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: t, finishedAt: t } },
  }));
  return pods.patch(
    pod.metadata.namespace,
    pod.metadata.name ?? '',
    { status: { phase, containerStatuses, conditions: [{ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: t }, ...conditions] } },
    'strategic',
    { sub: 'status' },
  );
}

/** A Job of busybox pods (restartPolicy Never) with the given spec fields. */
export function job(name: string, spec: Partial<Job['spec']> = {}): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }] } }, ...spec },
  };
}

export const conditionOf = (j: Job, type: string): { status: string; reason?: string; message?: string } | undefined => j.status?.conditions?.find((c) => c.type === type);
