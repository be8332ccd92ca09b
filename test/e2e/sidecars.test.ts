// Sidecar containers end to end on real runc containers (`ketch up`, the real kubectl): a pod whose sidecar starts
// first (its startup probe passed before the next init container runs), keeps running beside the app and is
// restarted alone when it exits; a Job whose pod has a sidecar completes once its app container is done.
// Runs under the host-wide e2e lock (fixed pod CIDR 10.66.0.0/16).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../support/util.js';
import { UpCluster } from './cluster.js';

const POD = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: shipper
    image: "busybox:1.36"
    restartPolicy: Always
    # Ready once started; exits 3 (once) when /shared/stop appears.
    command: [sh, -c, "sleep 1; touch /shared/started; while [ ! -f /shared/stop ]; do sleep 0.2; done; rm /shared/stop; exit 3"]
    startupProbe: {exec: {command: [test, -f, /shared/started]}, periodSeconds: 1}
    readinessProbe: {exec: {command: [test, -f, /shared/started]}, periodSeconds: 1}
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: setup
    image: "busybox:1.36"
    command: [sh, -c, "if [ -f /shared/started ]; then echo after > /shared/setup-ran; else echo before > /shared/setup-ran; fi"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: "busybox:1.36"
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{name: shared, mountPath: /shared}]
`;

const JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: with-sidecar}
spec:
  template:
    spec:
      restartPolicy: Never
      initContainers:
      - name: proxy
        image: "busybox:1.36"
        restartPolicy: Always
        command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
      containers:
      - {name: work, image: "busybox:1.36", command: [sh, -c, "echo working; sleep 1; echo finished"]}
`;

describe('sidecar containers (e2e on runc with kubectl)', function () {
  this.timeout(300_000);
  let cluster: UpCluster;

  before(async () => {
    if (process.getuid?.() !== 0) throw new Error('these tests run containers and must run as root (CI does)');
    cluster = await UpCluster.create({ clusterCidr: '10.66.0.0/16' });
    await cluster.start();
  });
  after(async () => {
    await cluster?.stop().catch(() => undefined); // dispose() below kills it if it did not stop
    const left = cluster?.leftovers();
    await cluster?.dispose();
    if (left) assert.deepEqual({ mounts: left.mounts, sandboxes: left.sandboxes }, { mounts: [], sandboxes: [] }, 'nothing left mounted');
  });

  const apply = async (name: string, yaml: string): Promise<void> => {
    const file = join(cluster.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    await cluster.kubectl('apply', '-f', file);
  };
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await cluster.kubectl(...args, '-o', 'json')) as T;
  type PodJson = {
    status: {
      phase?: string;
      conditions?: { type: string; status: string }[];
      initContainerStatuses?: { name: string; started?: boolean; ready: boolean; restartCount: number; state: Record<string, { startedAt?: string; exitCode?: number }> }[];
      containerStatuses?: { name: string; ready: boolean; restartCount: number; state: Record<string, { startedAt?: string; exitCode?: number; reason?: string }> }[];
    };
  };

  it('runs a pod with a sidecar: started first, beside the app, restarted alone when it exits', async () => {
    await apply('web', POD);
    const r = await cluster.kubectlResult(['wait', '--for=condition=Ready', 'pod/web', '--timeout=120s'], 150_000);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n${await cluster.kubectl('describe', 'pod', 'web')}`);
    const pod = await json<PodJson>('get', 'pod', 'web');
    assert.equal(pod.status.phase, 'Running');
    const [shipper, setup] = pod.status.initContainerStatuses ?? [];
    assert.deepEqual([shipper?.name, shipper?.started, shipper?.ready, Object.keys(shipper?.state ?? {})], ['shipper', true, true, ['running']]);
    assert.deepEqual([setup?.name, setup?.state.terminated?.exitCode], ['setup', 0]);
    assert.equal(pod.status.containerStatuses?.[0]?.ready, true);
    // The next init container ran only after the sidecar's startup probe had passed (its file appears after 1 s).
    assert.equal((await cluster.kubectl('exec', 'web', '-c', 'app', '--', 'cat', '/shared/setup-ran')).trim(), 'after');

    await cluster.kubectl('exec', 'web', '-c', 'app', '--', 'touch', '/shared/stop');
    const after = await waitFor(
      async () => {
        const p = await json<PodJson>('get', 'pod', 'web');
        const s = p.status.initContainerStatuses?.[0];
        return s?.restartCount === 1 && s.state.running && s.ready && p;
      },
      { timeoutMs: 60_000, what: 'the sidecar restarted and ready again' },
    );
    assert.equal(after.status.phase, 'Running');
    assert.deepEqual(after.status.containerStatuses?.map((c) => [c.name, c.restartCount, Object.keys(c.state)[0]]), [['app', 0, 'running']], 'the app kept running');
    assert.match(await cluster.kubectl('get', 'pod', 'web'), /web\s+2\/2\s+Running\s+1 \(\S+ ago\)\s+/);
    await cluster.kubectl('delete', 'pod', 'web', '--wait=true', '--timeout=60s');
  });

  it('completes a Job whose pod has a sidecar: the sidecar is stopped once the app container is done', async () => {
    await apply('job', JOB);
    const r = await cluster.kubectlResult(['wait', '--for=condition=complete', 'job/with-sidecar', '--timeout=120s'], 150_000);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n${await cluster.kubectl('get', 'pods', '-o', 'yaml')}`);
    assert.equal(await cluster.kubectl('get', 'job', 'with-sidecar', '-o', 'jsonpath={.status.succeeded}/{.status.failed}'), '1/');
    const pods = await json<{ items: (PodJson & { metadata: { name: string } })[] }>('get', 'pods', '-l', 'batch.kubernetes.io/job-name=with-sidecar');
    assert.equal(pods.items.length, 1);
    const pod = pods.items[0]!;
    assert.equal(pod.status.phase, 'Succeeded');
    assert.deepEqual(pod.status.containerStatuses?.map((c) => [c.name, c.state.terminated?.exitCode]), [['work', 0]]);
    assert.ok(pod.status.initContainerStatuses?.[0]?.state.terminated, 'the sidecar was stopped');
    assert.equal((await cluster.kubectl('logs', pod.metadata.name, '-c', 'work')).trim(), 'working\nfinished');
  });
});
