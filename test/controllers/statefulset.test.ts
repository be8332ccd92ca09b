// The StatefulSet controller against a real API server: ordered start, Parallel, identity, partitioned rolling
// updates, reverse scale down, ordinals.start, OnDelete, revisions, and claims while PVCs are not served.
import assert from 'node:assert/strict';
import type { ResourceClient } from '../../client/index.js';
import { type KubeEvent } from '../../client/events.js';
import { EVENTS, PERSISTENTVOLUMECLAIMS } from '../../client/resources.js';
import type { PersistentVolumeClaim } from '../../api/index.js';
import { Informer } from '../../client/informer.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { isPodReady } from '../../controllers/framework/pods.js';
import { CONTROLLERREVISIONS, PODS, STATEFULSETS, type ControllerRevision, type Pod, type StatefulSet } from '../../controllers/framework/types.js';
import { CONTROLLER_REVISION_HASH } from '../../controllers/history/revisions.js';
import { POD_INDEX_LABEL, POD_NAME_LABEL } from '../../controllers/statefulset/utils.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';
import { FakeKubelet } from './nodes.js';

describe('statefulset controller', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let pods: ResourceClient<Pod>;
  let sets: ResourceClient<StatefulSet>;
  let revisions: ResourceClient<ControllerRevision>;

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['statefulset'] });
    pods = cluster.rest.resource<Pod>(PODS);
    sets = cluster.rest.resource<StatefulSet>(STATEFULSETS);
    revisions = cluster.rest.resource<ControllerRevision>(CONTROLLERREVISIONS);
  });
  after(async () => {
    await cm?.stop();
    await cluster?.close();
  });

  const statefulSet = (name: string, replicas: number, extra: Partial<StatefulSet['spec']> = {}, image = 'nginx:1'): StatefulSet => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas,
      serviceName: `${name}-headless`,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } },
      ...extra,
    },
  });

  /** Runs fn with a fake kubelet (no scheduler here: pods need no node) reporting pods ready when ready() says so. */
  async function withKubelet<T>(ready: (pod: Pod) => boolean, fn: (ns: string, kubelet: FakeKubelet) => Promise<T>): Promise<T> {
    const ns = await createNamespace(cluster.rest);
    const kubelet = new FakeKubelet(cluster.rest, ns, { ready, onlyBound: false });
    await kubelet.start();
    try {
      return await fn(ns, kubelet);
    } finally {
      await kubelet.stop();
    }
  }

  const live = async (ns: string): Promise<Pod[]> => (await pods.list(ns)).items.filter((p) => !p.metadata.deletionTimestamp);
  const names = async (ns: string): Promise<string[]> => (await live(ns)).map((p) => p.metadata.name ?? '').sort();
  const rolledOut = (ns: string, name: string, what: string) =>
    waitFor(async () => {
      const set = await sets.get(ns, name);
      const s = set.status;
      const n = set.spec.replicas ?? 1;
      return s && (s.observedGeneration ?? 0) >= (set.metadata.generation ?? 0) && s.readyReplicas === n && s.updatedReplicas === n && s.currentRevision === s.updateRevision && s.availableReplicas === n && set;
    }, { timeoutMs: 20_000, what });

  /** The names of the namespace's pods as their deletions are seen, in order. */
  async function watchDeletions(ns: string): Promise<{ deleted: string[]; stop(): Promise<void> }> {
    const deleted: string[] = [];
    const informer = new Informer<Pod>(pods, { namespace: ns });
    informer.addEventHandler({ onDelete: (p) => deleted.push(p.metadata.name ?? '') });
    informer.start();
    await informer.waitForSync();
    return { deleted, stop: () => informer.stop() };
  }

  /** Records, for each pod as it appears, whether every lower ordinal was Running and Ready at that moment. */
  function orderWatcher(ns: string): { informer: Informer<Pod>; created: string[]; outOfOrder: string[] } {
    const informer = new Informer<Pod>(pods, { namespace: ns });
    const w = { informer, created: [] as string[], outOfOrder: [] as string[] };
    informer.addEventHandler({
      onAdd: (pod) => {
        const ord = Number(/-(\d+)$/.exec(pod.metadata.name ?? '')?.[1]);
        w.created.push(pod.metadata.name ?? '');
        const others = informer.indexer.list();
        for (let i = 0; i < ord; i++) {
          const prev = others.find((p) => p.metadata.name === pod.metadata.name!.replace(/-\d+$/, `-${i}`));
          if (!prev || !isPodReady(prev)) w.outOfOrder.push(`${pod.metadata.name} before ${pod.metadata.name!.replace(/-\d+$/, `-${i}`)} was ready`);
        }
      },
    });
    return w;
  }

  it('OrderedReady: web-1 is created only after web-0 is Running and Ready, each with its stable identity', async () => {
    await withKubelet(() => false, async (ns, kubelet) => {
      const w = orderWatcher(ns);
      w.informer.start();
      try {
        const set = await sets.create(ns, statefulSet('web', 3));
        await waitFor(async () => (await names(ns)).length === 1, { what: 'web-0' });
        assert.deepEqual(await names(ns), ['web-0']);
        // web-0 is not ready: nothing else comes, however often the set is synced.
        await sets.patch(ns, 'web', { metadata: { labels: { poke: '1' } } });
        await waitFor(async () => (await sets.get(ns, 'web')).status?.replicas === 1, { what: 'status replicas 1' });
        assert.deepEqual(await names(ns), ['web-0']);
        for (const i of [0, 1, 2]) {
          await waitFor(async () => (await names(ns)).includes(`web-${i}`), { what: `web-${i}` });
          await kubelet.markReady(`web-${i}`);
        }
        const done = await rolledOut(ns, 'web', 'three ready');
        assert.deepEqual(w.outOfOrder, []);
        assert.deepEqual(w.created, ['web-0', 'web-1', 'web-2']);
        for (const p of await live(ns)) {
          const i = p.metadata.name!.slice(4);
          assert.equal(p.spec.hostname, p.metadata.name);
          assert.equal(p.spec.subdomain, 'web-headless');
          assert.equal(p.metadata.labels?.[POD_NAME_LABEL], p.metadata.name);
          assert.equal(p.metadata.labels?.[POD_INDEX_LABEL], i);
          assert.equal(p.metadata.labels?.[CONTROLLER_REVISION_HASH], done.status?.updateRevision);
          assert.equal(controllerRefOf(p)?.uid, set.metadata.uid);
        }
        const crs = (await revisions.list(ns)).items;
        assert.equal(crs.length, 1);
        assert.equal(crs[0]!.metadata.name, done.status?.currentRevision);
        assert.equal(controllerRefOf(crs[0]!)?.uid, set.metadata.uid);
        const events = (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items;
        assert.ok(events.some((e) => e.reason === 'SuccessfulCreate' && e.message === 'create Pod web-0 in StatefulSet web successful'));
      } finally {
        await w.informer.stop();
      }
    });
  });

  it('Parallel: every pod is created at once, none waiting for another', async () => {
    await withKubelet(() => false, async (ns) => {
      await sets.create(ns, statefulSet('par', 4, { podManagementPolicy: 'Parallel' }));
      await waitFor(async () => (await names(ns)).length === 4, { what: 'four pods without any ready' });
      assert.deepEqual(await names(ns), ['par-0', 'par-1', 'par-2', 'par-3']);
      assert.ok((await live(ns)).every((p) => !isPodReady(p)));
    });
  });

  it('scales down in reverse ordinal order, and up from ordinals.start', async () => {
    await withKubelet(() => true, async (ns) => {
      await sets.create(ns, statefulSet('db', 4, { ordinals: { start: 5 } }));
      await rolledOut(ns, 'db', 'db-5..db-8');
      assert.deepEqual(await names(ns), ['db-5', 'db-6', 'db-7', 'db-8']);
      const { deleted, stop } = await watchDeletions(ns);
      try {
        await sets.patch(ns, 'db', { spec: { replicas: 1 } });
        await waitFor(async () => (await names(ns)).length === 1, { what: 'scaled to one' });
        assert.deepEqual(await names(ns), ['db-5']);
        await waitFor(() => deleted.length === 3, { what: 'three deletions seen' });
        assert.deepEqual(deleted, ['db-8', 'db-7', 'db-6']);
      } finally {
        await stop();
      }
      await sets.patch(ns, 'db', { spec: { ordinals: { start: 0 }, replicas: 2 } });
      await waitFor(async () => JSON.stringify(await names(ns)) === JSON.stringify(['db-0', 'db-1']), { what: 'db-0 and db-1 once the range moved' });
    });
  });

  it('rolls out from the highest ordinal down to the partition, then the rest when the partition drops', async () => {
    await withKubelet(() => true, async (ns) => {
      await sets.create(ns, statefulSet('part', 3, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }));
      const first = await rolledOut(ns, 'part', 'first rollout');
      const { deleted, stop } = await watchDeletions(ns);
      try {
        await sets.patch(ns, 'part', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
        const partial = await waitFor(async () => {
          const set = await sets.get(ns, 'part');
          const s = set.status;
          return s?.updatedReplicas === 1 && s.readyReplicas === 3 && s.currentReplicas === 2 && s.observedGeneration === set.metadata.generation && set;
        }, { what: 'only part-2 updated' });
        assert.equal(partial.status?.currentRevision, first.status?.currentRevision, 'the current revision stays while the partition holds');
        assert.notEqual(partial.status?.updateRevision, partial.status?.currentRevision);
        const image = async (n: string) => (await pods.get(ns, n)).spec.containers[0]!.image;
        assert.deepEqual([await image('part-0'), await image('part-1'), await image('part-2')], ['nginx:1', 'nginx:1', 'nginx:2']);
        assert.deepEqual(deleted, ['part-2']);

        await sets.patch(ns, 'part', { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } }, 'strategic');
        const done = await rolledOut(ns, 'part', 'all updated');
        assert.equal(done.status?.currentRevision, partial.status?.updateRevision);
        assert.deepEqual(deleted, ['part-2', 'part-1', 'part-0'], 'highest ordinal first');
        assert.deepEqual([await image('part-0'), await image('part-1'), await image('part-2')], ['nginx:2', 'nginx:2', 'nginx:2']);
        assert.equal((await revisions.list(ns)).items.length, 2);
      } finally {
        await stop();
      }
    });
  });

  it('OnDelete: pods keep their revision until deleted; a deleted pod comes back at the update revision', async () => {
    await withKubelet(() => true, async (ns) => {
      await sets.create(ns, statefulSet('od', 2, { updateStrategy: { type: 'OnDelete' } }));
      await rolledOut(ns, 'od', 'first');
      await sets.patch(ns, 'od', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
      const st = await waitFor(async () => {
        const set = await sets.get(ns, 'od');
        return set.status?.observedGeneration === set.metadata.generation && set.status?.updateRevision !== set.status?.currentRevision && set;
      }, { what: 'a new update revision' });
      assert.equal(st.status?.updatedReplicas, 0);
      const old = await pods.get(ns, 'od-1');
      await pods.delete(ns, 'od-1');
      await waitFor(async () => {
        const p = await pods.get(ns, 'od-1').catch(() => undefined);
        return p && p.metadata.uid !== old.metadata.uid && isPodReady(p) && p;
      }, { what: 'od-1 recreated' });
      assert.equal((await pods.get(ns, 'od-1')).spec.containers[0]!.image, 'nginx:2');
      assert.equal((await pods.get(ns, 'od-0')).spec.containers[0]!.image, 'nginx:1');
      await waitFor(async () => (await sets.get(ns, 'od')).status?.updatedReplicas === 1, { what: 'status: one updated' });
    });
  });

  it('rolls back to an earlier template by renumbering its revision, not making a new one', async () => {
    await withKubelet(() => true, async (ns) => {
      await sets.create(ns, statefulSet('rb', 1));
      const v1 = await rolledOut(ns, 'rb', 'v1');
      await sets.patch(ns, 'rb', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
      await waitFor(async () => (await pods.get(ns, 'rb-0').catch(() => undefined))?.spec.containers[0]!.image === 'nginx:2', { what: 'v2 pod' });
      await sets.patch(ns, 'rb', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1' }] } } } }, 'strategic');
      const back = await waitFor(async () => {
        const set = await sets.get(ns, 'rb');
        const p = await pods.get(ns, 'rb-0').catch(() => undefined);
        return p?.spec.containers[0]!.image === 'nginx:1' && set.status?.currentRevision === set.status?.updateRevision && set.status?.updatedReplicas === 1 && set;
      }, { what: 'back on v1' });
      assert.equal(back.status?.updateRevision, v1.status?.updateRevision, 'the v1 revision is reused');
      const crs = (await revisions.list(ns)).items;
      assert.equal(crs.length, 2);
      assert.equal(crs.find((cr) => cr.metadata.name === v1.status?.updateRevision)?.revision, 3, 'renumbered as the newest');
    });
  });

  it('a spec.replicas of 2^31-1 costs what exists: OrderedReady makes web-0 and waits, the controller stays up', async () => {
    await withKubelet(() => false, async (ns, kubelet) => {
      await sets.create(ns, statefulSet('huge', 2147483647));
      await waitFor(async () => (await sets.get(ns, 'huge')).status?.replicas === 1, { what: 'huge-0 counted' });
      assert.deepEqual(await names(ns), ['huge-0']);
      await sets.patch(ns, 'huge', { spec: { replicas: 1 } });
      await kubelet.markReady('huge-0');
      await rolledOut(ns, 'huge', 'scaled back to one, ready');
    });
  });

  it('volumeClaimTemplates: each ordinal gets its own claim data-<set>-<ordinal>, made before its pod', async () => {
    await withKubelet(() => true, async (ns) => {
      await sets.create(ns, statefulSet('vol', 2, { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }] }));
      const claims = cluster.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
      await waitFor(async () => (await names(ns)).length === 2, { what: 'both pods' });
      const made = (await claims.list(ns)).items.map((c) => c.metadata?.name).sort();
      assert.deepEqual(made, ['data-vol-0', 'data-vol-1']);
      const c0 = await claims.get(ns, 'data-vol-0');
      assert.equal(c0.spec?.resources?.requests?.storage, '1Gi');
      const pod = await cluster.rest.resource<Pod>(PODS).get(ns, 'vol-0');
      assert.deepEqual(pod.spec.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim, { claimName: 'data-vol-0' });
    });
  });
});
