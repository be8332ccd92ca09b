// Two `ketch controller-manager` processes on one API server: SIGKILL the leader in the middle of a rolling update; the
// standby must take the Lease within the lease duration and finish the rollout without creating a pod twice.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LEASES, type Lease, type ResourceClient } from '../../client/index.js';
import { controllerRefOf } from '../../controllers/framework/owners.js';
import { DEPLOYMENTS, PODS, REPLICASETS, type Deployment, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';
import { waitFor } from '../support/util.js';
import { createNamespace, deployment, HollowKubelet, PodWatcher, rolloutStatus, startTestCluster, type TestCluster } from './harness.js';

const ENTRY = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));
const LEASE_MS = 3000;
const RETRY_MS = 500;

/** A `ketch controller-manager` child process; its stderr is kept for the failure message. */
class ManagerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output = '';

  constructor(kubeconfig: string, readonly identity: string) {
    this.child = spawn(
      process.execPath,
      [
        '--import', 'tsx', ENTRY, 'controller-manager',
        '--kubeconfig', kubeconfig,
        '--leader-elect-lease-duration', `${LEASE_MS}ms`,
        '--leader-elect-renew-deadline', '2s',
        '--leader-elect-retry-period', `${RETRY_MS}ms`,
        '--leader-elect-identity', identity,
        '--controllers', 'replicaset,deployment',
        // Two managers on one host: no secure port (kube's 10257 could be taken only once).
        '--secure-port', '0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'info', KETCH_LOG_FORMAT: 'json' } },
    );
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  running(): Promise<boolean> {
    return waitFor(() => {
      if (this.child.exitCode !== null) throw new Error(`${this.identity} exited at start (${this.child.exitCode}): ${this.output}`);
      return this.output.includes('ketch controller-manager running');
    }, { timeoutMs: 60_000, what: `${this.identity} to start` });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

describe('controller manager failover (two processes)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  const managers: ManagerProcess[] = [];
  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    await cluster?.close();
  });

  it('killing the active controller manager mid-rollout hands leadership to a standby within the lease duration, and the rollout completes with no extra pods', async () => {
    const leases: ResourceClient<Lease> = cluster.rest.resource<Lease>(LEASES);
    const deps = cluster.rest.resource<Deployment>(DEPLOYMENTS);
    const pods = cluster.rest.resource<Pod>(PODS);
    const rss = cluster.rest.resource<ReplicaSet>(REPLICASETS);
    const holder = async (): Promise<Lease['spec']> => {
      try {
        return (await leases.get('kube-system', 'kube-controller-manager')).spec;
      } catch {
        return undefined;
      }
    };
    const kubeconfig = cluster.server.adminKubeconfigPath;

    // cm-a starts first and leads; cm-b waits on the Lease.
    const a = new ManagerProcess(kubeconfig, 'cm-a');
    managers.push(a);
    await a.running();
    await waitFor(async () => (await holder())?.holderIdentity === 'cm-a', { timeoutMs: 20_000, what: 'cm-a leads' });
    const b = new ManagerProcess(kubeconfig, 'cm-b');
    managers.push(b);
    await b.running();

    const replicas = 6;
    const maxSurge = 1;
    const ns = await createNamespace(cluster.rest);
    // Ready 300 ms after creation: the rollout takes several seconds, so the kill lands in its middle.
    const kubelet = new HollowKubelet(cluster.rest, ns, { delayMs: 300 });
    await kubelet.start();
    const watcher = new PodWatcher(pods, ns, (live) => (live.length > replicas + maxSurge ? `${live.length} pods > ${replicas}+${maxSurge}` : undefined));
    await watcher.start();
    const rolledOut = (timeoutMs: number): Promise<Deployment> =>
      waitFor(async () => {
        const d = await deps.get(ns, 'web');
        return rolloutStatus(d).done && (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && d;
      }, { timeoutMs, what: 'rollout' });
    try {
      await deps.create(ns, deployment('web', replicas, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable: 0 } } }));
      await rolledOut(30_000);
      assert.equal(kubelet.seen.length, replicas);
      watcher.checking = true;

      await deps.patch(ns, 'web', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } }, 'strategic');
      const isNew = (p: Pod): boolean => p.spec.containers[0]?.image === 'nginx:2';
      await waitFor(() => watcher.live().filter(isNew).length >= 2, { timeoutMs: 20_000, intervalMs: 10, what: 'two new pods' });
      assert.ok(watcher.live().some((p) => !isNew(p)), 'the kill lands before the rollout is over');

      const lastSeen = await holder();
      assert.equal(lastSeen?.holderIdentity, 'cm-a');
      const killedAt = Date.now();
      a.child.kill('SIGKILL');
      await a.exited;

      // Poll the Lease: the last renewal by cm-a, then cm-b's acquisition.
      let lastRenew = Date.parse(lastSeen?.renewTime ?? '');
      const taken = await waitFor(async () => {
        const s = await holder();
        if (s?.holderIdentity === 'cm-a') lastRenew = Date.parse(s.renewTime ?? '');
        return s?.holderIdentity === 'cm-b' && s;
      }, { timeoutMs: 15_000, intervalMs: 20, what: 'cm-b takes the Lease' });
      const acquired = Date.parse(taken.acquireTime ?? '');
      const afterRenew = acquired - lastRenew;
      const afterKill = acquired - killedAt;
      // Not before the lease ran out (that would be two leaders), and at most one retry period after it, with 250 ms
      // for timers and requests on a loaded machine.
      assert.ok(afterRenew >= LEASE_MS, `taken ${afterRenew} ms after the last renewal, before the lease expired`);
      assert.ok(afterRenew <= LEASE_MS + RETRY_MS + 250, `taken ${afterRenew} ms after the last renewal`);
      assert.ok(afterKill <= LEASE_MS + RETRY_MS + 250, `taken ${afterKill} ms after the kill`);
      assert.equal(taken.leaseTransitions, 1);

      const done = await rolledOut(60_000);
      assert.deepEqual(watcher.violations, []);
      assert.ok(watcher.maxPods <= replicas + maxSurge, `at most ${replicas}+${maxSurge} pods, saw ${watcher.maxPods}`);
      const live = watcher.live();
      assert.equal(live.length, replicas);
      assert.ok(live.every(isNew));
      assert.equal((await pods.list(ns)).items.length, replicas);
      // Each old pod was replaced once: a pod created twice (two managers acting, or lost expectations) shows here.
      assert.equal(kubelet.seen.length, 2 * replicas, `pods created: ${kubelet.seen.join(' ')}`);
      const sets = (await rss.list(ns)).items.filter((rs) => controllerRefOf(rs)?.uid === done.metadata.uid);
      assert.deepEqual(sets.map((rs) => rs.spec.replicas).sort(), [0, replicas]);
    } catch (err) {
      process.stderr.write(`--- cm-a ---\n${a.output}\n--- cm-b ---\n${b.output}\n`);
      throw err;
    } finally {
      await watcher.stop();
      await kubelet.stop();
    }
  });
});
