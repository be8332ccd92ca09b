// End to end on `ketch up` plus a second node (a `ketch agent` on this host with its own node credentials and no
// registry flag): an image pushed to the built-in registry with skopeo runs in a pod on the second node, which pulls
// it over HTTPS trusting the cluster CA it has from its kubeconfig and authenticating with its node certificate; and
// `ketch image ls|rm|prune` list both nodes' images by node name and act on the one named with --node only.
// Runs under the host-wide e2e lock (pod CIDR 10.67.0.0/16).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nodeCredentialFiles } from '../support/node-credentials.js';
import { buildBusyboxImage, buildTinyImage, type BuiltImage } from '../support/runtime/oci-image.js';
import { waitFor } from '../support/util.js';
import { bridgeOf, execResult, startKetch, UpCluster, type KetchProcess } from './cluster.js';

const run = promisify(execFile);
const NODE_B = 'reg-node-b';

describe('built-in registry and ketch image on two nodes (e2e: ketch up + a second agent with no registry flag)', function () {
  this.timeout(300_000);
  let cluster: UpCluster;
  let agentB: KetchProcess | undefined;
  let nodeA: string;
  let host: string;
  let certs: string;
  let token: string;
  const images: BuiltImage[] = [];

  before(async () => {
    cluster = await UpCluster.create({ clusterCidr: '10.67.0.0/16' });
    await cluster.start();
    nodeA = (await cluster.kubectl('get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}')).trim();
    host = `127.0.0.1:${cluster.registryPort}`;
    certs = join(cluster.dir, 'certs');
    mkdirSync(certs, { recursive: true });
    writeFileSync(join(certs, 'ca.crt'), readFileSync(join(cluster.dir, 'server', 'pki', 'ca.crt')));
    token = readFileSync(join(cluster.dir, 'server', 'token-file'), 'utf8').split(',')[0] ?? '';
    // The second node shares the host: the first node runs the DNS server and the service proxy for both. Its flags
    // name no registry, no CA and no mirror: only its own credentials (a kubeconfig with the cluster CA).
    const creds = await nodeCredentialFiles(join(cluster.dir, 'server'), NODE_B);
    agentB = await startKetch(
      ['agent', ...creds.agentArgs, '--node-name', NODE_B, '--root-dir', join(cluster.dir, NODE_B), '--port', '0', '--address', '127.0.0.1', '--node-ip', '127.0.0.1', '--cluster-dns-port', '0', '--no-service-proxy'],
      'agent API on port',
    );
    await cluster.kubectl('wait', `node/${NODE_B}`, '--for=condition=Ready', '--timeout=60s');
    await waitFor(async () => (await cluster.kubectl('get', 'node', NODE_B, '-o', 'jsonpath={.spec.podCIDR}')).startsWith('10.67.'), { timeoutMs: 30_000, what: `a pod CIDR for ${NODE_B}` });
  });
  after(async () => {
    try {
      if (agentB) await cluster.kubectl('delete', 'pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s').catch(() => undefined);
      await agentB?.stop('SIGTERM');
      await cluster?.stop();
    } finally {
      for (const i of images) await i.dispose();
      await execResult('ip', ['link', 'del', bridgeOf(join(cluster.dir, NODE_B, 'runtime'))]).catch(() => undefined);
      await cluster?.dispose();
    }
  });

  /** skopeo copy of a built image into the built-in registry over HTTPS with the cluster CA and the admin token. */
  async function push(image: BuiltImage, tag: string, repo: string): Promise<void> {
    await run('skopeo', ['--insecure-policy', 'copy', '--preserve-digests', '--dest-cert-dir', certs, '--dest-creds', `x:${token}`, `oci:${image.layout}:${tag}`, `docker://${host}/${repo}`], { timeout: 60_000 });
  }

  it('runs a pod from the built-in registry on the second node, pulled over HTTPS with the node credentials', async () => {
    const image = await buildBusyboxImage({ tag: 'v1' });
    images.push(image);
    await push(image, 'v1', 'default/bbox:1');
    const ref = `${host}/default/bbox@${image.manifestDigest}`;
    const file = join(cluster.dir, 'from-registry.yaml');
    writeFileSync(
      file,
      `apiVersion: v1
kind: Pod
metadata: {name: from-registry}
spec:
  nodeName: ${NODE_B}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: "${ref}"
    command: [sh, -c, 'echo ran-from-the-built-in-registry; exec sleep 3600']
`,
    );
    await cluster.kubectl('apply', '-f', file);
    await cluster.kubectl('wait', 'pod/from-registry', '--for=condition=Ready', '--timeout=120s');
    await waitFor(async () => (await cluster.kubectl('logs', 'from-registry')).includes('ran-from-the-built-in-registry'), { timeoutMs: 30_000, what: 'the pod log' });
    assert.equal(await cluster.kubectl('get', 'pod', 'from-registry', '-o', 'jsonpath={.status.containerStatuses[0].imageID}'), ref);
    // The image is on the second node, not the first (pulled by digest, it is listed untagged: by its id).
    const id = image.configDigest.slice('sha256:'.length, 'sha256:'.length + 12);
    assert.match(await cluster.ketch('image', 'ls', '--node', NODE_B), new RegExp(`^${NODE_B}\\s+<none>\\s+<none>\\s+${id}\\s.*\\syes$`, 'm'));
    assert.doesNotMatch(await cluster.ketch('image', 'ls', '--node', nodeA), new RegExp(id));
  });

  it('ketch image ls lists both nodes by name; rm and prune with --node act on that node only', async () => {
    const tiny = await buildTinyImage([{ 'hello.txt': 'hello' }], { tag: 'v1' });
    images.push(tiny);
    await push(tiny, 'v1', 'default/tiny:1');
    const ref = `${host}/default/tiny:1`;
    for (const node of [nodeA, NODE_B]) assert.match(await cluster.ketch('image', 'pull', '--node', node, ref), new RegExp(`^${node}: pulled ${ref.replace(/\./g, '\\.')} \\(${tiny.configDigest}\\)`));
    const tinyRows = (out: string): string[] => out.split('\n').filter((l) => l.includes('/default/tiny ')).map((l) => l.split(/\s+/)[0] ?? '').sort();
    assert.deepEqual(tinyRows(await cluster.ketch('image', 'ls')), [nodeA, NODE_B].sort());

    assert.match(await cluster.ketch('image', 'rm', '--node', NODE_B, ref), new RegExp(`^${NODE_B}: deleted ${tiny.configDigest}`));
    assert.deepEqual(tinyRows(await cluster.ketch('image', 'ls')), [nodeA]);

    await cluster.ketch('image', 'pull', '--node', NODE_B, ref);
    const pruned = await cluster.ketch('image', 'prune', '--node', nodeA);
    assert.match(pruned, new RegExp(`^${nodeA}: deleted ${tiny.configDigest}`, 'm'));
    assert.doesNotMatch(pruned, new RegExp(NODE_B));
    const after = await cluster.ketch('image', 'ls');
    assert.deepEqual(tinyRows(after), [NODE_B]);
    // The second node's image in use (the pod's) is still there: prune on the first node did not reach it.
    assert.match(after, new RegExp(`^${NODE_B}\\s+<none>\\s+<none>\\s+${images[0]!.configDigest.slice(7, 19)}\\s.*\\syes$`, 'm'));
  });
});
