// End to end: `ketch image ls|pull|inspect|rm|prune` on a `ketch up` cluster act on the node's CRI image store through
// the API server's node proxy and the agent's image endpoints: an image a pod uses is listed as in use, kept by prune
// and refused by rm without --force; an unused one is pulled, listed, inspected, removed and pruned; a user without
// nodes/proxy is refused; `ketch compose pull` pulls on the nodes too.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyImage, pushImage } from '../support/runtime/oci-image.js';
import { UpCluster } from './cluster.js';

describe('ketch image across nodes (e2e on ketch up)', function () {
  this.timeout(240_000);
  let cluster: UpCluster;

  before(async () => {
    cluster = await UpCluster.create();
    // A second image, which no pod uses, beside busybox in the mirror (docker.io/library/tiny:1).
    const tiny = await buildTinyImage([{ 'hello.txt': 'hello' }]);
    try {
      await pushImage(cluster.mirror.url, 'library/tiny', '1', tiny);
    } finally {
      await tiny.dispose();
    }
    await cluster.start();
  });
  after(async () => {
    try {
      await cluster?.stop();
    } finally {
      await cluster?.dispose();
    }
  });

  it('lists, pulls, inspects, removes and prunes images on the node, keeping the ones containers use', async () => {
    const node = (await cluster.kubectl('get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}')).trim();
    await cluster.kubectl('run', 'keep', '--image=busybox:1.36', '--', 'sleep', '3600');
    await cluster.kubectl('wait', '--for=condition=Ready', 'pod/keep', '--timeout=90s');

    const ls = await cluster.ketch('image', 'ls');
    const busybox = ls.split('\n').find((l) => /\sdocker\.io\/library\/busybox\s+1\.36\s/.test(l));
    assert.ok(busybox, `busybox listed:\n${ls}`);
    assert.match(busybox, new RegExp(`^${node}\\s.*\\syes$`), 'on the node, in use');

    assert.match(await cluster.ketch('image', 'pull', '--node', node, 'tiny:1'), new RegExp(`^${node}: pulled tiny:1 \\(sha256:[0-9a-f]{64}\\)`));
    assert.match(await cluster.ketch('image', 'ls', '--node', node), /\sdocker\.io\/library\/tiny\s+1\s+[0-9a-f]{12}\s+\S+\s+no\n/);
    const inspected = JSON.parse(await cluster.ketch('image', 'inspect', 'tiny:1')) as { node: string; repoTags: string[]; inUse: boolean }[];
    assert.equal(inspected.length, 1);
    assert.equal(inspected[0]?.node, node);
    assert.deepEqual(inspected[0]?.repoTags, ['docker.io/library/tiny:1']);
    assert.equal(inspected[0]?.inUse, false);

    // rm: the image in use needs --force; the unused one goes; one that is on no node is an error.
    const refused = await cluster.ketchResult(['image', 'rm', 'busybox:1.36']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /used by a container/);
    assert.match(await cluster.ketch('image', 'rm', 'tiny:1'), new RegExp(`^${node}: deleted sha256:`));
    assert.doesNotMatch(await cluster.ketch('image', 'ls'), /library\/tiny/);
    const missing = await cluster.ketchResult(['image', 'rm', 'tiny:1']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no such image: tiny:1/);

    // prune: removes what no container uses, keeps busybox (the pod's).
    await cluster.ketch('image', 'pull', 'tiny:1');
    const pruned = await cluster.ketch('image', 'prune');
    assert.match(pruned, new RegExp(`^${node}: deleted sha256:[0-9a-f]{64}\n`, 'm'));
    assert.match(pruned, /Total reclaimed space: \d/);
    const after = await cluster.ketch('image', 'ls', '-q');
    assert.equal(after.trim().split('\n').length, 1, `only busybox is left:\n${after}`);
    assert.match(await cluster.ketch('image', 'ls'), /library\/busybox\s+1\.36\s.*yes/);

    // Without nodes/proxy the API server refuses (a service account has no such right by default).
    const sa = await cluster.kubectlResult(['auth', 'can-i', 'create', 'nodes/proxy', '--as=system:serviceaccount:default:default']);
    assert.equal(sa.stdout.trim(), 'no');
    const denied = await cluster.kubectlResult(['delete', '--raw', `/api/v1/nodes/${node}/proxy/images?image=busybox:1.36`, '--as=system:serviceaccount:default:default']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Forbidden|forbidden/);

    // `ketch compose pull` pulls each service's image on the nodes, as `ketch image pull` does.
    const project = mkdtempSync(join(tmpdir(), 'ketch-compose-pull-'));
    try {
      writeFileSync(join(project, 'compose.yaml'), 'services:\n  app:\n    image: tiny:1\n    command: ["sleep", "3600"]\n');
      assert.match(await cluster.ketch('compose', '-f', join(project, 'compose.yaml'), 'pull'), new RegExp(`^app: ${node}: pulled tiny:1 \\(sha256:[0-9a-f]{64}\\)`, 'm'));
      assert.match(await cluster.ketch('image', 'ls', '--node', node), /\sdocker\.io\/library\/tiny\s+1\s/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
    await cluster.kubectl('delete', 'pod', 'keep', '--wait=true', '--timeout=60s');
  });
});
