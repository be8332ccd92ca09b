// Work per pod change that must not grow with the pods around it: the pods a controller's sync reads from the pod
// cache (Indexer.handedOut) for one change, with 100 and then 1,000 other pods in the namespace.
import assert from 'node:assert/strict';
import { EventBroadcaster, InformerFactory, type RestClient } from '../../client/index.js';
import { realClock } from '../../lib/clock.js';
import { DeploymentController } from '../../controllers/deployment/deployment-controller.js';
import { keyOf } from '../../client/informer.js';
import { DEPLOYMENTS, PODS, type Deployment, type Pod } from '../../controllers/framework/types.js';
import { waitFor } from '../support/util.js';
import { createNamespace, deployment, startTestCluster, type TestCluster } from './harness.js';

/** Creates pods up to `total` in ns (plain pods, no owner: the namespace's other tenants), 25 writes at a time. */
async function fillPods(rest: RestClient, ns: string, from: number, total: number): Promise<void> {
  const pods = rest.resource<Pod>(PODS);
  for (let i = from; i < total; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, total - i) }, (_v, j) =>
        pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `other-${i + j}`, labels: { app: 'other' } }, spec: { containers: [{ name: 'c', image: 'pause' }] } }),
      ),
    );
  }
}

describe('controllers: work per pod change does not grow with the pods around', function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  before(async () => (cluster = await startTestCluster()));
  after(async () => await cluster?.close());

  it('deployment (Recreate): a sync reads the old sets\' pods, not the namespace\'s', async () => {
    const informers = new InformerFactory(cluster.rest);
    const events = new EventBroadcaster(cluster.rest, realClock);
    const dc = new DeploymentController({ rest: cluster.rest, informers, clock: realClock, recorder: (component) => events.recorder({ component }) });
    const podIndex = informers.for<Pod>(PODS).indexer;
    const stop = new AbortController();
    informers.start();
    const running = dc.run(stop.signal);
    try {
      const ns = await createNamespace(cluster.rest);
      const d = await cluster.rest.resource<Deployment>(DEPLOYMENTS).create(ns, deployment('r', 2, { strategy: { type: 'Recreate' } }));
      const readsPerSync = async (n: number): Promise<number> => {
        await waitFor(() => podIndex.byIndex('namespace', ns).length === n, { timeoutMs: 60_000, what: `${n} pods in the cache` });
        await waitFor(() => dc.queue.length === 0, { what: 'a quiet queue' });
        const before = podIndex.handedOut;
        await dc.processKey(keyOf(d));
        return podIndex.handedOut - before;
      };
      await fillPods(cluster.rest, ns, 0, 100);
      const at100 = await readsPerSync(100);
      await fillPods(cluster.rest, ns, 100, 1000);
      const at1000 = await readsPerSync(1000);
      // Before: every pod of the namespace on each Recreate sync (100, then 1,000).
      assert.ok(at1000 <= at100 && at1000 < 10, `pods read by one sync: ${at100} with 100 pods, ${at1000} with 1,000`);
    } finally {
      stop.abort();
      await running;
      await informers.stop();
    }
  });
});
