// `ketch image tag|save|push` on a runtime store (--root), against Debian's docker-registry: the image pulled into the
// store is tagged, saved as an OCI layout tar that `ketch image load` takes into another store, and pushed by skopeo
// under a new name, which the registry then serves with the same manifest digest.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ImageStore } from '../../agent/runtime/image-store.js';
import { run } from '../../cli/main.js';
import { type BuiltImage, buildBusyboxImage, pushImage } from '../support/runtime/oci-image.js';
import { type TestRegistry, startRegistry } from '../support/runtime/registry.js';
import { Sink } from './harness.js';

async function ketch(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const stdin = new PassThrough();
  stdin.end();
  // No kubeconfig: pushes to other registries need none.
  const code = await run(args, { stdout, stderr, stdin, env: { ...process.env, KUBECONFIG: '/nonexistent', NO_COLOR: '1' } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('ketch image tag|save|push (runtime store)', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let image: BuiltImage;
  let dir: string;

  before(async () => {
    [registry, image] = await Promise.all([startRegistry(), buildBusyboxImage()]);
    await pushImage(registry.url, 'test/busybox', 'v1', image);
    dir = await mkdtemp(join(tmpdir(), 'ketch-image-local-'));
  });
  after(async () => {
    await registry?.stop();
    await image?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('tags, saves (loadable elsewhere) and pushes an image of the store', async () => {
    const root = join(dir, 'runtime');
    const store = new ImageStore(root, { insecureRegistries: [], mirrors: {} });
    await store.init();
    const rec = await store.pull(`${registry.host}/test/busybox:v1`);

    assert.equal((await ketch('image', 'tag', '--root', root, `${registry.host}/test/busybox:v1`, `${registry.host}/copy/bb:v2`)).code, 0);
    assert.deepEqual((await store.get(`${registry.host}/copy/bb:v2`)).id, rec.id);
    const missing = await ketch('image', 'tag', '--root', root, 'nothing:1', 'x:1');
    assert.notEqual(missing.code, 0);

    const file = join(dir, 'bb.tar');
    const saved = await ketch('image', 'save', '--root', root, '-o', file, `${registry.host}/copy/bb:v2`);
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal(saved.stdout, `saved ${registry.host}/copy/bb:v2\n`);
    const other = join(dir, 'other');
    const loaded = await ketch('image', 'load', '--root', other, file);
    assert.equal(loaded.code, 0, loaded.stderr);
    const otherStore = new ImageStore(other, { insecureRegistries: [], mirrors: {} });
    await otherStore.init();
    assert.equal((await otherStore.get(`${registry.host}/copy/bb:v2`)).id, rec.id);

    const pushed = await ketch('image', 'push', '--root', root, '--tls-verify=false', `${registry.host}/copy/bb:v2`);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal(pushed.stdout, `pushed ${registry.host}/copy/bb:v2@${image.manifestDigest}\n`);
    const res = await fetch(`${registry.url}/v2/copy/bb/manifests/v2`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(res.headers.get('docker-content-digest'), image.manifestDigest);
  });
});
