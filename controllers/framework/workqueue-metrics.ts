// The controllers' work queues in Prometheus, named and shaped as client-go's workqueue metrics that
// kube-controller-manager serves (k8s.io/component-base/metrics/prometheus/workqueue), one `name` label per queue:
//
//   workqueue_depth{name}                              gauge
//   workqueue_adds_total{name}                         counter
//   workqueue_queue_duration_seconds{name}             histogram (time from add to a worker's get)
//   workqueue_work_duration_seconds{name}              histogram (time from get to done)
//   workqueue_retries_total{name}                      counter
//   workqueue_unfinished_work_seconds{name}            gauge (work in progress not yet observed; read at each scrape)
//   workqueue_longest_running_processor_seconds{name}  gauge (read at each scrape)
//
// Each queue keeps two maps (item -> time added, item -> time taken), as client-go's defaultQueueMetrics does, and
// plain numbers for depth, adds and retries that the registry reads at each scrape; the in-progress gauges walk only
// the items being processed (at most the workers).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QueueMetrics } from '../../client/workqueue.js';
import type { Clock } from '../../lib/clock.js';

/** client-go's buckets: 10 ns to 10 s, ten powers of ten. */
const DURATION_BUCKETS = Array.from({ length: 10 }, (_v, i) => 1e-8 * 10 ** i);

/** The queue names kube-controller-manager gives its controllers' queues, where they differ from the controller's name. */
const KUBE_QUEUE_NAMES: Readonly<Record<string, string>> = {
  replicationcontroller: 'replicationmanager',
  endpointslice: 'endpoint_slice',
  garbagecollector: 'garbage_collector_attempt_to_delete',
  'ttl-after-finished': 'ttl_jobs_to_delete',
  horizontalpodautoscaling: 'horizontalpodautoscaler',
};

/** A controller's queue name in the metrics (kube's, e.g. "replicaset", "endpoint_slice"). */
export function queueNameOf(controller: string): string {
  return KUBE_QUEUE_NAMES[controller] ?? controller.replace(/-/g, '_');
}

class NamedQueueMetrics implements QueueMetrics {
  /** Plain numbers on the hot path; the registry reads them at each scrape. */
  depth = 0;
  adds = 0;
  retries = 0;
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly latency: Histogram.Internal<'name'>;
  private readonly work: Histogram.Internal<'name'>;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    latency: Histogram<'name'>,
    work: Histogram<'name'>,
  ) {
    this.latency = latency.labels({ name });
    this.work = work.labels({ name });
  }

  add(item: string): void {
    this.adds++;
    this.depth++;
    if (!this.addedAt.has(item)) this.addedAt.set(item, this.clock.now());
  }

  get(item: string): void {
    const now = this.clock.now();
    this.depth--;
    const added = this.addedAt.get(item);
    if (added !== undefined) {
      this.latency.observe((now - added) / 1000);
      this.addedAt.delete(item);
    }
    this.startedAt.set(item, now);
  }

  done(item: string): void {
    const started = this.startedAt.get(item);
    if (started === undefined) return;
    this.work.observe((this.clock.now() - started) / 1000);
    this.startedAt.delete(item);
  }

  retry(): void {
    this.retries++;
  }

  discard(item: string): void {
    if (this.addedAt.delete(item)) this.depth--;
    this.startedAt.delete(item);
  }

  /** The items being processed at time now, their times so far folded by reduce, in seconds. */
  inProgress(now: number, reduce: (acc: number, ms: number) => number): number {
    let acc = 0;
    for (const started of this.startedAt.values()) acc = reduce(acc, now - started);
    return acc / 1000;
  }
}

/** The workqueue metric families in one registry (one per controller manager), and a reporter per named queue. */
export class WorkQueueMetrics {
  private readonly latency: Histogram<'name'>;
  private readonly work: Histogram<'name'>;
  private readonly queues = new Map<string, NamedQueueMetrics>();

  constructor(
    registry: Registry,
    private readonly clock: Clock,
  ) {
    const registers = [registry];
    const labelNames = ['name'] as const;
    this.latency = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested.',
      labelNames,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.work = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames,
      buckets: DURATION_BUCKETS,
      registers,
    });
    // The rest is read from each queue's numbers at each scrape.
    const queues = this.queues;
    const now = (): number => clock.now();
    const gauge = (name: string, help: string, value: (q: NamedQueueMetrics, now: number) => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          const t = now();
          for (const q of queues.values()) this.set({ name: q.name }, value(q, t));
        },
      });
    };
    const counter = (name: string, help: string, value: (q: NamedQueueMetrics) => number): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const q of queues.values()) this.inc({ name: q.name }, value(q));
        },
      });
    };
    gauge('workqueue_depth', 'Current depth of workqueue', (q) => q.depth);
    counter('workqueue_adds_total', 'Total number of adds handled by workqueue', (q) => q.adds);
    counter('workqueue_retries_total', 'Total number of retries handled by workqueue', (q) => q.retries);
    gauge(
      'workqueue_unfinished_work_seconds',
      "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      (q, t) => q.inProgress(t, (acc, ms) => acc + ms),
    );
    gauge('workqueue_longest_running_processor_seconds', 'How many seconds has the longest running processor for workqueue been running.', (q, t) => q.inProgress(t, Math.max));
  }

  /** The reporter of the queue called name (one per name: a second queue of the same name shares it). */
  forQueue(name: string): QueueMetrics {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new NamedQueueMetrics(name, this.clock, this.latency, this.work)));
    return q;
  }
}
