// The DaemonSet controller against a real API server and the real scheduler, on fake nodes: placement by node
// selector, affinity and taints through the scheduler, rolling updates watched pod by pod, OnDelete, history, status.
import assert from 'node:assert/strict';
import type { ResourceClient } from '../../client/index.js';
import { type KubeEvent } from '../../client/events.js';
import { EVENTS } from '../../client/resources.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { isPodReady } from '../../controllers/framework/pods.js';
import { CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS, type ControllerRevision, type DaemonSet, type Node, type Pod } from '../../controllers/framework/types.js';
import { CONTROLLER_REVISION_HASH } from '../../controllers/history/revisions.js';
import { targetNodeName, TEMPLATE_GENERATION_LABEL } from '../../controllers/daemonset/util.js';
import { startScheduler, type RunningScheduler } from '../../scheduler/index.js';
import { waitFor } from '../support/util.js';
import { createNamespace, PodWatcher, startTestCluster, type TestCluster } from './harness.js';
import { FakeKubelet, registerNodes } from './nodes.js';

let suite = 0;

describe('daemonset controller', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let sched: RunningScheduler;
  let pods: ResourceClient<Pod>;
  let dss: ResourceClient<DaemonSet>;
  let nodes: ResourceClient<Node>;
  let revisions: ResourceClient<ControllerRevision>;

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['daemonset'] });
    sched = await startScheduler({ rest: cluster.rest });
    pods = cluster.rest.resource<Pod>(PODS);
    dss = cluster.rest.resource<DaemonSet>(DAEMONSETS);
    nodes = cluster.rest.resource<Node>(NODES);
    revisions = cluster.rest.resource<ControllerRevision>(CONTROLLERREVISIONS);
  });
  after(async () => {
    await sched?.stop();
    await cm?.stop();
    await cluster?.close();
  });

  /** A namespace, nodes labelled for this test only, and a fake kubelet for them. */
  async function setup(names: string[], opts: ConstructorParameters<typeof FakeKubelet>[2] = {}): Promise<{ ns: string; label: Record<string, string>; kubelet: FakeKubelet; nodeNames: string[] }> {
    const label = { suite: `ds-${process.pid}-${++suite}` };
    const nodeNames = names.map((n) => `${label.suite}-${n}`);
    await registerNodes(cluster.rest, nodeNames.map((name) => ({ name, labels: label })));
    const ns = await createNamespace(cluster.rest);
    const kubelet = new FakeKubelet(cluster.rest, ns, opts);
    await kubelet.start();
    return { ns, label, kubelet, nodeNames };
  }

  const daemonSet = (name: string, nodeSelector: Record<string, string>, extra: Partial<DaemonSet['spec']> = {}, image = 'busybox:1'): DaemonSet => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { nodeSelector, containers: [{ name: 'c', image }] } },
      ...extra,
    },
  });

  const live = async (ns: string): Promise<Pod[]> => (await pods.list(ns)).items.filter((p) => !p.metadata.deletionTimestamp);
  /** Pods per node they are on or, still unscheduled, are meant for. */
  const byNode = (list: Pod[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const p of list) {
      const node = targetNodeName(p) ?? '<none>';
      out[node] = (out[node] ?? 0) + 1;
    }
    return out;
  };
  const settled = (ns: string, name: string, desired: number, what: string) =>
    waitFor(async () => {
      const ds = await dss.get(ns, name);
      const s = ds.status;
      const ok = s && (s.observedGeneration ?? 0) >= (ds.metadata.generation ?? 0) && s.desiredNumberScheduled === desired && s.updatedNumberScheduled === desired && s.numberAvailable === desired && s.currentNumberScheduled === desired && s.numberMisscheduled === 0;
      return ok && (await live(ns)).length === desired && ds;
    }, { timeoutMs: 20_000, what });

  it('runs one pod on each node its nodeSelector and tolerations allow, placed by the scheduler through node affinity', async () => {
    const { ns, label, kubelet, nodeNames } = await setup(['a', 'b', 'c']);
    const [a, b, c] = nodeNames as [string, string, string];
    try {
      // a: edge; b: edge but tainted for databases; c: not edge.
      await nodes.patch(undefined, a, { metadata: { labels: { role: 'edge' } } });
      await nodes.patch(undefined, b, { metadata: { labels: { role: 'edge' } }, spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } });
      const created = await dss.create(ns, daemonSet('agent', { ...label, role: 'edge' }));
      assert.equal(created.metadata.annotations?.['deprecated.daemonset.template.generation'], '1');
      await settled(ns, 'agent', 1, 'one pod, on a');
      const [p] = await live(ns);
      assert.equal(p!.spec.nodeName, a);
      assert.deepEqual(p!.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [a] }] }] });
      assert.equal(controllerRefOf(p!)?.uid, created.metadata.uid);
      assert.equal(p!.metadata.labels?.[TEMPLATE_GENERATION_LABEL], '1');
      for (const key of ['not-ready', 'unreachable']) assert.ok(p!.spec.tolerations?.some((t) => t.key === `node.kubernetes.io/${key}` && t.effect === 'NoExecute' && t.operator === 'Exists'), key);
      for (const key of ['disk-pressure', 'memory-pressure', 'pid-pressure', 'unschedulable']) assert.ok(p!.spec.tolerations?.some((t) => t.key === `node.kubernetes.io/${key}` && t.effect === 'NoSchedule'), key);

      // Tolerating the taint (a template change: revision 2) adds b; labelling c adds c (a node event).
      await dss.patch(ns, 'agent', { spec: { template: { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] } } } }, 'strategic');
      await settled(ns, 'agent', 2, 'pods on a and b');
      await nodes.patch(undefined, c, { metadata: { labels: { role: 'edge' } } });
      const ds = await settled(ns, 'agent', 3, 'pods on a, b and c');
      assert.deepEqual(byNode(await live(ns)), { [a]: 1, [b]: 1, [c]: 1 });
      assert.equal(ds.metadata.annotations?.['deprecated.daemonset.template.generation'], '2');
      for (const pod of await live(ns)) assert.equal(pod.metadata.labels?.[TEMPLATE_GENERATION_LABEL], '2');

      // A NoExecute taint it does not tolerate evicts it from a; a cordon (unschedulable) does not.
      await nodes.patch(undefined, c, { spec: { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } });
      await nodes.patch(undefined, a, { spec: { taints: [{ key: 'maintenance', effect: 'NoExecute' }] } });
      await settled(ns, 'agent', 2, 'the pod on a gone, b and c kept');
      assert.deepEqual(byNode(await live(ns)), { [b]: 1, [c]: 1 });

      const history = (await revisions.list(ns)).items;
      assert.equal(history.length, 2);
      for (const cr of history) {
        assert.equal(controllerRefOf(cr)?.uid, created.metadata.uid);
        assert.equal(cr.metadata.labels?.app, 'agent');
        assert.equal(cr.metadata.name, `agent-${cr.metadata.labels?.[CONTROLLER_REVISION_HASH]}`);
      }
      assert.deepEqual(history.map((cr) => cr.revision).sort(), [1, 2]);
      const current = history.find((cr) => cr.revision === 2)!;
      for (const pod of await live(ns)) assert.equal(pod.metadata.labels?.[CONTROLLER_REVISION_HASH], current.metadata.labels?.[CONTROLLER_REVISION_HASH]);

      const events = (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items.filter((e) => e.involvedObject?.kind === 'DaemonSet');
      assert.ok(events.some((e) => e.reason === 'SuccessfulCreate' && /^Created pod: agent-/.test(e.message ?? '')));
      assert.ok(events.some((e) => e.reason === 'SuccessfulDelete' && /^Deleted pod: agent-/.test(e.message ?? '')));
    } finally {
      await kubelet.stop();
    }
  });

  for (const [surge, unavailable, count] of [[1, 0, 3], [0, 2, 4]] as const) {
    it(`rolls out node by node, never more than maxSurge extra pods nor fewer available nodes than allowed (surge ${surge}, unavailable ${unavailable})`, async () => {
      const { ns, label, kubelet } = await setup(Array.from({ length: count }, (_, i) => `n${i}`));
      const watcher = new PodWatcher(pods, ns, (list) => {
        const perNode = byNode(list);
        const doubled = Object.values(perNode).filter((n) => n > 1).length;
        if (Object.values(perNode).some((n) => n > 2)) return `three pods on a node: ${JSON.stringify(perNode)}`;
        if (doubled > surge) return `${doubled} nodes with two pods, maxSurge ${surge}`;
        const readyNodes = new Set(list.filter(isPodReady).map((p) => p.spec.nodeName)).size;
        if (readyNodes < count - unavailable) return `${readyNodes} nodes with a ready pod, at least ${count - unavailable} wanted`;
        return undefined;
      });
      await watcher.start();
      try {
        await dss.create(ns, daemonSet('roll', label, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } } }));
        const before = await settled(ns, 'roll', count, 'first rollout');
        const oldHashes = new Set((await live(ns)).map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH]));
        assert.equal(oldHashes.size, 1);
        watcher.checking = true;
        await dss.patch(ns, 'roll', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } }, 'strategic');
        await waitFor(async () => {
          const ds = await dss.get(ns, 'roll');
          const list = await live(ns);
          return (ds.metadata.generation ?? 0) > (before.metadata.generation ?? 0) && ds.status?.updatedNumberScheduled === count && ds.status.numberAvailable === count && list.length === count && list.every((p) => !oldHashes.has(p.metadata.labels?.[CONTROLLER_REVISION_HASH]) && isPodReady(p));
        }, { timeoutMs: 30_000, what: 'the rollout to finish' });
        watcher.checking = false;
        assert.deepEqual(watcher.violations, []);
        assert.equal(watcher.minReady, surge ? count : count - unavailable, 'the bound was reached, so the check could have failed');
        assert.ok(watcher.maxPods <= count + surge);
        if (surge) assert.equal(watcher.maxPods, count + surge, 'it did surge');
      } finally {
        await watcher.stop();
        await kubelet.stop();
      }
    });
  }

  it('OnDelete: a new template reaches a node only when its pod is deleted', async () => {
    const { ns, label, kubelet } = await setup(['x', 'y']);
    try {
      await dss.create(ns, daemonSet('od', label, { updateStrategy: { type: 'OnDelete' } }));
      await settled(ns, 'od', 2, 'two pods');
      const old = await live(ns);
      await dss.patch(ns, 'od', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } }, 'strategic');
      const observed = await waitFor(async () => {
        const ds = await dss.get(ns, 'od');
        return ds.status?.observedGeneration === ds.metadata.generation && ds.status?.updatedNumberScheduled === 0 && ds;
      }, { what: 'the new generation observed, nothing updated' });
      assert.equal(observed.status?.numberAvailable, 2);
      assert.deepEqual((await live(ns)).map((p) => p.metadata.uid).sort(), old.map((p) => p.metadata.uid).sort(), 'no pod was replaced');
      await pods.delete(ns, old[0]!.metadata.name!);
      await waitFor(async () => (await dss.get(ns, 'od')).status?.updatedNumberScheduled === 1 && (await live(ns)).length === 2, { what: 'one pod replaced at the new revision' });
      const now = await live(ns);
      const replaced = now.find((p) => p.spec.nodeName === old[0]!.spec.nodeName)!;
      assert.equal(replaced.spec.containers[0]!.image, 'busybox:2');
      assert.equal(now.find((p) => p.spec.nodeName === old[1]!.spec.nodeName)!.metadata.uid, old[1]!.metadata.uid);
    } finally {
      await kubelet.stop();
    }
  });

  it('keeps revisionHistoryLimit old revisions, and replaces a failed pod', async () => {
    const { ns, label, kubelet } = await setup(['h']);
    try {
      await dss.create(ns, daemonSet('hist', label, { revisionHistoryLimit: 1 }));
      await settled(ns, 'hist', 1, 'first');
      for (const image of ['busybox:2', 'busybox:3', 'busybox:4']) {
        await dss.patch(ns, 'hist', { spec: { template: { spec: { containers: [{ name: 'c', image }] } } } }, 'strategic');
        await waitFor(async () => (await live(ns)).length === 1 && (await live(ns))[0]!.spec.containers[0]!.image === image && isPodReady((await live(ns))[0]!), { what: `rolled to ${image}` });
      }
      await waitFor(async () => (await revisions.list(ns)).items.length === 2, { what: 'one old revision and the current one' });
      assert.deepEqual((await revisions.list(ns)).items.map((cr) => cr.revision).sort(), [3, 4]);

      const [p] = await live(ns);
      await pods.patch(ns, p!.metadata.name!, { status: { phase: 'Failed' } }, 'merge', { sub: 'status' });
      await waitFor(async () => {
        const list = await live(ns);
        return list.length === 1 && list[0]!.metadata.uid !== p!.metadata.uid && isPodReady(list[0]!);
      }, { what: 'the failed pod replaced' });
      const events = (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items;
      assert.ok(events.some((e) => e.reason === 'FailedDaemonPod' && e.message === `Found failed daemon pod ${ns}/${p!.metadata.name} on node ${p!.spec.nodeName}, will try to kill it`));
    } finally {
      await kubelet.stop();
    }
  });
});
