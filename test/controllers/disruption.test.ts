// PodDisruptionBudgets against a real API server: the disruption controller's status (expectedPods from the pods or
// their controller's scale, desiredHealthy, currentHealthy, disruptionsAllowed, DisruptionAllowed), and the eviction
// subresource spending the budget and refusing with kube's 429 once it is spent, until the pod is replaced; the real
// kubectl drain waiting on a budget.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../../api/errors.js';
import type { PodDisruptionBudget } from '../../api/index.js';
import type { ResourceClient } from '../../client/index.js';
import { PODDISRUPTIONBUDGETS } from '../../client/resources.js';
import { DisruptionController } from '../../controllers/disruption/disruption-controller.js';
import { ReplicaSetController } from '../../controllers/replicaset/replicaset-controller.js';
import { PODS, REPLICASETS, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { FakeClock } from '../../lib/clock.js';
import { rfc3339 } from '../../controllers/framework/pods.js';
import { waitFor } from '../support/util.js';
import { deleteNodes, FakeKubelet, registerNodes } from './nodes.js';
import { createNamespace, HollowKubelet, replicaSet, setPodReady, startTestCluster, type TestCluster } from './harness.js';
import { runControllers, type RunningControllers } from './job-harness.js';
import type { Controller } from '../../controllers/framework/controller.js';

const pdb = (name: string, spec: PodDisruptionBudget['spec']): PodDisruptionBudget => ({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name }, spec });

describe('disruption controller and evictions', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let pdbs: ResourceClient<PodDisruptionBudget>;
  let pods: ResourceClient<Pod>;
  let ctrls: RunningControllers<Controller>[] = [];

  before(async () => {
    cluster = await startTestCluster();
    pdbs = cluster.rest.resource<PodDisruptionBudget>(PODDISRUPTIONBUDGETS);
    pods = cluster.rest.resource<Pod>(PODS);
    // The ReplicaSet controller replaces evicted pods.
    ctrls = [await runControllers(cluster.rest, (ctx) => new ReplicaSetController(ctx)), await runControllers(cluster.rest, (ctx) => new DisruptionController(ctx))];
  });
  after(async () => {
    for (const c of ctrls) await c.stop();
    await cluster?.close();
  });

  /** A namespace with a hollow kubelet; `ready` says which pods it reports Ready. */
  async function namespace(ready?: (p: Pod) => boolean): Promise<{ ns: string; kubelet: HollowKubelet }> {
    const ns = await createNamespace(cluster.rest);
    const kubelet = new HollowKubelet(cluster.rest, ns, ready ? { ready } : {});
    await kubelet.start();
    return { ns, kubelet };
  }

  const statusOf = async (ns: string, name: string): Promise<NonNullable<PodDisruptionBudget['status']>> => (await pdbs.get(ns, name)).status!;
  const waitStatus = async (ns: string, name: string, want: Partial<NonNullable<PodDisruptionBudget['status']>>, what: string): Promise<void> => {
    await waitFor(
      async () => {
        const st = await statusOf(ns, name);
        return Object.entries(want).every(([k, v]) => JSON.stringify(st[k as keyof typeof st]) === JSON.stringify(v));
      },
      { what },
    );
  };
  const evict = (ns: string, name: string): Promise<unknown> =>
    cluster.rest.request('POST', `/api/v1/namespaces/${ns}/pods/${name}/eviction`, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns } } });
  const readyPods = async (ns: string): Promise<Pod[]> =>
    (await pods.list(ns)).items.filter((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

  it('keeps the status from the pods, spends it on an eviction, refuses the next with 429, and recovers', async () => {
    const { ns, kubelet } = await namespace();
    try {
      await cluster.rest.resource<ReplicaSet>(REPLICASETS).create(ns, replicaSet('web', 3));
      await pdbs.create(ns, pdb('web', { minAvailable: 2, selector: { matchLabels: { app: 'web' } } }));
      await waitStatus(ns, 'web', { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1, observedGeneration: 1 }, 'the budget counting 3 healthy pods');
      const cond = (await statusOf(ns, 'web')).conditions?.find((c) => c.type === 'DisruptionAllowed');
      assert.equal(cond?.status, 'True');
      assert.equal(cond?.reason, 'SufficientPods');

      const [first, second] = await readyPods(ns);
      await evict(ns, first!.metadata.name!);
      const after = await statusOf(ns, 'web');
      assert.equal(after.disruptionsAllowed, 0, 'the eviction spent the budget');
      assert.ok(after.disruptedPods?.[first!.metadata.name!], 'the evicted pod is recorded');

      const err = await evict(ns, second!.metadata.name!).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError, `refused: ${String(err)}`);
      assert.equal(err.code, 429);
      assert.equal(err.message, "Cannot evict pod as it would violate the pod's disruption budget.");
      assert.match(JSON.stringify(err.status.details?.causes ?? []), /The disruption budget web needs 2 healthy pods and has [23] currently/);
      assert.ok((await pods.list(ns)).items.some((p) => p.metadata.name === second!.metadata.name && !p.metadata.deletionTimestamp), 'the refused pod stays');

      // The ReplicaSet replaces the evicted pod; once it is Ready the budget allows one disruption again.
      await waitStatus(ns, 'web', { currentHealthy: 3, disruptionsAllowed: 1 }, 'the budget back to one allowed disruption');
      assert.equal((await statusOf(ns, 'web')).disruptedPods, undefined, 'the deleted pod forgotten');
      await evict(ns, second!.metadata.name!);
    } finally {
      await kubelet.stop();
    }
  });

  it('counts a percentage or maxUnavailable against the controller scale, and unready pods not healthy', async () => {
    // One of four pods never becomes Ready.
    let unready = '';
    const { ns, kubelet } = await namespace((p) => {
      unready ||= p.metadata.name ?? '';
      return p.metadata.name !== unready;
    });
    try {
      await cluster.rest.resource<ReplicaSet>(REPLICASETS).create(ns, replicaSet('db', 4));
      await pdbs.create(ns, pdb('half', { minAvailable: '50%', selector: { matchLabels: { app: 'db' } } }));
      await pdbs.create(ns, pdb('one', { maxUnavailable: 1, selector: { matchLabels: { app: 'db' } } }));
      await waitStatus(ns, 'half', { expectedPods: 4, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 }, 'minAvailable 50% of 4');
      await waitStatus(ns, 'one', { expectedPods: 4, desiredHealthy: 3, currentHealthy: 3, disruptionsAllowed: 0 }, 'maxUnavailable 1 of 4 with one unready');
      const cond = (await statusOf(ns, 'one')).conditions?.find((c) => c.type === 'DisruptionAllowed');
      assert.equal(cond?.status, 'False');
      assert.equal(cond?.reason, 'InsufficientPods');

      // Two budgets over one pod: kube's eviction refuses it (500).
      const [ready] = await readyPods(ns);
      const err = await evict(ns, ready!.metadata.name!).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 500);
      assert.match(err.message, /more than one PodDisruptionBudget/);

      // Scaling the ReplicaSet up moves expectedPods with it.
      await cluster.rest.resource<ReplicaSet>(REPLICASETS).patch(ns, 'db', { spec: { replicas: 6 } });
      await waitStatus(ns, 'one', { expectedPods: 6, desiredHealthy: 5, currentHealthy: 5, disruptionsAllowed: 0 }, 'the scale followed');
    } finally {
      await kubelet.stop();
    }
  });

  it('refuses a running unready pod while the budget is unhealthy (IfHealthyBudget) and lets it go with AlwaysAllow, unrecorded', async () => {
    let unready = '';
    const { ns, kubelet } = await namespace((p) => {
      unready ||= p.metadata.name ?? '';
      return p.metadata.name !== unready;
    });
    try {
      await cluster.rest.resource<ReplicaSet>(REPLICASETS).create(ns, replicaSet('api', 3));
      await pdbs.create(ns, pdb('api', { minAvailable: 3, selector: { matchLabels: { app: 'api' } } }));
      await waitStatus(ns, 'api', { expectedPods: 3, desiredHealthy: 3, currentHealthy: 2, disruptionsAllowed: 0 }, 'two of three healthy');
      // A pending pod may always go; this one runs, unready, as a kubelet reports it.
      await setPodReady(pods, await pods.get(ns, unready), false);
      // Running but not Ready, and the budget is not healthy: the unready pod is refused too.
      const err = await evict(ns, unready).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError && err.code === 429, `refused with 429: ${String(err)}`);
      // AlwaysAllow lets unready pods go whatever the budget.
      await pdbs.patch(ns, 'api', { spec: { unhealthyPodEvictionPolicy: 'AlwaysAllow' } });
      await waitStatus(ns, 'api', { observedGeneration: 2 }, 'the new generation observed');
      await evict(ns, unready);
      await waitFor(async () => !(await pods.list(ns)).items.some((p) => p.metadata.name === unready && !p.metadata.deletionTimestamp), { what: 'the unready pod evicted' });
      assert.equal((await statusOf(ns, 'api')).disruptedPods?.[unready], undefined, 'an unready pod is not recorded as a disruption');
    } finally {
      await kubelet.stop();
    }
  });

  it('counts an unmanaged pod under an integer minAvailable, and a dry-run eviction spends nothing', async () => {
    const ns = await createNamespace(cluster.rest);
    await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lone', labels: { app: 'lone' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    await pods.patch(ns, 'lone', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, 'merge', { sub: 'status' });
    await pdbs.create(ns, pdb('lone', { minAvailable: 0, selector: { matchLabels: { app: 'lone' } } }));
    await waitStatus(ns, 'lone', { expectedPods: 1, desiredHealthy: 0, currentHealthy: 1, disruptionsAllowed: 1 }, 'one unmanaged pod counted');
    await cluster.rest.request('POST', `/api/v1/namespaces/${ns}/pods/lone/eviction`, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'lone', namespace: ns } }, query: { dryRun: 'All' } });
    assert.equal((await statusOf(ns, 'lone')).disruptionsAllowed, 1, 'a dry run spends nothing');
    assert.equal((await pods.get(ns, 'lone')).metadata.deletionTimestamp, undefined, 'and deletes nothing');
    await evict(ns, 'lone');
    await waitStatus(ns, 'lone', { expectedPods: 0, currentHealthy: 0, disruptionsAllowed: 0 }, 'the budget with no pods');
  });

  it('makes the real kubectl drain wait and retry until the budget allows the next eviction', async function () {
    this.timeout(60_000);
    const ns = await createNamespace(cluster.rest);
    const node = `pdb-node-${process.pid}`;
    await registerNodes(cluster.rest, [{ name: node }]);
    const kubelet = new FakeKubelet(cluster.rest, ns);
    await kubelet.start();
    const home = mkdtempSync(join(tmpdir(), 'ketch-drain-pdb-'));
    try {
      const rs = replicaSet('drained', 2);
      rs.spec.template!.spec!.nodeName = node;
      await cluster.rest.resource<ReplicaSet>(REPLICASETS).create(ns, rs);
      await pdbs.create(ns, pdb('drained', { minAvailable: 1, selector: { matchLabels: { app: 'drained' } } }));
      await waitStatus(ns, 'drained', { currentHealthy: 2, disruptionsAllowed: 1 }, 'two healthy pods');
      const before = (await pods.list(ns)).items.map((p) => p.metadata.name).sort();
      const kubectl = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
        new Promise((resolve) =>
          execFile('/usr/bin/kubectl', args, { env: { ...process.env, KUBECONFIG: cluster.server.adminKubeconfigPath, HOME: home } }, (err, stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          ),
        );
      const table = (await kubectl('-n', ns, 'get', 'pdb')).stdout;
      assert.match(table, /^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE\n/);
      assert.match(table, /\ndrained\s+1\s+N\/A\s+1\s+/);
      const out = await kubectl('drain', node, '--grace-period=0', '--timeout=45s', '--pod-selector=app=drained');
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /error when evicting pods\/"drained-\w+" -n "[^"]+" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./);
      assert.match(out.stdout, new RegExp(`node/${node} drained`));
      const left = (await pods.list(ns)).items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
      assert.ok(before.every((n) => !left.includes(n)), 'both original pods evicted, one after the other');
    } finally {
      await kubelet.stop();
      await deleteNodes(cluster.rest, [node]);
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('resets to False a DisruptionTarget left on a pod that was not deleted, after 2 minutes (fake clock)', async () => {
    const clock = new FakeClock(Date.now());
    const own = await runControllers(cluster.rest, (ctx) => new DisruptionController(ctx), clock);
    try {
      const ns = await createNamespace(cluster.rest);
      await pods.create(ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kept' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
      await pods.patch(ns, 'kept', { status: { phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', lastTransitionTime: rfc3339(clock.now()) }] } }, 'merge', { sub: 'status' });
      await waitFor(() => own.informers.for<Pod>(PODS).indexer.get(`${ns}/kept`)?.status?.conditions?.some((c) => c.type === 'DisruptionTarget') === true, { what: 'the condition seen' });
      const target = async (): Promise<string | undefined> => (await pods.get(ns, 'kept')).status?.conditions?.find((c) => c.type === 'DisruptionTarget')?.status;
      await clock.advance(60_000);
      assert.equal(await target(), 'True', 'not stale after one minute');
      await clock.advance(61_000);
      await waitFor(async () => (await target()) === 'False', { what: 'the stale condition reset' });
    } finally {
      await own.stop();
    }
  });
});
