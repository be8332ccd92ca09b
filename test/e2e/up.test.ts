// End to end: `ketch up` runs a one-node cluster that the real kubectl drives (deployment, logs, exec), stops cleanly on
// SIGINT (no mounts or sandboxes left), and comes back with its objects on the same data dir.
import assert from 'node:assert/strict';
import { waitFor } from '../support/util.js';
import { UpCluster } from './cluster.js';

describe('ketch up (e2e with kubectl)', function () {
  this.timeout(240_000);
  let cluster: UpCluster;

  before(async () => {
    cluster = await UpCluster.create();
  });
  after(async () => {
    await cluster?.dispose();
  });

  it('runs a deployment that kubectl can roll out, read logs from and exec into; SIGINT leaves nothing mounted', async () => {
    const kubectl = (...args: string[]): Promise<string> => cluster.kubectl(...args);
    await cluster.start();
    const nodes = await kubectl('get', 'nodes', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}');
    assert.equal(nodes, 'True');
    // The default StorageClass, as k3s ships one.
    assert.match(await kubectl('get', 'sc'), /^local-path \(default\)\s+rancher.io\/local-path\s+Delete\s+WaitForFirstConsumer\s+true\s/m);
    await kubectl('create', 'deployment', 'web', '--image=busybox:1.36', '--replicas=2', '--', 'sh', '-c', 'echo hello from $HOSTNAME; exec sleep 3600');
    await kubectl('rollout', 'status', 'deploy/web', '--timeout=90s');
    const pods = (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}')).split(' ');
    assert.equal(pods.length, 2);
    const ips = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.podIP}');
    assert.match(ips, /^10\.42\.\d+\.\d+ 10\.42\.\d+\.\d+$/);
    const pod = pods[0]!;
    await waitFor(async () => (await kubectl('logs', pod)).includes(`hello from ${pod}`), { timeoutMs: 30_000, what: 'the pod log' });
    assert.equal((await kubectl('exec', pod, '--', 'cat', '/etc/hostname')).trim(), pod);
    assert.ok(cluster.leftovers().mounts.length > 0, 'containers are mounted while the cluster runs');

    await cluster.stop();
    const left = cluster.leftovers();
    assert.deepEqual(left.mounts, [], 'no mount left after SIGINT');
    assert.deepEqual(left.sandboxes, [], 'no sandbox left after SIGINT');

    // The same data dir brings the cluster back with its objects, and the agent runs the pods again.
    await cluster.start();
    await kubectl('rollout', 'status', 'deploy/web', '--timeout=90s');
    await waitFor(
      async () => (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}')) === 'Running Running',
      { timeoutMs: 90_000, what: 'the pods to run again after restart' },
    );
    await cluster.stop();
    assert.deepEqual(cluster.leftovers().mounts, []);
  });
});
