// The work queue's metrics follow client-go's: depth counts dirty items (one added while processed included), the
// queue and work durations come from the injected clock, retries count rate-limited adds.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { WorkQueue } from '../../client/workqueue.js';
import { FakeClock } from '../../lib/clock.js';
import { queueNameOf, WorkQueueMetrics } from './workqueue-metrics.js';

async function value(registry: Registry, metric: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = registry.getSingleMetric(metric);
  if (!m) return undefined;
  const data = await m.get();
  const found = data.values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
  return found?.value;
}

describe('workqueue metrics', () => {
  it('names queues as kube-controller-manager does', () => {
    assert.equal(queueNameOf('replicaset'), 'replicaset');
    assert.equal(queueNameOf('endpointslice'), 'endpoint_slice');
    assert.equal(queueNameOf('replicationcontroller'), 'replicationmanager');
  });

  it('counts depth, adds, retries and durations as client-go', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const q = new WorkQueue({ clock });
    q.instrument(new WorkQueueMetrics(registry, clock).forQueue('replicaset'));
    const depth = (): Promise<number | undefined> => value(registry, 'workqueue_depth', { name: 'replicaset' });

    q.add('a');
    q.add('a'); // collapses: not an add
    assert.equal(await depth(), 1);
    clock.advance(2000);
    const item = await q.get();
    assert.equal(item, 'a');
    assert.equal(await depth(), 0);
    q.add('a'); // added while processed: dirty again, counted once
    assert.equal(await depth(), 1);
    clock.advance(500);
    assert.equal(await value(registry, 'workqueue_longest_running_processor_seconds', { name: 'replicaset' }), 0.5);
    q.done('a');
    assert.equal(await depth(), 1, 'back on the queue without another add');
    assert.equal(await value(registry, 'workqueue_adds_total', { name: 'replicaset' }), 2);
    assert.equal(await value(registry, 'workqueue_queue_duration_seconds', { name: 'replicaset', le: '10' }), 1);
    assert.equal(await value(registry, 'workqueue_work_duration_seconds', { name: 'replicaset', le: '1' }), 1);
    assert.equal(await value(registry, 'workqueue_work_duration_seconds', { name: 'replicaset', le: '0.1' }), 0);
    await q.get();
    q.addRateLimited('a');
    q.done('a');
    assert.equal(await value(registry, 'workqueue_retries_total', { name: 'replicaset' }), 1);
    assert.equal(await value(registry, 'workqueue_unfinished_work_seconds', { name: 'replicaset' }), 0);
  });

  it('forgets what a queue held when it shuts down (a new leader term starts a queue of the same name)', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const metrics = new WorkQueueMetrics(registry, clock);
    const q = new WorkQueue({ clock });
    q.instrument(metrics.forQueue('deployment'));
    q.add('a');
    q.add('b');
    await q.get();
    q.shutDown();
    assert.equal(await value(registry, 'workqueue_depth', { name: 'deployment' }), 0);
    clock.advance(1000);
    assert.equal(await value(registry, 'workqueue_unfinished_work_seconds', { name: 'deployment' }), 0);
    const next = new WorkQueue({ clock });
    next.instrument(metrics.forQueue('deployment'));
    next.add('a');
    assert.equal(await value(registry, 'workqueue_depth', { name: 'deployment' }), 1);
    assert.equal(await value(registry, 'workqueue_adds_total', { name: 'deployment' }), 3);
  });
});
