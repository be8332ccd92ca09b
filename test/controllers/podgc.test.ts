// Pod garbage collection against a real API server, with a fake clock for the quarantine of missing nodes; the sweep
// is driven with processKey so that each step is deterministic.
import assert from 'node:assert/strict';
import { EventBroadcaster, InformerFactory, type ResourceClient } from '../../client/index.js';
import { FakeClock } from '../../lib/clock.js';
import type { ControllerContext } from '../../controllers/framework/controller.js';
import { NODES, PODS, type Node, type Pod } from '../../controllers/framework/types.js';
import { startControllerManager } from '../../controllers/manager.js';
import { PodGcController } from '../../controllers/podgc/podgc-controller.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';

describe('pod garbage collector', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let pods: ResourceClient<Pod>;
  let nodes: ResourceClient<Node>;
  before(async () => {
    cluster = await startTestCluster();
    pods = cluster.rest.resource<Pod>(PODS);
    nodes = cluster.rest.resource<Node>(NODES);
  });
  after(async () => cluster?.close());

  const pod = (name: string, nodeName?: string): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'busybox:1.36' }] },
  });
  const setPhase = (ns: string, name: string, phase: string): Promise<Pod> => pods.patch(ns, name, { status: { phase } }, 'merge', { sub: 'status' });
  const names = async (ns: string): Promise<string[]> => (await pods.list(ns)).items.map((p) => p.metadata.name ?? '').sort();

  function controller(clock: FakeClock, threshold: number): { gc: PodGcController; informers: InformerFactory; seen: (ns: string, n: number) => Promise<void> } {
    const informers = new InformerFactory(cluster.rest, { clock });
    const events = new EventBroadcaster(cluster.rest, clock);
    const ctx: ControllerContext = {
      rest: cluster.rest,
      informers,
      clock,
      recorder: (c) => events.recorder({ component: c }),
    };
    const gc = new PodGcController(ctx, { terminatedPodGcThreshold: threshold });
    informers.start();
    const podInformer = informers.for<Pod>(PODS);
    // Waits until the cache holds n pods of ns in their latest state (resourceVersion of the server's list).
    const seen = async (ns: string, n: number): Promise<void> => {
      const live = (await pods.list(ns)).items;
      await waitFor(
        () => {
          const cached = podInformer.indexer.list().filter((p) => p.metadata.namespace === ns);
          return cached.length === n && live.every((l) => cached.some((c) => c.metadata.name === l.metadata.name && c.metadata.resourceVersion === l.metadata.resourceVersion));
        },
        { what: `the pod cache of ${ns}` },
      );
    };
    return { gc, informers, seen };
  }

  it('deletes the oldest terminated pods beyond the threshold and leaves running ones', async () => {
    const ns = await createNamespace(cluster.rest);
    const { gc, informers, seen } = controller(new FakeClock(Date.now()), 3);
    try {
      await informers.waitForSync();
      for (const n of ['p1', 'p2', 'p3', 'p4', 'p5', 'run1', 'run2']) await pods.create(ns, pod(n));
      for (const n of ['p1', 'p2', 'p3']) await setPhase(ns, n, 'Succeeded');
      for (const n of ['p4', 'p5']) await setPhase(ns, n, 'Failed');
      for (const n of ['run1', 'run2']) await setPhase(ns, n, 'Running');
      await seen(ns, 7);
      // Other namespaces count too (the threshold is cluster-wide): only this test's pods are terminated here.
      await gc.processKey('sweep');
      assert.deepEqual(await names(ns), ['p3', 'p4', 'p5', 'run1', 'run2'], 'the two oldest terminated pods went, 3 kept');
      await seen(ns, 5);
      await gc.processKey('sweep');
      assert.deepEqual(await names(ns), ['p3', 'p4', 'p5', 'run1', 'run2'], 'at the threshold nothing more goes');
    } finally {
      await informers.stop();
    }
  });

  it('fails and deletes pods of a node that is gone, after the quarantine, and keeps pods of live nodes', async () => {
    const ns = await createNamespace(cluster.rest);
    const clock = new FakeClock(Date.now());
    const { gc, informers, seen } = controller(clock, 0);
    try {
      await nodes.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: `live-${ns}` } });
      await informers.waitForSync();
      await pods.create(ns, pod('on-live', `live-${ns}`));
      await pods.create(ns, pod('on-ghost', `ghost-${ns}`));
      await pods.create(ns, pod('on-ghost-done', `ghost-${ns}`));
      await setPhase(ns, 'on-ghost', 'Running');
      await setPhase(ns, 'on-ghost-done', 'Succeeded');
      await seen(ns, 3);
      await waitFor(() => informers.for<Node>(NODES).indexer.list().some((n) => n.metadata.name === `live-${ns}`), { what: 'the live node cached' });

      // A watcher records what the pod went through before it was deleted.
      const phases: string[] = [];
      const watching = (async () => {
        for await (const ev of pods.watch(ns, { fieldSelector: 'metadata.name=on-ghost' })) {
          const p = ev.object as Pod;
          phases.push(`${ev.type}:${p.status?.phase ?? ''}:${p.status?.conditions?.find((c) => c.type === 'DisruptionTarget')?.reason ?? ''}`);
          if (ev.type === 'DELETED') return;
        }
      })();

      await gc.processKey('sweep');
      await clock.advance(39_000);
      await gc.processKey('sweep');
      assert.deepEqual(await names(ns), ['on-ghost', 'on-ghost-done', 'on-live'], 'nothing collected within the 40 s quarantine');

      await clock.advance(2_000);
      await gc.processKey('sweep');
      assert.deepEqual(await names(ns), ['on-live']);
      await watching;
      assert.ok(phases.includes('MODIFIED:Failed:DeletionByPodGC'), `marked Failed with DisruptionTarget first: ${phases.join(' ')}`);
      assert.equal(phases.at(-1)?.split(':')[0], 'DELETED');
    } finally {
      await informers.stop();
    }
  });

  it('runs in the controller manager with --terminated-pod-gc-threshold', async () => {
    const ns = await createNamespace(cluster.rest);
    for (const n of ['a', 'b']) {
      await pods.create(ns, pod(n));
      await setPhase(ns, n, 'Failed');
    }
    // Every terminated pod in the cluster counts; earlier tests left 3 here, so threshold 4 leaves 4 of these 5.
    const terminated = (await pods.list(undefined)).items.filter((p) => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded').length;
    const cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['podgc'], terminatedPodGcThreshold: terminated - 1 });
    try {
      await waitFor(async () => (await pods.list(undefined)).items.filter((p) => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded').length === terminated - 1, {
        timeoutMs: 15_000,
        what: 'one terminated pod collected',
      });
    } finally {
      await cm.stop();
    }
  });
});
