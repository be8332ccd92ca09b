// The quick start, end to end (issue 8): `ketch up`, then with both ketch and the real kubectl: apply examples/web.yaml,
// reach the pods over HTTP, read logs, exec, scale, roll out and undo, `ketch why` for a pod that does not fit and for
// one whose image does not exist, delete everything, and Ctrl-C leaves nothing behind on the host.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/util.js';
import { UpCluster } from './cluster.js';

const WEB = fileURLToPath(new URL('../../examples/web.yaml', import.meta.url));

describe('quick start (e2e: ketch up, examples/web.yaml, ketch and kubectl)', function () {
  this.timeout(240_000);
  let cluster: UpCluster;

  before(async () => {
    // The cluster runs as `npm start` runs it: `node bin/ketch.js up` from the build (`npm test` builds first). The
    // flags only keep it off the host's state: a temp data dir, a free loopback port, a local docker.io mirror, and a
    // pod network of its own (another cluster on this host may use the default 10.42/16).
    cluster = await UpCluster.create({ clusterCidr: '10.61.0.0/16', fromDist: true });
  });
  after(async () => {
    await cluster?.dispose();
  });

  it('runs the quick start with ketch and kubectl, and stops leaving nothing behind', async () => {
    const { kubectl, ketch } = { kubectl: cluster.kubectl.bind(cluster), ketch: cluster.ketch.bind(cluster) };
    const phases = async (selector: string): Promise<string[]> =>
      (await kubectl('get', 'pods', '-l', selector, '-o', 'jsonpath={.items[*].status.phase}')).split(' ').filter(Boolean);
    const waitReady = async (n: number, what: string): Promise<void> => {
      await waitFor(async () => (await kubectl('get', 'deploy/web', '-o', 'jsonpath={.status.readyReplicas}/{.status.replicas}/{.status.updatedReplicas}')) === `${n}/${n}/${n}`, {
        timeoutMs: 60_000,
        intervalMs: 300,
        what,
      });
      await waitFor(async () => (await phases('app=web')).length === n, { timeoutMs: 30_000, intervalMs: 300, what: `${what}: exactly ${n} pods (old ones gone)` });
    };
    const t0 = Date.now();
    // E2E_TRACE=1 prints when each step ends.
    const step = (what: string): void => void (process.env.E2E_TRACE && process.stderr.write(`  [${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`));

    await cluster.start();
    step('cluster up');
    assert.equal(await kubectl('get', 'nodes', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}'), 'True');
    assert.match(await ketch('get', 'nodes'), /\sReady\s/);

    // Apply with ketch; the same file through kubectl changes nothing.
    const applied = await ketch('apply', '-f', WEB);
    assert.match(applied, /deployment\.apps\/web created/);
    assert.match(applied, /service\/web created/);
    const again = await kubectl('apply', '-f', WEB);
    assert.match(again, /deployment\.apps\/web (unchanged|configured)/);
    assert.match(await kubectl('get', 'service', 'web', '-o', 'jsonpath={.spec.type} {.spec.ports[0].port}'), /^ClusterIP 80$/);

    await kubectl('rollout', 'status', 'deploy/web', '--timeout=90s');
    await waitReady(3, 'three ready replicas');
    assert.deepEqual(await phases('app=web'), ['Running', 'Running', 'Running']);
    const table = await ketch('get', 'pods', '-l', 'app=web');
    assert.equal(table.split('\n').filter((l) => /^web-\S+\s+1\/1\s+Running\s/.test(l)).length, 3, table);
    step('3 pods running');

    // The host reaches each pod over the node's bridge.
    const pods = (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{"\\n"}{end}'))
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]);
    for (const [name, ip] of pods) {
      assert.match(ip, /^10\.61\.\d+\.\d+$/);
      const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `hello from ${name}\n`);
    }
    const [pod] = pods[0]!;

    // Logs and exec, through both clients.
    assert.match(await ketch('logs', pod), /serving \/www on :8080/);
    assert.match(await kubectl('logs', `deploy/web`), /serving \/www on :8080/);
    assert.equal((await ketch('exec', pod, '--', 'cat', '/etc/hostname')).trim(), pod);
    assert.equal(await kubectl('exec', pod, '--', 'wget', '-qO-', 'http://localhost:8080/'), `hello from ${pod}\n`);
    step('http, logs, exec');

    // Usage from the agents' stats: `ketch top` and the real `kubectl top` through metrics.k8s.io.
    const node = await kubectl('get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}');
    const topNode = await kubectl('top', 'node');
    assert.match(topNode, /^NAME\s+CPU\(cores\)\s+CPU(\(%\)|%)\s+MEMORY\(bytes\)\s+MEMORY(\(%\)|%)/m, topNode);
    assert.match(topNode, new RegExp(`^${node}\\s+\\d+m\\s+\\d+%\\s+\\d+Mi\\s+\\d+%`, 'm'), topNode);
    const topPods = await kubectl('top', 'pod', '-l', 'app=web', '--containers');
    for (const [name] of pods) assert.match(topPods, new RegExp(`^${name}\\s+web\\s+\\d+m\\s+\\d+Mi`, 'm'), topPods);
    assert.match(await ketch('top', 'node'), new RegExp(`^${node}\\s`, 'm'));
    step('top');

    // Scale up with ketch, down with kubectl.
    assert.match(await ketch('scale', 'deploy/web', '--replicas=5'), /deployment\.apps\/web scaled/);
    await waitReady(5, 'five ready replicas');
    await kubectl('scale', 'deploy/web', '--replicas=2');
    await waitReady(2, 'two ready replicas');
    assert.match(await ketch('get', 'deploy', 'web'), /^web\s+2\/2\s+2\s+2\s/m);
    step('scaled 5, 2');

    // A new image (the mirror serves busybox:latest too) rolls out; ketch undoes it.
    await kubectl('set', 'image', 'deploy/web', 'web=busybox:latest');
    await kubectl('rollout', 'status', 'deploy/web', '--timeout=90s');
    await waitReady(2, 'the new image rolled out');
    const images = async (): Promise<string> => kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].spec.containers[0].image}');
    assert.equal(await images(), 'busybox:latest busybox:latest');
    assert.match(await ketch('rollout', 'history', 'deploy/web'), /^1\s[\s\S]*^2\s/m);
    assert.match(await ketch('rollout', 'undo', 'deploy/web'), /deployment\.apps\/web rolled back/);
    assert.match(await ketch('rollout', 'status', 'deploy/web', '--timeout=90s'), /successfully rolled out/);
    await waitReady(2, 'the undo rolled out');
    assert.equal(await images(), 'busybox:1.36 busybox:1.36');
    assert.equal(await kubectl('get', 'deploy/web', '-o', 'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}'), '3');
    assert.match(await ketch('why', 'deploy/web'), /deployment\.apps\/web is running: 2\/2 pods ready/);
    step('rollout and undo');

    // Two pods that cannot run, and what `ketch why` says about them.
    const bad = join(cluster.dir, 'bad-pods.yaml');
    writeFileSync(
      bad,
      [
        'apiVersion: v1\nkind: Pod\nmetadata: {name: hog}\nspec:\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sleep, "3600"], resources: {requests: {cpu: "1000"}}}',
        'apiVersion: v1\nkind: Pod\nmetadata: {name: ghost}\nspec:\n  containers:\n  - {name: c, image: "busybox:no-such-tag", command: [sleep, "3600"]}',
      ].join('\n---\n'),
    );
    await kubectl('apply', '-f', bad);
    const hog = await waitFor(
      async () => {
        const out = await ketch('why', 'pod/hog');
        return /Insufficient cpu/.test(out) ? out : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'ketch why pod/hog to name the scheduler verdict' },
    );
    assert.match(hog, /the scheduler cannot place it on any node/);
    assert.match(hog, /0\/1 nodes are available: 1 Insufficient cpu/);
    assert.match(hog, /lower the pod's cpu request \(it asks for 1000\)/);
    assert.match(await kubectl('get', 'pod', 'hog', '-o', 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}'), /^Unschedulable$/);
    const ghost = await waitFor(
      async () => {
        const out = await ketch('why', 'pod/ghost');
        return /cannot pull its image/.test(out) ? out : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'ketch why pod/ghost to report the image pull' },
    );
    assert.match(ghost, /container c cannot pull its image "busybox:no-such-tag" \((ErrImagePull|ImagePullBackOff)\)/);
    assert.match(ghost, /check the image name and tag/);
    assert.match(await kubectl('get', 'pod', 'ghost', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting.reason}'), /^(ErrImagePull|ImagePullBackOff)$/);
    step('ketch why');

    // Delete everything; the agent removes every sandbox while the cluster still runs.
    assert.match(await ketch('delete', '-f', WEB), /deployment\.apps "web" deleted/);
    await kubectl('delete', '-f', bad, '--wait=true');
    await waitFor(async () => (await kubectl('get', 'pods', '-A', '-o', 'name')) === '', { timeoutMs: 60_000, intervalMs: 500, what: 'every pod gone' });
    await waitFor(() => cluster.leftovers().sandboxes.length === 0, { timeoutMs: 30_000, what: 'every sandbox removed by the agent' });
    assert.equal(await kubectl('get', 'deploy,rs,svc', '-l', 'app=web', '-o', 'name'), '');
    step('deleted');

    await cluster.stop();
    assert.ok(cluster.sandboxesSeen >= 5, `the census saw the pods' sandboxes (${cluster.sandboxesSeen})`);
    assert.deepEqual(cluster.leftovers(), { mounts: [], sandboxes: [], netns: [], veths: [] });
    step('stopped');
  });
});
