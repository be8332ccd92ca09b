// The scheduler's Prometheus metrics, named and labelled as kube-scheduler's (pkg/scheduler/metrics):
//
//   scheduler_pending_pods{queue="active|backoff|unschedulable|gated"}           gauge (read from the queue at each scrape)
//   scheduler_schedule_attempts_total{result="scheduled|unschedulable|error",profile}  counter
//   scheduler_scheduling_attempt_duration_seconds{result,profile}                histogram (algorithm + binding)
//   scheduler_queue_incoming_pods_total{queue,event}                             counter
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { IncomingEvent, QueueName } from './framework/queue.js';

export type AttemptResult = 'scheduled' | 'unschedulable' | 'error';

/** kube-scheduler's buckets for the attempt duration: 1 ms doubling, 15 of them. */
const ATTEMPT_BUCKETS = Array.from({ length: 15 }, (_v, i) => 0.001 * 2 ** i);

export interface PendingCounts {
  active: number;
  backoff: number;
  unschedulable: number;
  gated: number;
}

export class SchedulerMetrics {
  private readonly attempts: Counter<'result' | 'profile'>;
  private readonly attemptDuration: Histogram<'result' | 'profile'>;
  private readonly incomingPods: Counter<'queue' | 'event'>;

  /** pending is read at each scrape. */
  constructor(
    readonly registry: Registry,
    pending: () => PendingCounts,
  ) {
    const registers = [registry];
    new Gauge({
      name: 'scheduler_pending_pods',
      help: "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
      labelNames: ['queue'],
      registers,
      collect() {
        const p = pending();
        for (const queue of ['active', 'backoff', 'unschedulable', 'gated'] as const) this.set({ queue }, p[queue]);
      },
    });
    this.attempts = new Counter({
      name: 'scheduler_schedule_attempts_total',
      help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
      labelNames: ['result', 'profile'],
      registers,
    });
    this.attemptDuration = new Histogram({
      name: 'scheduler_scheduling_attempt_duration_seconds',
      help: 'Scheduling attempt latency in seconds (scheduling algorithm + binding)',
      labelNames: ['result', 'profile'],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.incomingPods = new Counter({
      name: 'scheduler_queue_incoming_pods_total',
      help: 'Number of pods added to scheduling queues by event and queue type.',
      labelNames: ['queue', 'event'],
      registers,
    });
  }

  /** One scheduling attempt ended; seconds from its start. */
  attempt(result: AttemptResult, profile: string, seconds: number): void {
    this.attempts.inc({ result, profile });
    this.attemptDuration.observe({ result, profile }, seconds);
  }

  incoming(queue: QueueName, event: IncomingEvent): void {
    this.incomingPods.inc({ queue, event });
  }
}

