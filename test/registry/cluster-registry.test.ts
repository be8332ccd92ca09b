// The built-in registry as a cluster runs it (HTTPS with a serving certificate from the cluster CA, tokens checked by
// a real API server's TokenReview, actions by its SubjectAccessReview), driven by real clients: Debian's skopeo
// (push, inspect, copy by digest, cross-repository copy) and our runtime's registry client (pull with the token flow).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { ContentStore } from '../../agent/runtime/content-store.js';
import { parseReference } from '../../agent/runtime/reference.js';
import { pullImage } from '../../agent/runtime/registry-client.js';
import type { BuiltImage } from '../support/runtime/oci-image.js';
import { apiServerAuth } from '../../registry/auth.js';
import { startRegistry, type RunningRegistry } from '../../registry/server.js';
import type { TestApiServer } from '../support/cluster.js';
import { startClusterRegistryFixture, type ClusterRegistryFixture } from '../support/cluster-registry.js';

const run = promisify(execFile);

async function skopeo(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('skopeo', ['--insecure-policy', ...args], { timeout: 60_000 });
}

describe('registry in a cluster: HTTPS, cluster tokens, real clients', function () {
  this.timeout(120_000);
  let api: TestApiServer;
  let work: string;
  let reg: RunningRegistry;
  let certDir: string;
  let adminToken: string;
  let image: BuiltImage;
  let fixture: ClusterRegistryFixture | undefined;

  before(async () => {
    fixture = await startClusterRegistryFixture();
    ({ api, work, reg, certDir, adminToken, image } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });

  it('serves HTTPS with a certificate the cluster CA signed, and challenges for a token', async () => {
    const ca = await readFile(join(certDir, 'ca.crt'), 'utf8');
    const authorized = await new Promise<boolean>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: reg.port, ca, rejectUnauthorized: false }, () => {
        resolve(socket.authorized);
        socket.end();
      });
      socket.on('error', reject);
    });
    assert.equal(authorized, true, 'the serving certificate verifies against the cluster CA for 127.0.0.1');
    const { stderr } = await skopeo(['inspect', '--cert-dir', certDir, `docker://${reg.host}/team/none:v1`]).catch((e: { stderr: string }) => ({ stderr: e.stderr }));
    assert.match(stderr, /unauthorized|authentication required/i);
  });

  it('skopeo pushes with the admin token, inspects, and copies out by digest', async () => {
    await skopeo(['copy', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', `x:${adminToken}`, `oci:${image.layout}:v1`, `docker://${reg.host}/team/busybox:1.36`]);
    const { stdout } = await skopeo(['inspect', '--cert-dir', certDir, '--creds', `x:${adminToken}`, `docker://${reg.host}/team/busybox:1.36`]);
    const inspected = JSON.parse(stdout) as { Digest: string; Layers: string[] };
    assert.equal(inspected.Digest, image.manifestDigest);
    assert.deepEqual(inspected.Layers, image.layers.map((l) => l.digest));
    const out = join(work, 'out');
    await skopeo(['copy', '--preserve-digests', '--src-cert-dir', certDir, '--src-creds', `x:${adminToken}`, `docker://${reg.host}/team/busybox@${image.manifestDigest}`, `oci:${out}:pulled`]);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, image.manifestDigest);
    const layer = await readFile(join(out, 'blobs', 'sha256', image.layers[0]!.digest.slice(7)));
    assert.ok(layer.equals(image.layers[0]!.data));
  });

  it("skopeo copies by digest into another repository with a service account's token", async () => {
    await api.rest.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } } });
    await api.rest.request('POST', '/api/v1/namespaces/team/serviceaccounts', { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder' } } });
    // RBAC: the service account may pull and push under its namespace's prefix, nothing more.
    await api.rest.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', {
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'registry-push' }, rules: [{ apiGroups: ['registry.ketch.dev'], resources: ['repositories'], verbs: ['get', 'create'] }] },
    });
    await api.rest.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'builder-push' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'registry-push' },
        subjects: [{ kind: 'ServiceAccount', name: 'builder', namespace: 'team' }],
      },
    });
    const tr = await api.rest.request<{ status: { token: string } }>('POST', '/api/v1/namespaces/team/serviceaccounts/builder/token', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
    });
    const sa = tr.status.token;
    const creds = `x:${sa}`;
    await skopeo(['copy', '--src-cert-dir', certDir, '--dest-cert-dir', certDir, '--src-creds', creds, '--dest-creds', creds, `docker://${reg.host}/team/busybox@${image.manifestDigest}`, `docker://${reg.host}/team/copy:v1`]);
    const { stdout } = await skopeo(['inspect', '--raw', '--cert-dir', certDir, '--creds', creds, `docker://${reg.host}/team/copy:v1`]);
    assert.equal(stdout.trim(), image.manifest.toString());
    // A token that is not the cluster's gets nothing.
    const refused = await skopeo(['copy', '--dest-cert-dir', certDir, '--dest-creds', 'x:not-a-token', `oci:${image.layout}:v1`, `docker://${reg.host}/team/nope:v1`]).catch((e: { stderr: string }) => e);
    assert.match((refused as { stderr?: string }).stderr ?? '', /401|unauthorized|invalid credentials/i);
  });

  it("our runtime's registry client pulls through the token flow with cluster credentials", async () => {
    // The runtime reaches loopback registries over plain HTTP: a second instance, same auth, HTTP.
    const plain = await startRegistry({ root: join(work, 'plain'), port: 0, host: '127.0.0.1', auth: { cluster: apiServerAuth(api.rest) } });
    try {
      await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `x:${adminToken}`, `oci:${image.layout}:v1`, `docker://${plain.host}/team/busybox:1.36`]);
      const store = new ContentStore(join(work, 'runtime'));
      await store.init();
      // Named insecure, as an operator would with --insecure-registry: credentials go to it over plain HTTP.
      const opts = { insecureRegistries: [plain.host], mirrors: {} };
      const pulled = await pullImage(parseReference(`${plain.host}/team/busybox:1.36`), store, opts, { username: 'x', password: adminToken });
      assert.equal(pulled.manifestDigest, image.manifestDigest);
      assert.ok(await store.has(image.layers[0]!.digest));
      const byDigest = await pullImage(parseReference(`${plain.host}/team/busybox@${image.manifestDigest}`), store, opts, { username: 'x', password: adminToken });
      assert.equal(byDigest.configDigest, image.configDigest);
      await assert.rejects(pullImage(parseReference(`${plain.host}/team/busybox:1.36`), new ContentStore(join(work, 'anon')), opts), /denied|unauthorized|PermissionDenied/i);
    } finally {
      await plain.close();
    }
  });
});
