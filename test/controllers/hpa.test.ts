// The horizontal pod autoscaler against a real API server, a ReplicaSet controller and a hollow kubelet, with a fake
// clock and pod usage fed by the test (FedMetrics stands in for metrics.k8s.io, whose numbers come from real agents):
// scale up on CPU utilization, the tolerance, the downscale stabilization window, behavior rate limits, missing
// metrics, the v1 view of the same object, and the real kubectl's `autoscale` and `get hpa`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMillis } from '../../api/quantity.js';
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerV1 } from '../../api/index.js';
import type { ResourceClient } from '../../client/index.js';
import { HORIZONTALPODAUTOSCALERS } from '../../client/resources.js';
import { PODS, REPLICASETS, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { HorizontalController } from '../../controllers/podautoscaler/horizontal-controller.js';
import type { ResourceMetricsSource } from '../../controllers/podautoscaler/metrics.js';
import type { PodMetrics } from '../../controllers/podautoscaler/replica-calculator.js';
import { ReplicaSetController } from '../../controllers/replicaset/replicaset-controller.js';
import { FakeClock } from '../../lib/clock.js';
import { parseLabelSelector, matchesLabelSelector } from '../../api/selectors.js';
import { waitFor } from '../support/util.js';
import { createNamespace, HollowKubelet, replicaSet, startTestCluster, type TestCluster } from './harness.js';
import { runControllers, type RunningControllers } from './job-harness.js';
import type { Controller } from '../../controllers/framework/controller.js';

/** A fake metrics API, the point of these tests: each pod's usage is what `usage(pod)` says at the time of the read. */
class FedMetrics implements ResourceMetricsSource {
  usage: (pod: Pod, resource: string) => string | undefined = () => undefined;
  constructor(
    private readonly pods: ResourceClient<Pod>,
    private readonly clock: FakeClock,
  ) {}

  async podMetrics(namespace: string, labelSelector: string, resource: string): Promise<PodMetrics> {
    const sel = parseLabelSelector(labelSelector);
    const out: PodMetrics = new Map();
    for (const pod of (await this.pods.list(namespace)).items) {
      const u = matchesLabelSelector(sel, pod.metadata.labels ?? {}) ? this.usage(pod, resource) : undefined;
      if (u !== undefined) out.set(pod.metadata.name ?? '', { value: cpuMillis(u), timestampMs: this.clock.now(), windowMs: 10_000 });
    }
    if (!out.size) throw new Error('no metrics returned from resource metrics API');
    return out;
  }
}

const SYNC = 15_000;

/** The controller under test, counting its passes per HPA so that a test waits for one instead of sleeping. */
class CountingHpa extends HorizontalController {
  readonly passes = new Map<string, number>();
  override async processKey(key: string, signal?: AbortSignal): Promise<void> {
    await super.processKey(key, signal);
    this.passes.set(key, (this.passes.get(key) ?? 0) + 1);
  }
}

describe('horizontal pod autoscaler (fake clock, fed metrics)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let hpas: ResourceClient<HorizontalPodAutoscaler>;
  let rss: ResourceClient<ReplicaSet>;
  let clock: FakeClock;
  let metrics: FedMetrics;
  let ctrls: RunningControllers<Controller>[] = [];
  let hpaCtrl: CountingHpa;

  before(async () => {
    cluster = await startTestCluster();
    hpas = cluster.rest.resource<HorizontalPodAutoscaler>(HORIZONTALPODAUTOSCALERS);
    rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
    // Past the CPU initialization period of the pods that the hollow kubelet starts now.
    clock = new FakeClock(Date.now() + 10 * 60_000);
    metrics = new FedMetrics(cluster.rest.resource<Pod>(PODS), clock);
    ctrls = [
      await runControllers(cluster.rest, (ctx) => new ReplicaSetController(ctx)),
      await runControllers(cluster.rest, (ctx) => (hpaCtrl = new CountingHpa(ctx, { metrics, syncPeriodMs: SYNC })), clock),
    ];
  });
  after(async () => {
    for (const c of ctrls) await c.stop();
    await cluster?.close();
  });

  /** A namespace with a hollow kubelet and a ReplicaSet `web` whose pods request 100m CPU and 64Mi. */
  async function target(replicas: number): Promise<{ ns: string; kubelet: HollowKubelet }> {
    const ns = await createNamespace(cluster.rest);
    const kubelet = new HollowKubelet(cluster.rest, ns);
    await kubelet.start();
    const rs = replicaSet('web', replicas);
    rs.spec.template!.spec!.containers[0]!.resources = { requests: { cpu: '100m', memory: '64Mi' } };
    await rss.create(ns, rs);
    await waitForReady(ns, replicas);
    return { ns, kubelet };
  }
  async function waitForReady(ns: string, n: number): Promise<void> {
    await waitFor(async () => (await rss.get(ns, 'web')).status?.readyReplicas === n, { what: `${n} ready pods` });
  }
  const hpa = (spec: Partial<HorizontalPodAutoscaler['spec']>): HorizontalPodAutoscaler => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web' }, maxReplicas: 10, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }], ...spec },
  });
  const replicasOf = async (ns: string): Promise<number> => (await rss.get(ns, 'web')).spec.replicas ?? 0;
  const cond = async (ns: string, type: string): Promise<string> => {
    const c = (await hpas.get(ns, 'web')).status?.conditions?.find((x) => x.type === type);
    return `${c?.status ?? ''} ${c?.reason ?? ''}`;
  };
  /** Creates the HPA and runs its first pass (kube's first comes a sync period after the HPA is seen). */
  async function createHpa(ns: string, obj: HorizontalPodAutoscaler): Promise<void> {
    await hpas.create(ns, obj);
    await firstPass(ns, obj.metadata.name ?? '');
  }
  async function firstPass(ns: string, name: string): Promise<void> {
    await waitFor(() => ctrls[1]!.informers.for<HorizontalPodAutoscaler>(HORIZONTALPODAUTOSCALERS).indexer.get(`${ns}/${name}`) !== undefined, { what: 'the HPA seen' });
    await tick(ns, SYNC, name);
  }
  /** Moves the clock on by ms (a sync period by default) and waits for the HPA's next pass. */
  async function tick(ns: string, ms = SYNC, name = 'web'): Promise<void> {
    const key = `${ns}/${name}`;
    const before = hpaCtrl.passes.get(key) ?? 0;
    await clock.advance(ms);
    await waitFor(() => (hpaCtrl.passes.get(key) ?? 0) > before, { what: 'an HPA pass' });
  }

  it('scales up on CPU above target, keeps the size within tolerance, and reports it in v2, v1 and kubectl', async () => {
    const { ns, kubelet } = await target(2);
    try {
      metrics.usage = (_pod, r) => (r === 'cpu' ? '100m' : undefined); // 100% of the request, target 50%
      await createHpa(ns, hpa({ minReplicas: 1 }));
      assert.equal(await replicasOf(ns), 4);
      const st = (await hpas.get(ns, 'web')).status!;
      assert.equal(st.currentReplicas, 2);
      assert.ok(st.lastScaleTime);
      assert.deepEqual(st.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageValue: '100m', averageUtilization: 100 } } }]);
      assert.equal(await cond(ns, 'AbleToScale'), 'True SucceededRescale');
      assert.equal(await cond(ns, 'ScalingActive'), 'True ValidMetricFound');
      assert.equal(await cond(ns, 'ScalingLimited'), 'False DesiredWithinRange');
      const events = await cluster.rest.request<{ items: { reason?: string; message?: string }[] }>('GET', `/api/v1/namespaces/${ns}/events`);
      assert.ok(events.items.some((e) => e.reason === 'SuccessfulRescale' && e.message === 'New size: 4; reason: cpu resource utilization (percentage of request) above target'), JSON.stringify(events.items.map((e) => e.message)));

      // 54% against 50%: within the 0.1 tolerance, no change.
      await waitForReady(ns, 4);
      metrics.usage = (_pod, r) => (r === 'cpu' ? '54m' : undefined);
      await tick(ns);
      await tick(ns);
      assert.equal(await replicasOf(ns), 4);
      assert.equal((await hpas.get(ns, 'web')).status?.currentMetrics?.[0]?.resource?.current.averageUtilization, 54);

      const v1 = await cluster.rest.request<HorizontalPodAutoscalerV1>('GET', `/apis/autoscaling/v1/namespaces/${ns}/horizontalpodautoscalers/web`);
      assert.equal(v1.spec.targetCPUUtilizationPercentage, 50);
      assert.equal(v1.status?.currentCPUUtilizationPercentage, 54);
      assert.equal(v1.status?.currentReplicas, 4);

      const home = mkdtempSync(join(tmpdir(), 'ketch-hpa-kubectl-'));
      try {
        const kubectl = (...args: string[]): Promise<string> =>
          new Promise((resolve, reject) =>
            execFile('/usr/bin/kubectl', ['-n', ns, ...args], { env: { ...process.env, KUBECONFIG: cluster.server.adminKubeconfigPath, HOME: home } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
          );
        const table = await kubectl('get', 'hpa', 'web');
        assert.match(table, /^NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE$/m);
        assert.match(table, /^web\s+ReplicaSet\/web\s+cpu: 54%\/50%\s+1\s+10\s+4\s+/m);
        const described = await kubectl('describe', 'hpa', 'web');
        assert.match(described, /resource cpu on pods\s+\(as a percentage of request\):\s+54% \(54m\) \/ 50%/);
        assert.match(described, /ScalingActive\s+True\s+ValidMetricFound\s+the HPA was able to successfully calculate a replica count from cpu resource utilization \(percentage of request\)/);
        assert.match(described, /Normal\s+SuccessfulRescale\s+.*New size: 4; reason: cpu resource utilization \(percentage of request\) above target/);
        await rss.create(ns, { ...replicaSet('api', 1), metadata: { name: 'api' } });
        assert.match(await kubectl('autoscale', 'rs', 'api', '--min=2', '--max=5', '--cpu-percent=70'), /horizontalpodautoscaler.autoscaling\/api autoscaled/);
        const made = await hpas.get(ns, 'api');
        assert.equal(made.spec.maxReplicas, 5);
        assert.deepEqual(made.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
        // Below minReplicas: raised to it whatever the metrics.
        await firstPass(ns, 'api');
        assert.equal((await rss.get(ns, 'api')).spec.replicas, 2, 'api raised to minReplicas');
        assert.equal(((await hpas.get(ns, 'api')).status?.conditions ?? []).find((c) => c.type === 'ScalingActive')?.status, undefined, 'no metrics were computed');
        await hpas.delete(ns, 'api');
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    } finally {
      await hpas.delete(ns, 'web');
      await kubelet.stop();
    }
  });

  it('scales down only after the downscale stabilization window (5 min)', async () => {
    const { ns, kubelet } = await target(4);
    try {
      metrics.usage = (_pod, r) => (r === 'cpu' ? '50m' : undefined);
      await createHpa(ns, hpa({ minReplicas: 1 }));
      assert.equal(await cond(ns, 'ScalingActive'), 'True ValidMetricFound');
      metrics.usage = (_pod, r) => (r === 'cpu' ? '10m' : undefined); // 10%: 1 replica wanted
      await tick(ns);
      assert.equal(await replicasOf(ns), 4, 'the recommendation of 4 a sync ago holds');
      assert.equal(await cond(ns, 'AbleToScale'), 'True ScaleDownStabilized');
      for (let t = 0; t < 5 * 60_000; t += 60_000) await tick(ns, 60_000);
      assert.equal(await replicasOf(ns), 1, 'scaled down to 1 after the window');
      const events = await cluster.rest.request<{ items: { reason?: string; message?: string }[] }>('GET', `/api/v1/namespaces/${ns}/events`);
      assert.ok(events.items.some((e) => e.message === 'New size: 1; reason: All metrics below target'));
    } finally {
      await hpas.delete(ns, 'web');
      await kubelet.stop();
    }
  });

  it('limits scale-up by the behavior policies, per period', async () => {
    const { ns, kubelet } = await target(1);
    try {
      metrics.usage = (_pod, r) => (r === 'cpu' ? '200m' : undefined); // 400%: 4x the pods wanted
      await createHpa(ns, hpa({ minReplicas: 1, behavior: { scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } } }));
      assert.equal(await replicasOf(ns), 2, 'one pod added');
      assert.equal(await cond(ns, 'ScalingLimited'), 'True ScaleUpLimit');
      const stored = await hpas.get(ns, 'web');
      assert.deepEqual(stored.spec.behavior?.scaleDown, { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] }, 'defaults filled in');
      await waitForReady(ns, 2);
      await tick(ns);
      assert.equal(await replicasOf(ns), 2, 'one pod per 60 s: none more 15 s later');
      await tick(ns, 50_000);
      assert.equal(await replicasOf(ns), 3, 'the next pod after the period');
    } finally {
      await hpas.delete(ns, 'web');
      await kubelet.stop();
    }
  });

  it('reports missing metrics as ScalingActive False, and a missing target as AbleToScale False', async () => {
    const { ns, kubelet } = await target(2);
    try {
      metrics.usage = () => undefined;
      await createHpa(ns, hpa({ minReplicas: 1 }));
      assert.equal(await cond(ns, 'ScalingActive'), 'False FailedGetResourceMetric');
      const msg = (await hpas.get(ns, 'web')).status?.conditions?.find((c) => c.type === 'ScalingActive')?.message ?? '';
      assert.match(msg, /^the HPA was unable to compute the replica count: unable to get metrics for resource cpu: no metrics returned from resource metrics API/);
      assert.equal(await replicasOf(ns), 2);
      await hpas.patch(ns, 'web', { spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gone' } } });
      await waitFor(() => ctrls[1]!.informers.for<HorizontalPodAutoscaler>(HORIZONTALPODAUTOSCALERS).indexer.get(`${ns}/web`)?.spec.scaleTargetRef.name === 'gone', { what: 'the change seen' });
      await tick(ns);
      assert.equal(await cond(ns, 'AbleToScale'), 'False FailedGetScale');
    } finally {
      await hpas.delete(ns, 'web');
      await kubelet.stop();
    }
  });
});
