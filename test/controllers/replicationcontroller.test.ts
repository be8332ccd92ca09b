// ReplicationControllers run by the ReplicaSet controller's code (as kube's replication manager wraps it), against a
// real API server: pods owned by the RC, status, scaling through /scale, adoption, events.
import assert from 'node:assert/strict';
import type { ResourceClient } from '../../client/index.js';
import { type KubeEvent } from '../../client/events.js';
import { EVENTS } from '../../client/resources.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { PODS, REPLICATIONCONTROLLERS, type Pod, type ReplicationController } from '../../controllers/framework/types.js';
import { waitFor } from '../support/util.js';
import { startTestCluster, withKubelet, type TestCluster } from './harness.js';

describe('replicationcontroller', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let pods: ResourceClient<Pod>;
  let rcs: ResourceClient<ReplicationController>;

  before(async () => {
    cluster = await startTestCluster();
    // The ReplicaSet controller runs beside it, as in a real manager: neither may take the other's pods.
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['replicationcontroller', 'replicaset'] });
    pods = cluster.rest.resource<Pod>(PODS);
    rcs = cluster.rest.resource<ReplicationController>(REPLICATIONCONTROLLERS);
  });
  after(async () => {
    await cm?.stop();
    await cluster?.close();
  });

  const rc = (name: string, replicas: number): ReplicationController => ({
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name },
    spec: { replicas, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } } },
  });
  const live = async (ns: string): Promise<Pod[]> => (await pods.list(ns, { labelSelector: 'app=web' })).items.filter((p) => !p.metadata.deletionTimestamp);

  it('keeps spec.replicas pods owned by the RC, scales through /scale, adopts orphans, and reports status', async () => {
    await withKubelet(cluster.rest, {}, async (ns, kubelet) => {
      const orphan = await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } });
      const created = await rcs.create(ns, rc('web', 3));
      const ready = await waitFor(async () => {
        const cur = await rcs.get(ns, 'web');
        const s = cur.status;
        return s?.replicas === 3 && s.readyReplicas === 3 && s.availableReplicas === 3 && s.fullyLabeledReplicas === 3 && s.observedGeneration === cur.metadata.generation && cur;
      }, { what: 'status 3/3/3' });
      assert.ok(ready);
      const list = await live(ns);
      assert.equal(list.length, 3);
      for (const p of list) {
        const ref = controllerRefOf(p);
        assert.deepEqual([ref?.apiVersion, ref?.kind, ref?.uid, ref?.blockOwnerDeletion], ['v1', 'ReplicationController', created.metadata.uid, true]);
      }
      assert.ok(list.some((p) => p.metadata.uid === orphan.metadata.uid), 'the matching orphan was adopted');
      assert.equal(kubelet.seen.length, 3, 'two created besides the orphan, none beyond');

      const scale = await cluster.rest.request<Record<string, unknown>>('GET', `/api/v1/namespaces/${ns}/replicationcontrollers/web/scale`);
      await cluster.rest.request('PUT', `/api/v1/namespaces/${ns}/replicationcontrollers/web/scale`, { body: { ...scale, spec: { replicas: 1 } } });
      await waitFor(async () => (await live(ns)).length === 1 && (await rcs.get(ns, 'web')).status?.replicas === 1, { what: 'scaled to 1' });
      await rcs.patch(ns, 'web', { spec: { replicas: 2 } });
      await waitFor(async () => (await rcs.get(ns, 'web')).status?.availableReplicas === 2, { what: 'scaled to 2' });

      const events = (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items.filter((e) => e.involvedObject?.kind === 'ReplicationController');
      assert.ok(events.some((e) => e.reason === 'SuccessfulCreate' && e.source?.component === 'replication-controller'));
      assert.ok(events.some((e) => e.reason === 'SuccessfulDelete'));
    });
  });

  it('changes its selector (unlike a ReplicaSet) and releases the pods that no longer match', async () => {
    await withKubelet(cluster.rest, {}, async (ns) => {
      await rcs.create(ns, { ...rc('web', 2), spec: { ...rc('web', 2).spec, template: { metadata: { labels: { app: 'web', v: '1' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } } } });
      await waitFor(async () => (await rcs.get(ns, 'web')).status?.readyReplicas === 2, { what: 'two pods' });
      const first = await live(ns);
      await rcs.patch(ns, 'web', { spec: { selector: { app: 'web', v: '2' }, template: { metadata: { labels: { app: 'web', v: '2' } } } } }, 'strategic');
      await waitFor(async () => {
        const all = await live(ns);
        const owned = all.filter((p) => controllerRefOf(p)?.kind === 'ReplicationController');
        return all.length === 4 && owned.length === 2 && owned.every((p) => p.metadata.labels?.v === '2') && all;
      }, { what: 'two new pods owned, the old two released' });
      for (const p of first) assert.equal(controllerRefOf(await pods.get(ns, p.metadata.name!)), undefined);
    });
  });
});
