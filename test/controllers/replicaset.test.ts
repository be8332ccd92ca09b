// The ReplicaSet controller against a real API server: scaling, status, adoption and release, deletion order.
import assert from 'node:assert/strict';
import { EventBroadcaster, InformerFactory, type EventRecorder, type ResourceClient, type RestClient } from '../../client/index.js';
import { realClock } from '../../lib/clock.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { ReplicaSetController, type ReplicaSetControllerOptions } from '../../controllers/replicaset/replicaset-controller.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { PODS, REPLICASETS, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { waitFor } from '../support/util.js';
import { createNamespace, HollowKubelet, replicaSet, setPodReady, startTestCluster, withKubelet, type TestCluster } from './harness.js';


describe('replicaset controller', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let pods: ResourceClient<Pod>;
  let rss: ResourceClient<ReplicaSet>;

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['replicaset'] });
    pods = cluster.rest.resource<Pod>(PODS);
    rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
  });
  after(async () => {
    await cm?.stop();
    await cluster?.close();
  });

  const podsOf = async (ns: string, app: string): Promise<Pod[]> => (await pods.list(ns, { labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp);

  it('creates exactly spec.replicas pods, owned, and reports status; scales down', async () => {
    await withKubelet(cluster.rest, {}, async (ns, kubelet) => {
      const rs = await rss.create(ns, replicaSet('web', 3));
      const st = await waitFor(async () => {
        const cur = await rss.get(ns, 'web');
        const s = cur.status;
        return s?.replicas === 3 && s.readyReplicas === 3 && s.availableReplicas === 3 && s.observedGeneration === cur.metadata.generation && cur;
      }, { what: 'status 3/3/3' });
      assert.equal(st.status?.fullyLabeledReplicas, 3);
      const list = await podsOf(ns, 'web');
      assert.equal(list.length, 3);
      for (const p of list) {
        const ref = controllerRefOf(p);
        assert.equal(ref?.uid, rs.metadata.uid);
        assert.equal(ref?.kind, 'ReplicaSet');
        assert.equal(ref?.blockOwnerDeletion, true);
        assert.match(p.metadata.name ?? '', /^web-[a-z0-9]{5}$/);
      }
      // Expectations: no pod beyond the 3 was ever created.
      assert.equal(kubelet.seen.length, 3);

      await rss.patch(ns, 'web', { spec: { replicas: 1 } });
      await waitFor(async () => (await podsOf(ns, 'web')).length === 1 && (await rss.get(ns, 'web')).status?.replicas === 1, { what: 'scale down to 1' });
      await rss.patch(ns, 'web', { spec: { replicas: 4 } });
      await waitFor(async () => (await rss.get(ns, 'web')).status?.availableReplicas === 4, { what: 'scale up to 4' });
      assert.equal((await podsOf(ns, 'web')).length, 4);
      assert.equal(kubelet.seen.length, 6);
    });
  });

  it('replaces a deleted pod', async () => {
    const ns = await createNamespace(cluster.rest);
    await rss.create(ns, replicaSet('r', 2));
    const first = await waitFor(async () => {
      const l = await podsOf(ns, 'r');
      return l.length === 2 && l;
    });
    await pods.delete(ns, first[0]!.metadata.name!);
    await waitFor(async () => {
      const l = await podsOf(ns, 'r');
      return l.length === 2 && !l.some((p) => p.metadata.name === first[0]!.metadata.name);
    }, { what: 'replacement pod' });
  });

  it('adopts matching orphans and releases pods whose labels stop matching', async () => {
    const ns = await createNamespace(cluster.rest);
    const orphan = await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan', labels: { app: 'adopt' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    const rs = await rss.create(ns, replicaSet('adopt', 2));
    await waitFor(async () => (await podsOf(ns, 'adopt')).length === 2 && controllerRefOf(await pods.get(ns, 'orphan'))?.uid === rs.metadata.uid, { what: 'adoption' });
    // The orphan counted: only one pod was created.
    const names = (await podsOf(ns, 'adopt')).map((p) => p.metadata.name);
    assert.ok(names.includes('orphan'));

    await pods.patch(ns, 'orphan', { metadata: { labels: { app: 'other' } } });
    await waitFor(async () => {
      const p = await pods.get(ns, 'orphan');
      return !controllerRefOf(p) && (await podsOf(ns, 'adopt')).length === 2;
    }, { what: 'release and replacement' });
    assert.equal(orphan.metadata.uid, (await pods.get(ns, 'orphan')).metadata.uid);
  });

  it('leaves pods controlled by another owner alone', async () => {
    const ns = await createNamespace(cluster.rest);
    const a = await rss.create(ns, replicaSet('a', 1, { selector: { matchLabels: { tier: 'x' } }, template: { metadata: { labels: { tier: 'x', app: 'a' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } }));
    await waitFor(async () => (await rss.get(ns, 'a')).status?.replicas === 1);
    // b's selector also matches a's pod, but that pod has a controller already.
    await rss.create(ns, replicaSet('b', 1, { selector: { matchLabels: { tier: 'x' } }, template: { metadata: { labels: { tier: 'x', app: 'b' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } }));
    await waitFor(async () => (await rss.get(ns, 'b')).status?.replicas === 1);
    const all = (await pods.list(ns, { labelSelector: 'tier=x' })).items;
    assert.equal(all.length, 2);
    assert.equal(all.filter((p) => controllerRefOf(p)?.uid === a.metadata.uid).length, 1);
  });

  it('deletes not-ready pods first, then the newest ready ones', async () => {
    const ns = await createNamespace(cluster.rest);
    await rss.create(ns, replicaSet('order', 3));
    const created = await waitFor(async () => {
      const l = await podsOf(ns, 'order');
      return l.length === 3 && l;
    });
    const [p0, p1, p2] = created;
    const t = Date.now();
    await setPodReady(pods, p0!, true, t - 30_000);
    await setPodReady(pods, p1!, true, t - 10_000); // ready for less time
    await setPodReady(pods, p2!, false, t - 60_000);
    await waitFor(async () => (await rss.get(ns, 'order')).status?.readyReplicas === 2);
    await rss.patch(ns, 'order', { spec: { replicas: 2 } });
    await waitFor(async () => (await podsOf(ns, 'order')).length === 2);
    let left = (await podsOf(ns, 'order')).map((p) => p.metadata.name).sort();
    assert.deepEqual(left, [p0!.metadata.name, p1!.metadata.name].sort());
    await rss.patch(ns, 'order', { spec: { replicas: 1 } });
    await waitFor(async () => (await podsOf(ns, 'order')).length === 1);
    left = (await podsOf(ns, 'order')).map((p) => p.metadata.name);
    assert.deepEqual(left, [p0!.metadata.name]);
  });

  it('counts pods available only after minReadySeconds', async () => {
    await withKubelet(cluster.rest, {}, async (ns) => {
      await rss.create(ns, replicaSet('slow', 2, { minReadySeconds: 2 }));
      const early = await waitFor(async () => {
        const s = (await rss.get(ns, 'slow')).status;
        return s?.readyReplicas === 2 && s;
      });
      assert.equal(early.availableReplicas, 0);
      await waitFor(async () => (await rss.get(ns, 'slow')).status?.availableReplicas === 2, { timeoutMs: 8000, what: 'available after minReadySeconds' });
    });
  });
});

/** A ReplicaSet controller of its own on rest, with its informers, for as long as body runs. */
async function withController(
  rest: RestClient,
  recorder: (component: string) => EventRecorder,
  opts: ReplicaSetControllerOptions,
  body: (rsc: ReplicaSetController, informers: InformerFactory) => Promise<void>,
): Promise<void> {
  const informers = new InformerFactory(rest);
  const rsc = new ReplicaSetController({ rest, informers, clock: realClock, recorder }, opts);
  const stop = new AbortController();
  informers.start();
  const running = rsc.run(stop.signal);
  try {
    await body(rsc, informers);
  } finally {
    stop.abort();
    await running;
    await informers.stop();
  }
}

describe('replicaset controller: work per pod change and creations in flight', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async () => (cluster = await startTestCluster()));
  after(async () => await cluster?.close());

  it('looks at O(1) pods for a pod status change, not at every pod of the set', async () => {
    const N = 400;
    const events = new EventBroadcaster(cluster.rest, realClock);
    const pods = cluster.rest.resource<Pod>(PODS);
    const rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
    await withController(cluster.rest, (component) => events.recorder({ component }), {}, async (rsc, informers) => {
      const podIndex = informers.for<Pod>(PODS).indexer;
      await withKubelet(cluster.rest, {}, async (ns) => {
        await rss.create(ns, replicaSet('big', N));
        await waitFor(async () => (await rss.get(ns, 'big')).status?.readyReplicas === N, { timeoutMs: 40_000, what: `${N} ready` });
        await waitFor(() => rsc.queue.length === 0, { what: 'a quiet queue' });
        const one = (await pods.list(ns)).items[0]!;
        const visits = rsc.tally.visits;
        const read = podIndex.handedOut;
        await setPodReady(pods, one, false);
        await waitFor(async () => (await rss.get(ns, 'big')).status?.readyReplicas === N - 1, { what: 'one pod not ready in the status' });
        // The event is looked at once; the sync reads the counts, not the pods (before: N pods per sync, and
        // calculateStatus went over all of them again).
        assert.equal(rsc.tally.visits - visits, 1);
        assert.ok(podIndex.handedOut - read < 10, `pods read from the cache: ${podIndex.handedOut - read}`);
      });
    });
  });

  it('keeps at most createConcurrency creations in flight across all its syncs', async () => {
    const CAP = 3;
    let inFlight = 0;
    let peak = 0;
    // The pods client the controller writes through, counting the creations under way.
    const rest = new Proxy(cluster.rest, {
      get(target, prop, receiver) {
        if (prop !== 'resource') return Reflect.get(target, prop, receiver) as unknown;
        return (ref: typeof PODS) => {
          const client = target.resource<Pod>(ref);
          if (ref !== PODS) return client;
          return Object.assign(Object.create(client) as ResourceClient<Pod>, {
            create: async (...args: Parameters<ResourceClient<Pod>['create']>) => {
              peak = Math.max(peak, ++inFlight);
              try {
                return await client.create(...args);
              } finally {
                inFlight--;
              }
            },
          });
        };
      },
    });
    // Events are not what this counts: none is written (none is left to fail once the cluster is closed).
    const recorder = (): EventRecorder => ({ event: () => Promise.resolve() }) as unknown as EventRecorder;
    const pods = cluster.rest.resource<Pod>(PODS);
    const rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
    await withController(rest, recorder, { workers: 5, createConcurrency: CAP }, async () => {
      const ns = await createNamespace(cluster.rest);
      // Four sets synced at once by five workers: each sync alone would keep CAP creations going.
      await Promise.all(['a', 'b', 'c', 'd'].map((n) => rss.create(ns, replicaSet(n, 12))));
      await waitFor(async () => (await pods.list(ns)).items.length === 48, { timeoutMs: 40_000, what: '48 pods' });
      assert.ok(peak >= 2 && peak <= CAP, `creations in flight at most: ${peak}`);
    });
  });
});
