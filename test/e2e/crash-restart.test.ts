// End to end: `ketch up` killed with SIGKILL leaves its pods' mounts, network namespaces, veths, bridge and pod-CIDR
// route behind; a start on the same data dir adopts them and runs the pod again; a cluster on another data dir with the
// same pod CIDR refuses to start while the first one lives, and clears the dead one's leftovers out of its way.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { waitFor } from '../support/util.js';
import { UpCluster } from './cluster.js';

const routesVia = (bridge: string): string => execFileSync('ip', ['-o', '-4', 'route', 'show', 'dev', bridge], { encoding: 'utf8' }).trim();
const hasLink = (name: string): boolean => existsSync(`/sys/class/net/${name}`);
/** The pod-level cgroups (pids controller) of a runtime's sandboxes that exist now. */
const podCgroups = (c: UpCluster): string[] =>
  readdirSync(c.sandboxesDir)
    .map((id) => `/sys/fs/cgroup/pids/ketch/${id.slice(0, 12)}`)
    .filter((p) => existsSync(p));

describe('ketch up after a crash (e2e)', function () {
  this.timeout(420_000);
  let a: UpCluster;
  let b: UpCluster;

  before(async () => {
    a = await UpCluster.create();
    b = await UpCluster.create();
  });
  after(async () => {
    await a?.dispose();
    await b?.dispose();
  });

  const podsRunning = async (c: UpCluster): Promise<void> => {
    await waitFor(async () => (await c.kubectl('get', 'pods', '-l', 'app=crash', '-o', 'jsonpath={.items[*].status.phase}')) === 'Running', {
      timeoutMs: 120_000,
      what: 'the pod to run',
    });
  };

  it('adopts what a killed run left; a second cluster with the same pod CIDR is refused while the first lives', async () => {
    await a.start();
    await a.kubectl('create', 'deployment', 'crash', '--image=busybox:1.36', '--', 'sleep', '3600');
    await podsRunning(a);
    assert.match(routesVia(a.bridge), /^10\.42\.0\.0\/24 /, 'the bridge routes the node pod CIDR');

    // Another cluster on this host with the same pod CIDR: refused before it starts anything.
    await assert.rejects(b.start(), /already routed on this host .*10\.42\.0\.0\/24 dev ketch[0-9a-f]{6}.*Stop that cluster, or give this one another --cluster-cidr/s);
    assert.equal(hasLink(b.bridge), false, 'the refused cluster made no bridge');

    await a.kill();
    const left = a.leftovers();
    assert.ok(left.mounts.length > 0, 'a killed run leaves its mounts');
    assert.ok(left.netns.length > 0 && left.veths.length > 0, 'a killed run leaves its netns and veths');
    assert.ok(hasLink(a.bridge) && routesVia(a.bridge).length > 0, 'a killed run leaves its bridge and route');
    assert.ok(podCgroups(a).length > 0, 'a killed run leaves its pod cgroups');

    // The same data dir: the runtime claims its bridge again and the agent runs the pod again.
    await a.start();
    await podsRunning(a);
    assert.match(await a.kubectl('exec', 'deploy/crash', '--', 'cat', '/proc/1/cmdline'), /sleep/);
    await a.kill();
    assert.ok(a.leftovers().mounts.length > 0);

    // A cluster on another data dir: the dead run is in its way and is removed, with all it left.
    await b.start();
    assert.equal(hasLink(a.bridge), false, "the dead run's bridge is gone");
    const gone = a.leftovers();
    assert.deepEqual({ mounts: gone.mounts, netns: gone.netns, veths: gone.veths }, { mounts: [], netns: [], veths: [] });
    assert.deepEqual(podCgroups(a), [], "the dead run's pod cgroups are gone");
    await b.kubectl('create', 'deployment', 'crash', '--image=busybox:1.36', '--', 'sleep', '3600');
    await podsRunning(b);
    await b.stop();
    const bLeft = b.leftovers();
    assert.deepEqual({ mounts: bLeft.mounts, netns: bLeft.netns, veths: bLeft.veths }, { mounts: [], netns: [], veths: [] });
    assert.equal(hasLink(b.bridge), false);
  });
});
