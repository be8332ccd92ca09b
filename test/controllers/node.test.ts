// Node lifecycle (with a fake clock: 40 s grace, 300 s default toleration; and with short times set by flags on the real
// clock) and node IPAM against a real API server.
import assert from 'node:assert/strict';
import { EventBroadcaster, InformerFactory, microTime, type ResourceClient } from '../../client/index.js';
import { FakeClock } from '../../lib/clock.js';
import type { ControllerContext } from '../../controllers/framework/controller.js';
import { rfc3339 } from '../../controllers/framework/pods.js';
import { LEASES, NODES, PODS, type Lease, type Node, type Pod } from '../../controllers/framework/types.js';
import { parseControllerManagerFlags } from '../../controllers/flags.js';
import { startControllerManager } from '../../controllers/manager.js';
import { NodeLifecycleController } from '../../controllers/nodelifecycle/nodelifecycle-controller.js';
import { waitFor } from '../support/util.js';
import { startHollowNodes } from '../../agent/hollow.js';
import { LEASE_RENEW_MS } from '../../agent/node-status.js';
import { createNamespace, setPodReady, startTestCluster, type TestCluster } from './harness.js';

function node(name: string, at: number, podCIDR?: string): Node {
  const t = rfc3339(at);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    ...(podCIDR ? { spec: { podCIDR, podCIDRs: [podCIDR] } } : {}),
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }] },
  };
}

describe('node controllers', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await cluster?.close();
  });

  describe('node lifecycle', () => {
    let clock: FakeClock;
    let informers: InformerFactory;
    let lifecycle: NodeLifecycleController;
    let ac: AbortController;
    let running: Promise<void>;
    let nodes: ResourceClient<Node>;
    let leases: ResourceClient<Lease>;
    let pods: ResourceClient<Pod>;

    before(async () => {
      clock = new FakeClock(Date.now());
      informers = new InformerFactory(cluster.rest, { clock });
      const events = new EventBroadcaster(cluster.rest, clock);
    const ctx: ControllerContext = {
        rest: cluster.rest,
        informers,
        clock,
        recorder: (c) => events.recorder({ component: c }),
      };
      lifecycle = new NodeLifecycleController(ctx);
      informers.start();
      ac = new AbortController();
      running = lifecycle.run(ac.signal);
      nodes = cluster.rest.resource<Node>(NODES);
      leases = cluster.rest.resource<Lease>(LEASES);
      pods = cluster.rest.resource<Pod>(PODS);
    });
    after(async () => {
      ac?.abort();
      await running;
      await informers?.stop();
    });

    const renew = async (name: string): Promise<void> => {
      const l = await leases.get('kube-node-lease', name);
      await leases.update({ ...l, spec: { ...l.spec, renewTime: microTime(clock.now()) } });
      await waitFor(() => lifecycle.lastProbe(name) === clock.now(), { what: 'lease renewal observed' });
    };
    const readyOf = async (name: string) => (await nodes.get(undefined, name)).status?.conditions?.find((c) => c.type === 'Ready');

    it('marks a node Unknown and taints it unreachable after the grace period, evicts pods per toleration, untaints on recovery', async () => {
      await nodes.create(undefined, node('n1', clock.now()));
      await leases.create('kube-node-lease', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n1' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: microTime(clock.now()) } });
      const ns = await createNamespace(cluster.rest);
      const mk = async (name: string, tolerations: NonNullable<Pod['spec']['tolerations']>): Promise<Pod> => {
        const p = await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: 'n1', tolerations, containers: [{ name: 'c', image: 'nginx' }] } });
        return setPodReady(pods, p);
      };
      await mk('plain', []);
      await mk('short', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }]);
      await mk('forever', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }]);
      await waitFor(() => lifecycle.lastProbe('n1') !== undefined, { what: 'node observed' });

      await clock.advance(30_000);
      await renew('n1');
      await clock.advance(35_000); // 35 s since the renewal: within the grace period
      assert.equal((await readyOf('n1'))?.status, 'True');

      await clock.advance(6_000); // 41 s
      const unknown = await waitFor(async () => {
        const n = await nodes.get(undefined, 'n1');
        return n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute') && n;
      }, { what: 'unreachable taint' });
      const ready = unknown.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'Unknown');
      assert.equal(ready?.reason, 'NodeStatusUnknown');
      assert.equal(ready?.message, 'Kubelet stopped posting node status.');
      assert.deepEqual(unknown.spec?.taints?.map((t) => `${t.key}:${t.effect}`).sort(), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
      await waitFor(async () => (await pods.list(ns)).items.every((p) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'False'), { what: 'pods marked not ready' });

      await clock.advance(61_000);
      await waitFor(async () => !!(await pods.get(ns, 'short')).metadata.deletionTimestamp, { what: 'short toleration evicted' });
      assert.ok(!(await pods.get(ns, 'plain')).metadata.deletionTimestamp, 'default toleration (300 s) not yet over');

      await clock.advance(240_000);
      await waitFor(async () => !!(await pods.get(ns, 'plain')).metadata.deletionTimestamp, { what: 'default toleration evicted' });
      assert.ok(!(await pods.get(ns, 'forever')).metadata.deletionTimestamp, 'tolerates forever');

      // The kubelet is back and posts Ready: the taints go.
      const cur = await nodes.get(undefined, 'n1');
      const t = rfc3339(clock.now());
      await nodes.updateStatus({ ...cur, status: { ...cur.status, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }] } });
      await waitFor(async () => ((await nodes.get(undefined, 'n1')).spec?.taints ?? []).length === 0, { what: 'taints removed' });
    });

    it('marks a node that never posted status with NodeStatusNeverUpdated', async () => {
      await nodes.create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'silent' } });
      await waitFor(() => lifecycle.lastProbe('silent') !== undefined);
      await clock.advance(41_000);
      const ready = await waitFor(async () => {
        const r = await readyOf('silent');
        return r?.status === 'Unknown' && r;
      }, { what: 'Ready Unknown' });
      assert.equal(ready.reason, 'NodeStatusNeverUpdated');
      assert.equal(ready.message, 'Kubelet never posted node status.');
    });
  });

  describe('node lifecycle with configured times (flags, real clock)', () => {
    it('a node that stops renewing its Lease is marked and its pods evicted within the configured times', async () => {
      const GRACE = 2000;
      const PERIOD = 250;
      const TOLERATION_S = 2;
      const { options } = parseControllerManagerFlags([`--node-monitor-grace-period=${GRACE}ms`, `--node-monitor-period=${PERIOD}ms`, '--leader-elect=false', '--controllers=nodelifecycle']);
      const nodes = cluster.rest.resource<Node>(NODES);
      const leases = cluster.rest.resource<Lease>(LEASES);
      const pods = cluster.rest.resource<Pod>(PODS);
      const ns = await createNamespace(cluster.rest);
      // When this process first sees each change, from its own watches.
      const seen: { unknown?: number; tainted?: number; evicted?: number; notReady?: number } = {};
      const informers = new InformerFactory(cluster.rest);
      informers.for<Node>(NODES).addEventHandler({
        onUpdate: (_o, n) => {
          if (n.metadata.name !== 'quiet') return;
          if (n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'Unknown') seen.unknown ??= Date.now();
          if (n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute')) seen.tainted ??= Date.now();
        },
      });
      informers.for<Pod>(PODS).addEventHandler({
        onUpdate: (_o, p) => {
          if (p.metadata.namespace !== ns) return;
          if (p.metadata.name === 'short' && p.metadata.deletionTimestamp) seen.evicted ??= Date.now();
          if (p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'False') seen.notReady ??= Date.now();
        },
        onDelete: (p) => {
          if (p.metadata.namespace === ns && p.metadata.name === 'short') seen.evicted ??= Date.now();
        },
      });
      informers.start();
      await informers.waitForSync();
      const cm = await startControllerManager({ rest: cluster.rest, ...options });
      try {
        await nodes.create(undefined, node('quiet', Date.now()));
        let lease = await leases.create('kube-node-lease', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'quiet' }, spec: { holderIdentity: 'quiet', leaseDurationSeconds: 2, renewTime: microTime(Date.now()) } });
        const mk = async (name: string, tolerations: NonNullable<Pod['spec']['tolerations']>): Promise<void> => {
          const p = await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: 'quiet', tolerations, containers: [{ name: 'c', image: 'nginx' }] } });
          await setPodReady(pods, p);
        };
        await mk('short', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: TOLERATION_S }]);
        await mk('plain', []);
        // The node's agent renews every half grace period for a while, then stops.
        let lastRenew = 0;
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, GRACE / 2));
          lastRenew = Date.now();
          lease = await leases.update({ ...lease, spec: { ...lease.spec, renewTime: microTime(lastRenew) } });
          assert.equal(seen.unknown, undefined, 'a node that renews is never marked');
        }
        await waitFor(() => seen.evicted, { timeoutMs: GRACE + PERIOD + TOLERATION_S * 1000 + 5000, what: 'eviction' });
        const marked = seen.unknown! - lastRenew;
        assert.ok(marked >= GRACE, `marked ${marked} ms after the last renewal, within the grace period`);
        // The monitor runs every period; 300 ms for requests and watches on a loaded machine.
        assert.ok(marked <= GRACE + PERIOD + 300, `marked ${marked} ms after the last renewal`);
        assert.ok(seen.tainted! - seen.unknown! <= PERIOD + 300, 'tainted with the mark');
        assert.ok(seen.notReady! - seen.unknown! <= PERIOD + 300, 'pods marked not ready with the node');
        // Taint times have one-second precision (as metav1.Time): the eviction may come up to a second early.
        const evicted = seen.evicted! - seen.tainted!;
        assert.ok(evicted >= TOLERATION_S * 1000 - 1000 && evicted <= TOLERATION_S * 1000 + PERIOD + 300, `evicted ${evicted} ms after the taint`);
        assert.ok(!(await pods.get(ns, 'plain')).metadata.deletionTimestamp, 'the default toleration (300 s) is not over');
      } finally {
        await cm.stop();
        await informers.stop();
        await nodes.delete(undefined, 'quiet');
      }
    });
  });

  describe('node IPAM', () => {
    it('gives each node a /24 from 10.42.0.0/16, skipping subnets already assigned', async () => {
      const nodes = cluster.rest.resource<Node>(NODES);
      await nodes.create(undefined, node('ipam-a', Date.now(), '10.42.0.0/24'));
      const cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['nodeipam'] });
      try {
        await nodes.create(undefined, node('ipam-b', Date.now()));
        await nodes.create(undefined, node('ipam-c', Date.now()));
        // Every node (those of the tests above too) gets its own subnet.
        const cidrs = await waitFor(async () => {
          const list = (await nodes.list()).items;
          return list.length >= 3 && list.every((n) => n.spec?.podCIDR) && Object.fromEntries(list.map((n) => [n.metadata.name, n.spec?.podCIDR]));
        }, { what: 'pod CIDRs' });
        assert.equal(cidrs['ipam-a'], '10.42.0.0/24');
        const all = Object.values(cidrs);
        assert.equal(new Set(all).size, all.length, `distinct: ${all.join(' ')}`);
        for (const c of all) assert.match(String(c), /^10\.42\.\d+\.0\/24$/);
        const b = await nodes.get(undefined, 'ipam-b');
        assert.deepEqual(b.spec?.podCIDRs, [b.spec?.podCIDR]);
      } finally {
        await cm.stop();
      }
    });
  });
  describe('hollow nodes', () => {
    it('renew their leases ahead of a backlog of pod-status writes (heartbeats have slots of their own)', async () => {
      const clock = new FakeClock(Date.now());
      const ns = await createNamespace(cluster.rest, 'hb');
      const leases = cluster.rest.resource<Lease>(LEASES);
      const pods = cluster.rest.resource<Pod>(PODS);
      // One slot for pod writes: every status write of the pods below waits in one queue.
      const hollow = await startHollowNodes({ rest: cluster.rest, count: 2, prefix: 'hb-', clock, concurrency: 1 });
      try {
        const first = await waitFor(() => leases.get('kube-node-lease', 'hb-0').catch(() => undefined), { what: 'the first lease' });
        const n = 300;
        const running = (): Promise<number> => pods.list(ns).then((l) => l.items.filter((p) => p.status?.phase === 'Running').length);
        await Promise.all(
          Array.from({ length: 16 }, async (_, w) => {
            for (let i = w; i < n; i += 16) {
              await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}` }, spec: { nodeName: 'hb-0', containers: [{ name: 'c', image: 'x:1' }] } });
            }
          }),
        );
        assert.ok((await running()) < n, 'the status writes are backlogged');
        await clock.advance(LEASE_RENEW_MS);
        await waitFor(async () => (await leases.get('kube-node-lease', 'hb-0')).spec?.renewTime !== first.spec?.renewTime, { what: 'the lease renewed' });
        const done = await running();
        assert.ok(done < n, `the lease was renewed before the backlog drained (${done} of ${n} pods Running)`);
        await waitFor(async () => (await running()) === n, { what: 'every pod Running', timeoutMs: 20_000 });
      } finally {
        await hollow.stop();
        for (const name of hollow.nodes) await cluster.rest.resource<Node>(NODES).delete(undefined, name);
      }
    });
  });
});
