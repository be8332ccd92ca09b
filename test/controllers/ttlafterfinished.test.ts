// The ttl-after-finished controller against a real API server with a fake clock: a finished Job goes
// ttlSecondsAfterFinished after its terminal condition (foreground, so its pods go first); unfinished ones and Jobs
// without a TTL stay; a TTL raised meanwhile is honoured.
import assert from 'node:assert/strict';
import type { ResourceClient } from '../../client/index.js';
import { rfc3339 } from '../../controllers/framework/pods.js';
import { JOBS, type Job } from '../../controllers/job/types.js';
import { TtlAfterFinishedController } from '../../controllers/ttlafterfinished/ttlafterfinished-controller.js';
import { FakeClock } from '../../lib/clock.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';
import { job, runControllers } from './job-harness.js';

describe('ttl-after-finished controller (fake clock)', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let jobs: ResourceClient<Job>;

  before(async () => {
    cluster = await startTestCluster();
    jobs = cluster.rest.resource<Job>(JOBS);
  });
  after(async () => cluster?.close());

  const finish = (ns: string, name: string, at: number): Promise<Job> =>
    jobs.patch(ns, name, { status: { conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: rfc3339(at) }], completionTime: rfc3339(at), startTime: rfc3339(at) } }, 'merge', { sub: 'status' });
  const exists = async (ns: string, name: string): Promise<boolean> => (await jobs.list(ns)).items.some((j) => j.metadata.name === name && !j.metadata.deletionTimestamp);

  it('deletes a finished Job once its TTL has passed, and leaves the others', async () => {
    const clock = new FakeClock(Date.now());
    const ctrl = await runControllers(cluster.rest, (ctx) => new TtlAfterFinishedController(ctx), clock);
    try {
      const ns = await createNamespace(cluster.rest);
      await jobs.create(ns, job('ttl', { ttlSecondsAfterFinished: 60 }));
      await jobs.create(ns, job('raised', { ttlSecondsAfterFinished: 60 }));
      await jobs.create(ns, job('no-ttl'));
      await jobs.create(ns, job('running', { ttlSecondsAfterFinished: 0 }));
      for (const n of ['ttl', 'raised', 'no-ttl']) await finish(ns, n, clock.now());
      await waitFor(() => ctrl.informers.for<Job>(JOBS).indexer.list().filter((j) => j.metadata.namespace === ns && j.status?.conditions?.length).length === 3);
      await clock.advance(30_000);
      assert.ok(await exists(ns, 'ttl'), 'not yet expired');
      await jobs.patch(ns, 'raised', { spec: { ttlSecondsAfterFinished: 3600 } });
      await waitFor(() => ctrl.informers.for<Job>(JOBS).indexer.get(`${ns}/raised`)?.spec.ttlSecondsAfterFinished === 3600);
      await clock.advance(31_000);
      await waitFor(async () => !(await exists(ns, 'ttl')), { what: 'the expired job deleted' });
      assert.ok(await exists(ns, 'raised'), 'a TTL raised before expiry is honoured');
      assert.ok(await exists(ns, 'no-ttl'));
      assert.ok(await exists(ns, 'running'), 'an unfinished Job is never deleted');
    } finally {
      await ctrl.stop();
    }
  });
});
