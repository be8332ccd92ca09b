// `ketch registry` as a process (HTTPS, cluster credentials) and `ketch registry gc` against it: a deleted image's
// blobs are freed, the rest stay and still pull; --offline collects a stopped registry's directory.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildTinyImage, type BuiltImage } from '../support/runtime/oci-image.js';
import { RegistryStore } from '../../registry/store.js';
import { startHarness, type Harness } from '../cli/harness.js';
import { freePort, waitFor } from '../support/util.js';

const run = promisify(execFile);

describe('ketch registry and ketch registry gc', function () {
  this.timeout(90_000);
  let h: Harness;
  let work: string;
  let child: ChildProcess | undefined;
  let host: string;
  let certDir: string;
  let token: string;
  let images: BuiltImage[] = [];

  before(async () => {
    h = await startHarness();
    work = await mkdtemp(join(tmpdir(), 'ketch-regcli-'));
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'cli/entry.ts', '--kubeconfig', h.kubeconfig, 'registry', '--data-dir', join(work, 'data'), '--port', String(port), '--address', '127.0.0.1', '--pki-dir', join(h.dir, 'pki')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    certDir = join(work, 'certs');
    await mkdir(certDir);
    await writeFile(join(certDir, 'ca.crt'), await readFile(join(h.dir, 'pki', 'ca.crt')));
    token = (await readFile(join(h.dir, 'token-file'), 'utf8')).split(',')[0] ?? '';
    await waitFor(async () => child?.exitCode === null && /serving/.test(stderr), { timeoutMs: 30_000, what: `ketch registry to start: ${stderr}` });
    images = [
      await buildTinyImage([{ 'shared.txt': 'shared base' }, { 'a.txt': 'only in a' }], { tag: 'v1' }),
      await buildTinyImage([{ 'shared.txt': 'shared base' }, { 'b.txt': 'only in b' }], { tag: 'v1' }),
    ];
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    for (const i of images) await i.dispose();
    await h?.close();
    await rm(work, { recursive: true, force: true });
  });

  const skopeo = (args: string[]): Promise<{ stdout: string }> => run('skopeo', ['--insecure-policy', ...args], { timeout: 60_000 });

  it('frees the blobs of a deleted image and keeps the rest', async () => {
    const [a, b] = images as [BuiltImage, BuiltImage];
    for (const [img, repo] of [[a, 'apps/a'], [b, 'apps/b']] as const) {
      await skopeo(['copy', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', `x:${token}`, `oci:${img.layout}:v1`, `docker://${host}/${repo}:v1`]);
    }
    await skopeo(['delete', '--cert-dir', certDir, '--creds', `x:${token}`, `docker://${host}/apps/a@${a.manifestDigest}`]);
    const dry = await h.ketch(['registry', 'gc', '--registry', `https://${host}`, '--grace', '0s', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would remove 3 of \d+ blobs/);
    const res = await h.ketch(['registry', 'gc', '--registry', `https://${host}`, '--grace', '0s']);
    assert.equal(res.code, 0, res.stderr);
    const removed = res.stdout.split('\n').filter((l) => l.startsWith('  sha256:')).map((l) => l.trim()).sort();
    // A's manifest, config and own layer; the shared layer stays.
    assert.deepEqual(removed, [a.manifestDigest, a.configDigest, a.layers[1]!.digest].sort());
    const store = new RegistryStore(join(work, 'data'));
    assert.equal(await store.blobSize(a.layers[0]!.digest), a.layers[0]!.data.length);
    const out = join(work, 'pulled-b');
    await skopeo(['copy', '--src-cert-dir', certDir, '--src-creds', `x:${token}`, `docker://${host}/apps/b@${b.manifestDigest}`, `oci:${out}:b`]);
    assert.equal((JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]?.digest, b.manifestDigest);
  });

  it('refuses a collection without cluster credentials', async () => {
    const kubeconfig = join(work, 'bad.kubeconfig');
    const ca = Buffer.from(await readFile(join(h.dir, 'pki', 'ca.crt'))).toString('base64');
    await writeFile(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://${host}", certificate-authority-data: ${ca}}}]\nusers: [{name: u, user: {token: not-a-token}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n`);
    const res = await h.ketch(['--kubeconfig', kubeconfig, 'registry', 'gc', '--registry', `https://${host}`]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /401/);
  });

  it('collects a stopped registry directly with --offline', async () => {
    const exited = new Promise((r) => child?.once('exit', r));
    child?.kill('SIGTERM');
    await exited;
    const b = images[1]!;
    const store = new RegistryStore(join(work, 'data'));
    // Deleting B's manifest by hand (what the API does) leaves its blobs for the collector.
    await store.deleteManifest('apps/b', b.manifestDigest);
    const res = await h.ketch(['registry', 'gc', '--offline', '--data-dir', join(work, 'data'), '--grace', '0s']);
    const missing = await h.ketch(['registry', '--data-dir', join(work, 'nothing'), 'gc', '--offline']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /holds no registry storage/);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /removed 4 of 4 blobs/);
  });
});
