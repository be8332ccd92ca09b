// The Deployment controller (with the ReplicaSet controller) against a real API server: rollouts watched pod by pod.
import assert from 'node:assert/strict';
import type { ResourceClient } from '../../client/index.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { isPodReady } from '../../controllers/framework/pods.js';
import { DEPLOYMENTS, PODS, REPLICASETS, type Deployment, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { POD_TEMPLATE_HASH, REVISION, REVISION_HISTORY } from '../../controllers/deployment/util.js';
import { waitFor } from '../support/util.js';
import { createNamespace, deployment, HollowKubelet, PodWatcher, rolloutStatus, startTestCluster, withKubelet, type TestCluster } from './harness.js';

describe('deployment controller', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let pods: ResourceClient<Pod>;
  let rss: ResourceClient<ReplicaSet>;
  let deps: ResourceClient<Deployment>;

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['replicaset', 'deployment'] });
    pods = cluster.rest.resource<Pod>(PODS);
    rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
    deps = cluster.rest.resource<Deployment>(DEPLOYMENTS);
  });
  after(async () => {
    await cm?.stop();
    await cluster?.close();
  });

  const rolledOut = (ns: string, name: string, timeoutMs = 20_000): Promise<Deployment> =>
    waitFor(async () => {
      const d = await deps.get(ns, name);
      return rolloutStatus(d).done && d;
    }, { timeoutMs, what: `rollout of ${name}` });
  const replicaSetsOf = async (ns: string, d: Deployment): Promise<ReplicaSet[]> =>
    (await rss.list(ns)).items.filter((rs) => controllerRefOf(rs)?.uid === d.metadata.uid);

  it('creates a ReplicaSet named by the pod-template hash and reports the conditions kubectl reads', async () => {
    await withKubelet(cluster.rest, {}, async (ns, kubelet) => {
      const created = await deps.create(ns, deployment('web', 3));
      const d = await rolledOut(ns, 'web');
      const [rs, ...more] = await replicaSetsOf(ns, created);
      assert.equal(more.length, 0);
      const hash = rs!.metadata.labels?.[POD_TEMPLATE_HASH];
      assert.ok(hash && /^[bcdfghjklmnpqrstvwxz2456789]+$/.test(hash), `hash ${hash}`);
      assert.equal(rs!.metadata.name, `web-${hash}`);
      assert.equal(rs!.spec.selector.matchLabels?.[POD_TEMPLATE_HASH], hash);
      assert.equal(rs!.metadata.annotations?.[REVISION], '1');
      assert.equal(d.metadata.annotations?.[REVISION], '1');
      assert.equal(rs!.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '3');
      assert.equal(rs!.metadata.annotations?.['deployment.kubernetes.io/max-replicas'], '4');
      const cond = (t: string) => d.status?.conditions?.find((c) => c.type === t);
      assert.equal(cond('Available')?.status, 'True');
      assert.equal(cond('Available')?.reason, 'MinimumReplicasAvailable');
      assert.equal(cond('Progressing')?.status, 'True');
      assert.equal(cond('Progressing')?.reason, 'NewReplicaSetAvailable');
      assert.equal(cond('Progressing')?.message, `ReplicaSet "${rs!.metadata.name}" has successfully progressed.`);
      assert.deepEqual(
        [d.status?.replicas, d.status?.updatedReplicas, d.status?.readyReplicas, d.status?.availableReplicas, d.status?.observedGeneration],
        [3, 3, 3, 3, d.metadata.generation],
      );
      const podList = (await pods.list(ns)).items;
      assert.equal(podList.length, 3);
      for (const p of podList) assert.equal(p.metadata.labels?.[POD_TEMPLATE_HASH], hash);
      assert.equal(kubelet.seen.length, 3);
    });
  });

  for (const [surge, unavailable, replicas] of [
    [1, 1, 4],
    [2, 0, 3],
    [0, 1, 3],
    ['50%', '25%', 4],
  ] as const) {
    it(`rolls out never above replicas+maxSurge nor below replicas-maxUnavailable (surge ${surge}, unavailable ${unavailable})`, async () => {
      const ns = await createNamespace(cluster.rest);
      const kubelet = new HollowKubelet(cluster.rest, ns, { delayMs: 60 });
      await kubelet.start();
      const maxS = typeof surge === 'number' ? surge : Math.ceil((Number(surge.slice(0, -1)) * replicas) / 100);
      const maxU = typeof unavailable === 'number' ? unavailable : Math.floor((Number(unavailable.slice(0, -1)) * replicas) / 100);
      const watcher = new PodWatcher(pods, ns, (live) => {
        if (live.length > replicas + maxS) return `${live.length} pods > ${replicas}+${maxS}`;
        const ready = live.filter(isPodReady).length;
        if (ready < replicas - maxU) return `${ready} ready pods < ${replicas}-${maxU}`;
        return undefined;
      });
      await watcher.start();
      try {
        await deps.create(ns, deployment('roll', replicas, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } } }));
        const before = await rolledOut(ns, 'roll');
        watcher.checking = true;
        await deps.patch(ns, 'roll', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
        const after = await rolledOut(ns, 'roll');
        assert.ok((after.metadata.generation ?? 0) > (before.metadata.generation ?? 0));
        assert.deepEqual(watcher.violations, []);
        assert.ok(watcher.maxPods > replicas || maxS === 0, 'a surge was used');
        const sets = await replicaSetsOf(ns, after);
        assert.equal(sets.length, 2);
        const byRev = Object.fromEntries(sets.map((rs) => [rs.metadata.annotations?.[REVISION], rs]));
        assert.equal(byRev['2']?.spec.replicas, replicas);
        assert.equal(byRev['1']?.spec.replicas, 0);
        const live = watcher.live();
        assert.equal(live.length, replicas);
        assert.ok(live.every((p) => p.spec.containers[0]?.image === 'nginx:2'));
        assert.equal(after.metadata.annotations?.[REVISION], '2');
      } finally {
        await watcher.stop();
        await kubelet.stop();
      }
    });
  }

  it('Recreate: every old pod is gone before the first new one is created', async () => {
    const ns = await createNamespace(cluster.rest);
    const kubelet = new HollowKubelet(cluster.rest, ns, { delayMs: 30 });
    await kubelet.start();
    const watcher = new PodWatcher(pods, ns, (live) => {
      const images = new Set(live.map((p) => p.spec.containers[0]?.image));
      return images.size > 1 ? `old and new pods together: ${[...images].join(',')}` : undefined;
    });
    await watcher.start();
    try {
      await deps.create(ns, deployment('rec', 3, { strategy: { type: 'Recreate' } }));
      await rolledOut(ns, 'rec');
      watcher.checking = true;
      await deps.patch(ns, 'rec', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
      await rolledOut(ns, 'rec');
      assert.deepEqual(watcher.violations, []);
      assert.equal(watcher.minReady, 0, 'Recreate goes through zero pods');
      assert.ok(watcher.live().every((p) => p.spec.containers[0]?.image === 'nginx:2'));
      assert.equal(watcher.live().length, 3);
    } finally {
      await watcher.stop();
      await kubelet.stop();
    }
  });

  it('rolls back to a previous revision as `kubectl rollout undo` does, reusing its ReplicaSet', async () => {
    await withKubelet(cluster.rest, {}, async (ns) => {
      const d = await deps.create(ns, deployment('undo', 2));
      await rolledOut(ns, 'undo');
      await deps.patch(ns, 'undo', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
      await rolledOut(ns, 'undo');
      await waitFor(async () => (await replicaSetsOf(ns, d)).some((rs) => rs.metadata.annotations?.[REVISION] === '2' && rs.status?.availableReplicas === 2));
      // kubectl rollout undo: the template of revision 1, without its pod-template-hash label, onto the Deployment.
      const rev1 = (await replicaSetsOf(ns, d)).find((rs) => rs.metadata.annotations?.[REVISION] === '1')!;
      const template = structuredClone(rev1.spec.template!);
      delete template.metadata!.labels![POD_TEMPLATE_HASH];
      await deps.patch(ns, 'undo', [{ op: 'replace', path: '/spec/template', value: template }], 'json');
      const after = await waitFor(async () => {
        const cur = await deps.get(ns, 'undo');
        return rolloutStatus(cur).done && cur.metadata.annotations?.[REVISION] === '3' && cur;
      }, { what: 'rollback to finish' });
      const sets = await replicaSetsOf(ns, after);
      assert.equal(sets.length, 2, 'no new ReplicaSet for a rollback');
      const reused = sets.find((rs) => rs.metadata.name === rev1.metadata.name)!;
      assert.equal(reused.metadata.annotations?.[REVISION], '3');
      assert.equal(reused.metadata.annotations?.[REVISION_HISTORY], '1');
      assert.equal(reused.spec.replicas, 2);
      assert.ok((await pods.list(ns)).items.every((p) => p.spec.containers[0]?.image === 'nginx:1'));
    });
  });

  it('pauses (no rollout, scaling still works) and resumes', async () => {
    await withKubelet(cluster.rest, {}, async (ns) => {
      const d = await deps.create(ns, deployment('p', 2));
      await rolledOut(ns, 'p');
      await deps.patch(ns, 'p', { spec: { paused: true } });
      await waitFor(async () => (await deps.get(ns, 'p')).status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'DeploymentPaused', { what: 'DeploymentPaused' });
      const paused = await deps.get(ns, 'p');
      const cond = paused.status?.conditions?.find((c) => c.type === 'Progressing');
      assert.equal(cond?.status, 'Unknown');
      assert.equal(cond?.message, 'Deployment is paused');
      await deps.patch(ns, 'p', { spec: { replicas: 3, template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
      await waitFor(async () => (await deps.get(ns, 'p')).status?.availableReplicas === 3, { what: 'scaled while paused' });
      assert.equal((await replicaSetsOf(ns, d)).length, 1, 'no new ReplicaSet while paused');
      assert.ok((await pods.list(ns)).items.every((p) => p.spec.containers[0]?.image === 'nginx:1'));

      await deps.patch(ns, 'p', { spec: { paused: false } });
      const done = await waitFor(async () => {
        const cur = await deps.get(ns, 'p');
        return rolloutStatus(cur).done && (cur.status?.updatedReplicas ?? 0) === 3 && (await replicaSetsOf(ns, d)).length === 2 && cur;
      }, { what: 'rollout after resume' });
      assert.equal(done.metadata.annotations?.[REVISION], '2');
      assert.ok((await pods.list(ns)).items.filter((p) => !p.metadata.deletionTimestamp).every((p) => p.spec.containers[0]?.image === 'nginx:2'));
    });
  });

  it('restarts as `kubectl rollout restart` does (a template annotation)', async () => {
    await withKubelet(cluster.rest, {}, async (ns) => {
      const d = await deps.create(ns, deployment('rs', 2));
      await rolledOut(ns, 'rs');
      const oldPods = new Set((await pods.list(ns)).items.map((p) => p.metadata.name));
      await deps.patch(ns, 'rs', { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } });
      await waitFor(async () => {
        const cur = await deps.get(ns, 'rs');
        const live = (await pods.list(ns)).items.filter((p) => !p.metadata.deletionTimestamp);
        return rolloutStatus(cur).done && cur.metadata.annotations?.[REVISION] === '2' && live.length === 2 && live.every((p) => !oldPods.has(p.metadata.name));
      }, { what: 'restart' });
      assert.equal((await replicaSetsOf(ns, d)).length, 2);
    });
  });

  it('reports ProgressDeadlineExceeded when the new pods never become ready', async () => {
    await withKubelet(cluster.rest, { ready: (p) => p.spec.containers[0]?.image !== 'broken' }, async (ns) => {
      await deps.create(ns, deployment('dl', 2, { progressDeadlineSeconds: 2 }));
      await rolledOut(ns, 'dl');
      await deps.patch(ns, 'dl', { spec: { template: { spec: { containers: [{ name: 'c', image: 'broken' }] } } } }, 'strategic');
      const d = await waitFor(async () => {
        const cur = await deps.get(ns, 'dl');
        return cur.status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'ProgressDeadlineExceeded' && cur;
      }, { timeoutMs: 15_000, what: 'ProgressDeadlineExceeded' });
      const cond = d.status?.conditions?.find((c) => c.type === 'Progressing');
      assert.equal(cond?.status, 'False');
      assert.match(cond?.message ?? '', /has timed out progressing\.$/);
      assert.throws(() => rolloutStatus(d), /exceeded its progress deadline/);
      // maxUnavailable (25% of 2 rounds to 0) keeps the old pods: still available.
      assert.equal(d.status?.conditions?.find((c) => c.type === 'Available')?.status, 'True');
    });
  });

  it('keeps revisionHistoryLimit old ReplicaSets', async () => {
    await withKubelet(cluster.rest, {}, async (ns) => {
      const d = await deps.create(ns, deployment('hist', 1, { revisionHistoryLimit: 1 }));
      for (const v of [2, 3, 4]) {
        await rolledOut(ns, 'hist');
        await deps.patch(ns, 'hist', { spec: { template: { spec: { containers: [{ name: 'c', image: `nginx:${v}` }] } } } }, 'strategic');
        await waitFor(async () => (await deps.get(ns, 'hist')).metadata.annotations?.[REVISION] === String(v));
      }
      await rolledOut(ns, 'hist');
      const sets = await waitFor(async () => {
        const s = await replicaSetsOf(ns, d);
        return s.length === 2 && s;
      }, { what: 'old ReplicaSets cleaned up' });
      assert.deepEqual(sets.map((rs) => rs.metadata.annotations?.[REVISION]).sort(), ['3', '4']);
    });
  });

  it('scales proportionally in the middle of a rollout', async () => {
    await withKubelet(cluster.rest, { ready: (p) => p.spec.containers[0]?.image !== 'broken' }, async (ns) => {
      const d = await deps.create(ns, deployment('prop', 10, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }));
      await rolledOut(ns, 'prop');
      await deps.patch(ns, 'prop', { spec: { template: { spec: { containers: [{ name: 'c', image: 'broken' }] } } } }, 'strategic');
      // Stuck: old 8, new 5 (13 = 10 + 3).
      await waitFor(async () => {
        const s = await replicaSetsOf(ns, d);
        return s.length === 2 && s.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0) === 13 && s.every((rs) => rs.status?.replicas === rs.spec.replicas);
      }, { what: 'stuck rollout' });
      await deps.patch(ns, 'prop', { spec: { replicas: 20 } });
      const sets = await waitFor(async () => {
        const s = await replicaSetsOf(ns, d);
        return s.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0) === 23 && s;
      }, { what: 'proportional scale' });
      const newRS = sets.find((rs) => rs.metadata.annotations?.[REVISION] === '2')!;
      const oldRS = sets.find((rs) => rs.metadata.annotations?.[REVISION] === '1')!;
      // 10 more spread 8:5 -> old 8+6=14, new 5+4=9 (kubernetes' getProportion with rounding, leftover to the largest).
      assert.equal(oldRS.spec.replicas, 14);
      assert.equal(newRS.spec.replicas, 9);
    });
  });
});
