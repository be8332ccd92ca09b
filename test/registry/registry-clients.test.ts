// The built-in registry as a cluster runs it (HTTPS with the cluster CA, the Bearer token flow against a real API
// server) driven by more real clients: Debian's buildah (push, then pull back by digest), Debian's containerd 1.6
// (a CRI PullImage through its config: hosts.toml with the CA, registry.configs auth with a cluster token), and our
// runtime's registry client as a node runs it (the cluster CA and the node's client certificate, no flag).
// containerd runs in private dirs; run this file under the host-wide e2e lock.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectRuntime } from '../../agent/cri/client.js';
import { ContentStore } from '../../agent/runtime/content-store.js';
import { parseReference } from '../../agent/runtime/reference.js';
import { pullImage } from '../../agent/runtime/registry-client.js';
import { ensureNodeCredentials } from '../../apiserver/pki/pki.js';
import type { RunningRegistry } from '../../registry/server.js';
import { startContainerd } from '../support/runtime/containerd.js';
import type { BuiltImage } from '../support/runtime/oci-image.js';
import type { TestApiServer } from '../support/cluster.js';
import { startClusterRegistryFixture, type ClusterRegistryFixture } from '../support/cluster-registry.js';

const run = promisify(execFile);

describe('registry in a cluster: buildah, containerd 1.6 and a node runtime over HTTPS with cluster credentials', function () {
  this.timeout(180_000);
  let api: TestApiServer;
  let work: string;
  let reg: RunningRegistry;
  let certDir: string;
  let caFile: string;
  let adminToken: string;
  let image: BuiltImage;
  let fixture: ClusterRegistryFixture | undefined;
  /** What skopeo pushed: team/busybox:1.36 at image.manifestDigest. */
  let pushedRef: string;

  before(async () => {
    fixture = await startClusterRegistryFixture();
    ({ api, work, reg, certDir, caFile, adminToken, image } = fixture);
    await run('skopeo', ['--insecure-policy', 'copy', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', `x:${adminToken}`, `oci:${image.layout}:v1`, `docker://${reg.host}/team/busybox:1.36`], { timeout: 60_000 });
    pushedRef = `${reg.host}/team/busybox@${image.manifestDigest}`;
  });
  after(async () => {
    await fixture?.close();
  });

  it('buildah pushes an image with a cluster token and pulls it back by digest', async () => {
    const policy = join(work, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    // buildah's own storage (vfs: no mount) and an empty registries.conf, so that nothing of the host's is used.
    await writeFile(join(work, 'registries.conf'), '');
    const buildah = (args: string[]): Promise<{ stdout: string }> =>
      run('buildah', ['--root', join(work, 'buildah', 'root'), '--runroot', join(work, 'buildah', 'run'), '--storage-driver', 'vfs', ...args], {
        timeout: 90_000,
        env: { ...process.env, CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf') },
      });
    const creds = ['--cert-dir', certDir, '--creds', `x:${adminToken}`];
    // buildah names an image pulled from a layout after its path, which must be lowercase.
    const layout = join(tmpdir(), `ketch-buildah-${randomBytes(6).toString('hex')}`);
    await cp(image.layout, layout, { recursive: true });
    try {
      const local = (await buildah(['pull', '--signature-policy', policy, `oci:${layout}:v1`])).stdout.trim().split('\n').pop() ?? '';
      const digestFile = join(work, 'buildah.digest');
      await buildah(['push', '--signature-policy', policy, ...creds, '--digestfile', digestFile, local, `docker://${reg.host}/team/from-buildah:v1`]);
      const pushed = (await readFile(digestFile, 'utf8')).trim();
      assert.match(pushed, /^sha256:[0-9a-f]{64}$/);
      // The registry holds what buildah says it pushed, under the tag.
      const tagged = await reg.store.resolveTag('team/from-buildah', 'v1');
      assert.equal(tagged, pushed);
      await buildah(['rmi', '--all', '--force']);
      const pulledId = (await buildah(['pull', '--signature-policy', policy, ...creds, `docker://${reg.host}/team/from-buildah@${pushed}`])).stdout.trim().split('\n').pop() ?? '';
      const inspected = JSON.parse((await buildah(['inspect', '--type', 'image', pulledId])).stdout) as { FromImageDigest: string; OCIv1: { rootfs: { diff_ids: string[] } } };
      assert.equal(inspected.FromImageDigest, pushed);
      assert.equal(inspected.OCIv1.rootfs.diff_ids.length, image.layers.length);
      // Without credentials the push is refused by the token flow.
      const refused = await buildah(['push', '--signature-policy', policy, '--cert-dir', certDir, pulledId, `docker://${reg.host}/team/anonymous:v1`]).catch((e: { stderr?: string }) => e);
      assert.match((refused as { stderr?: string }).stderr ?? '', /401|unauthorized|authentication required/i);
    } finally {
      await buildah(['rmi', '--all', '--force']).catch(() => undefined);
      await rm(layout, { recursive: true, force: true });
    }
  });

  it('containerd 1.6 pulls by digest through its config: the CA in hosts.toml, a cluster token in registry.configs auth', async () => {
    const containerd = await startContainerd({
      sandboxImage: `${reg.host}/team/busybox:1.36`,
      insecureRegistries: [],
      secureRegistries: { [reg.host]: { caFile, username: 'x', password: adminToken } },
    });
    const client = connectRuntime(containerd.endpoint, { timeoutMs: 60_000 });
    try {
      const { imageRef } = await client.image.pullImage({ image: { image: pushedRef } });
      const status = await client.image.imageStatus({ image: { image: imageRef } });
      assert.ok(status.image?.repoDigests.includes(pushedRef), `repoDigests ${JSON.stringify(status.image?.repoDigests)}`);
      assert.equal(imageRef, image.configDigest);
      // By tag too (resolve, then the manifest by digest).
      const byTag = await client.image.pullImage({ image: { image: `${reg.host}/team/busybox:1.36` } });
      assert.equal(byTag.imageRef, image.configDigest);
    } finally {
      client.close();
      await containerd.stop();
    }
  });

  it("a node's runtime pulls over HTTPS with the cluster CA and its node certificate, and nothing else", async () => {
    const creds = await ensureNodeCredentials(api.dataDir, 'clients-node');
    const tls = join(work, 'node-tls');
    await mkdir(tls);
    await writeFile(join(tls, 'client.crt'), creds.client.certPem);
    await writeFile(join(tls, 'client.key'), creds.client.keyPem);
    const clusterTls = { caFile, certFile: join(tls, 'client.crt'), keyFile: join(tls, 'client.key') };
    // No insecure registry, no credentials: the loopback host is tried over HTTPS first.
    const pulled = await pullImage(parseReference(pushedRef), await store('node'), { insecureRegistries: [], mirrors: {}, clusterTls });
    assert.equal(pulled.manifestDigest, image.manifestDigest);
    assert.equal(pulled.source, `https://${reg.host}`);
    // Without the cluster CA the certificate is not trusted (and the plain-HTTP fallback finds a TLS server).
    await assert.rejects(pullImage(parseReference(pushedRef), await store('no-ca'), { insecureRegistries: [], mirrors: {} }), /unreachable|certificate|HTTP/i);
    // With the CA but no certificate the node is anonymous, which may not pull.
    await assert.rejects(pullImage(parseReference(pushedRef), await store('anonymous'), { insecureRegistries: [], mirrors: {}, clusterTls: { caFile } }), /denied|PermissionDenied/i);
  });

  async function store(name: string): Promise<ContentStore> {
    const s = new ContentStore(join(work, 'runtime', name));
    await s.init();
    return s;
  }
});
