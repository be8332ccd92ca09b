// The real kubectl's rollout verbs (status, history, undo, restart) on DaemonSets and StatefulSets, which kubectl
// works out client-side from status fields and ControllerRevisions; against a real API server, the controllers and
// the scheduler on fake nodes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceClient } from '../../client/index.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { CONTROLLERREVISIONS, PODS, type ControllerRevision, type Pod } from '../../controllers/framework/types.js';
import { startScheduler, type RunningScheduler } from '../../scheduler/index.js';
import { PassThrough } from 'node:stream';
import { run } from '../../cli/main.js';
import { Sink } from '../cli/harness.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';
import { deleteNodes, FakeKubelet, registerNodes } from './nodes.js';

const NODES = ['rollout-a', 'rollout-b'];

describe('kubectl rollout on daemon sets and stateful sets', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let sched: RunningScheduler;
  let kubelet: FakeKubelet;
  let home: string;
  let ns: string;
  let pods: ResourceClient<Pod>;

  before(async () => {
    cluster = await startTestCluster();
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['daemonset', 'statefulset'] });
    sched = await startScheduler({ rest: cluster.rest });
    await registerNodes(cluster.rest, NODES.map((name) => ({ name, labels: { pool: 'rollout' } })));
    ns = await createNamespace(cluster.rest, 'rollout');
    kubelet = new FakeKubelet(cluster.rest, ns);
    await kubelet.start();
    pods = cluster.rest.resource<Pod>(PODS);
    home = mkdtempSync(join(tmpdir(), 'ketch-rollout-kubectl-'));
  });
  after(async () => {
    await kubelet?.stop();
    if (cluster) await deleteNodes(cluster.rest, NODES);
    await sched?.stop();
    await cm?.stop();
    await cluster?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, KUBECONFIG: cluster.server.adminKubeconfigPath, HOME: home, KUBECACHEDIR: join(home, 'cache') };
    return new Promise((resolve, reject) => {
      execFile('kubectl', ['-n', ns, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      });
    });
  }
  async function ok(...args: string[]): Promise<string> {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }
  const apply = async (name: string, yaml: string): Promise<string> => {
    const file = join(home, `${name}.yaml`);
    writeFileSync(file, yaml);
    return ok('apply', '-f', file);
  };
  const images = async (app: string): Promise<string[]> =>
    (await pods.list(ns, { labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0]!.image ?? '').sort();

  it('daemonset: status, history with change causes, undo to the previous template, restart', async () => {
    await apply('agent', `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, annotations: {kubernetes.io/change-cause: first}}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {pool: rollout}
      containers: [{name: c, image: "busybox:1"}]
`);
    assert.match(await ok('rollout', 'status', 'ds/agent', '--timeout=30s'), /daemon set "agent" successfully rolled out/);
    assert.deepEqual(await images('agent'), ['busybox:1', 'busybox:1']);
    const table = await ok('get', 'ds', 'agent');
    assert.match(table, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE\n/);
    assert.match(table, /\nagent\s+2\s+2\s+2\s+2\s+2\s+pool=rollout\s+/);
    const described = await ok('describe', 'ds', 'agent');
    assert.match(described, /Desired Number of Nodes Scheduled: 2\n/);
    assert.match(described, /Number of Nodes Scheduled with Up-to-date Pods: 2\n/);
    assert.match(described, /Pods Status:\s+2 Running \/ 0 Waiting \/ 0 Succeeded \/ 0 Failed/);
    assert.match(described, /SuccessfulCreate\s+.*Created pod: agent-/);

    await ok('patch', 'ds', 'agent', '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { 'kubernetes.io/change-cause': 'second' } }, spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } }));
    assert.match(await ok('rollout', 'status', 'ds/agent', '--timeout=30s'), /successfully rolled out/);
    assert.deepEqual(await images('agent'), ['busybox:2', 'busybox:2']);
    const history = await ok('rollout', 'history', 'ds/agent');
    assert.match(history, /REVISION\s+CHANGE-CAUSE\n1\s+first\n2\s+second\n/);
    assert.match(await ok('rollout', 'history', 'ds/agent', '--revision=1'), /Image:\s+busybox:1/);
    const crs = await ok('get', 'controllerrevisions');
    assert.match(crs, /^NAME\s+CONTROLLER\s+REVISION\s+AGE\n/);
    assert.match(crs, /agent-\w+\s+daemonset\.apps\/agent\s+2\s+/);

    assert.match(await ok('rollout', 'undo', 'ds/agent'), /daemonset.apps\/agent rolled back/);
    assert.match(await ok('rollout', 'status', 'ds/agent', '--timeout=30s'), /successfully rolled out/);
    await waitFor(async () => JSON.stringify(await images('agent')) === JSON.stringify(['busybox:1', 'busybox:1']), { what: 'back on busybox:1' });
    const revs = (await cluster.rest.resource<ControllerRevision>(CONTROLLERREVISIONS).list(ns)).items.filter((cr) => cr.metadata.name?.startsWith('agent-'));
    assert.deepEqual(revs.map((cr) => cr.revision).sort(), [2, 3], 'the first revision is reused as revision 3');

    const before = (await pods.list(ns, { labelSelector: 'app=agent' })).items.map((p) => p.metadata.uid);
    assert.match(await ok('rollout', 'restart', 'ds/agent'), /daemonset.apps\/agent restarted/);
    assert.match(await ok('rollout', 'status', 'ds/agent', '--timeout=30s'), /successfully rolled out/);
    const after = (await pods.list(ns, { labelSelector: 'app=agent' })).items.filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(after.length, 2);
    for (const p of after) {
      assert.ok(!before.includes(p.metadata.uid), 'every pod replaced');
      assert.ok(p.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'], 'from the restarted template');
    }
  });

  it('statefulset: status, history, undo, restart', async () => {
    await apply('web', `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 2
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {pool: rollout}
      containers: [{name: c, image: "nginx:1"}]
`);
    assert.match(await ok('rollout', 'status', 'sts/web', '--timeout=30s'), /partitioned roll out complete: 2 new pods have been updated/);
    assert.match(await ok('get', 'sts', 'web'), /\nweb\s+2\/2\s+/);
    await ok('set', 'image', 'sts/web', 'c=nginx:2');
    assert.match(await ok('rollout', 'status', 'sts/web', '--timeout=30s'), /partitioned roll out complete: 2 new pods have been updated/);
    assert.deepEqual(await images('web'), ['nginx:2', 'nginx:2']);
    assert.match(await ok('rollout', 'history', 'sts/web'), /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/);
    assert.match(await ok('rollout', 'undo', 'sts/web'), /statefulset.apps\/web rolled back/);
    await ok('rollout', 'status', 'sts/web', '--timeout=30s');
    await waitFor(async () => JSON.stringify(await images('web')) === JSON.stringify(['nginx:1', 'nginx:1']), { what: 'back on nginx:1' });
    const before = (await pods.list(ns, { labelSelector: 'app=web' })).items.map((p) => p.metadata.uid);
    assert.match(await ok('rollout', 'restart', 'sts/web'), /statefulset.apps\/web restarted/);
    await waitFor(async () => {
      const list = (await pods.list(ns, { labelSelector: 'app=web' })).items;
      return list.length === 2 && list.every((p) => !before.includes(p.metadata.uid) && p.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']);
    }, { timeoutMs: 30_000, what: 'both pods restarted' });
    assert.match(await ok('rollout', 'status', 'sts/web', '--timeout=30s'), /partitioned roll out complete: 2 new pods have been updated/);
  });

  it('ketch rollout history and undo of a daemon set, as kubectl', async () => {
    const ketch = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      const out = new Sink();
      const err = new Sink();
      const stdin = new PassThrough();
      stdin.end();
      const code = await run(['--kubeconfig', cluster.server.adminKubeconfigPath, '-n', ns, ...args], { stdout: out, stderr: err, stdin, env: process.env });
      return { code, stdout: out.text, stderr: err.text };
    };
    await apply('probe', `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: probe, annotations: {kubernetes.io/change-cause: first}}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      nodeSelector: {pool: rollout}
      containers: [{name: c, image: "busybox:1"}]
`);
    assert.match(await ok('rollout', 'status', 'ds/probe', '--timeout=30s'), /successfully rolled out/);
    await ok('patch', 'ds', 'probe', '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { 'kubernetes.io/change-cause': 'second' } }, spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } }));
    assert.match(await ok('rollout', 'status', 'ds/probe', '--timeout=30s'), /successfully rolled out/);
    const mine = await ketch('rollout', 'history', 'ds/probe');
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(mine.stdout.trimEnd(), (await ok('rollout', 'history', 'ds/probe')).trimEnd(), 'the same table as kubectl');
    assert.match((await ketch('rollout', 'history', 'ds/probe', '--revision=1')).stdout, /^daemonset.apps\/probe with revision #1\n[\s\S]*Image:\s+busybox:1/);
    assert.equal((await ketch('rollout', 'undo', 'ds/probe', '--to-revision=9')).stderr, 'error: unable to find specified revision 9 in history\n');
    assert.equal((await ketch('rollout', 'undo', 'ds/probe')).stdout, 'daemonset.apps/probe rolled back\n');
    assert.match(await ok('rollout', 'status', 'ds/probe', '--timeout=30s'), /successfully rolled out/);
    await waitFor(async () => JSON.stringify(await images('probe')) === JSON.stringify(['busybox:1', 'busybox:1']), { what: 'back on busybox:1' });
    await waitFor(async () => (await ketch('rollout', 'history', 'ds/probe')).stdout.includes('\n3 '), { what: 'revision 3 recorded' });
    assert.equal((await ketch('rollout', 'undo', 'ds/probe', '--to-revision=3')).stdout, 'daemonset.apps/probe skipped rollback (current template already matches revision 3)\n');
    const sts = await ketch('rollout', 'history', 'sts/web');
    assert.match(sts.stdout, /^statefulset.apps\/web \nREVISION\s+CHANGE-CAUSE\n/);
  });
});
