// Work per change that must not grow with the pods around: the pods a controller's sync reads from the shared pod
// cache (Indexer.handedOut) for one sync, with 100 and then 1,000 other pods (orphans) in the namespace. The
// controllers run no workers here: the test drives one sync at a time (processKey), so nothing else reads meanwhile.
import assert from 'node:assert/strict';
import { EventBroadcaster, InformerFactory, type ResourceClient } from '../../client/index.js';
import { keyOf } from '../../client/informer.js';
import type { ObjectLike, RestClient } from '../../client/rest.js';
import { realClock } from '../../lib/clock.js';
import type { Controller, ControllerContext } from '../../controllers/framework/controller.js';
import { DaemonSetController } from '../../controllers/daemonset/daemonset-controller.js';
import { DeploymentController } from '../../controllers/deployment/deployment-controller.js';
import { ReplicaSetController } from '../../controllers/replicaset/replicaset-controller.js';
import { StatefulSetController } from '../../controllers/statefulset/statefulset-controller.js';
import { DAEMONSETS, DEPLOYMENTS, PODS, REPLICASETS, STATEFULSETS, type DaemonSet, type Deployment, type Pod, type ReplicaSet, type StatefulSet } from '../../controllers/framework/types.js';
import { waitFor } from '../support/util.js';
import { createNamespace, deployment, replicaSet, startTestCluster, type TestCluster } from './harness.js';

/** Creates plain pods other-<from>..other-<total-1> in ns (no owner, labels that select nothing here), 25 at a time. */
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

const template = (app: string): StatefulSet['spec']['template'] => ({ metadata: { labels: { app } }, spec: { containers: [{ name: 'c', image: 'pause' }] } });

describe('controllers: pods read per sync do not grow with the pods around', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let informers: InformerFactory;
  let controllers: Record<'deployment' | 'replicaset' | 'statefulset' | 'daemonset', Controller>;
  const keys: Record<string, string> = {};
  let ns: string;

  before(async () => {
    cluster = await startTestCluster();
    informers = new InformerFactory(cluster.rest);
    const events = new EventBroadcaster(cluster.rest, realClock);
    const ctx: ControllerContext = { rest: cluster.rest, informers, clock: realClock, recorder: (component) => events.recorder({ component }) };
    controllers = {
      deployment: new DeploymentController(ctx),
      replicaset: new ReplicaSetController(ctx),
      statefulset: new StatefulSetController(ctx),
      daemonset: new DaemonSetController(ctx),
    };
    informers.start();
    await informers.waitForSync();
    ns = await createNamespace(cluster.rest);
    const create = async <T extends ObjectLike>(client: ResourceClient<T>, obj: T): Promise<string> => keyOf(await client.create(ns, obj));
    keys.deployment = await create(cluster.rest.resource<Deployment>(DEPLOYMENTS), deployment('r', 2, { strategy: { type: 'Recreate' } }));
    keys.replicaset = await create(cluster.rest.resource<ReplicaSet>(REPLICASETS), replicaSet('web', 1));
    keys.statefulset = await create(cluster.rest.resource<StatefulSet>(STATEFULSETS), {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db') },
    });
    keys.daemonset = await create(cluster.rest.resource<DaemonSet>(DAEMONSETS), {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') },
    });
  });
  after(async () => {
    await informers?.stop();
    await cluster?.close();
  });

  /** Pods read from the cache by one sync of each controller, once the cache holds n other pods. */
  async function readsPerSync(n: number): Promise<Record<string, number>> {
    const podIndex = informers.for<Pod>(PODS).indexer;
    await waitFor(() => podIndex.byIndex('namespace', ns).filter((p) => p.metadata.name?.startsWith('other-')).length === n, { timeoutMs: 60_000, what: `${n} pods in the cache` });
    const out: Record<string, number> = {};
    for (const [name, c] of Object.entries(controllers)) {
      await c.processKey(keys[name]!); // settles what the previous state left to do (a first sync creates pods)
      const before = podIndex.handedOut;
      await c.processKey(keys[name]!);
      out[name] = podIndex.handedOut - before;
    }
    return out;
  }

  it('reads the same pods for one sync with 100 and with 1,000 other pods in the namespace', async () => {
    await fillPods(cluster.rest, ns, 0, 100);
    const at100 = await readsPerSync(100);
    await fillPods(cluster.rest, ns, 100, 1000);
    const at1000 = await readsPerSync(1000);
    // Before: the Deployment's Recreate check read every pod of the namespace, and the others' claims every orphan.
    const grew = Object.keys(controllers).filter((name) => !(at1000[name]! <= at100[name]! && at1000[name]! < 10));
    assert.deepEqual(grew, [], `pods read by one sync with 100 other pods: ${JSON.stringify(at100)}; with 1,000: ${JSON.stringify(at1000)}`);
  });
});
