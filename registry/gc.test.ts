// Garbage collection: referenced blobs stay, unreferenced ones go, pushes in flight survive (their uploads, their
// young blobs, and manifests pushed while the collector runs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from './server.js';
import { TestClient, fakeConfig, sha } from '../test/support/registry/client.js';

/** Moves every file's mtime under `dir` back by `ms`, as if it had been written that long ago. */
async function age(dir: string, ms: number): Promise<void> {
  const when = new Date(Date.now() - ms);
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) await utimes(join(e.parentPath, e.name), when, when);
  }
}

const HOUR = 3600_000;

describe('registry: garbage collection', () => {
  let dir: string;
  let reg: RunningRegistry;
  let c: TestClient;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ketch-reg-gc-'));
    reg = await startRegistry({ root: dir, port: 0, host: '127.0.0.1', gc: { graceMs: HOUR, uploadTtlMs: 24 * HOUR } });
    c = new TestClient(reg.url);
  });
  afterEach(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('frees the blobs of a deleted image, keeps shared and referenced ones, and leaves pushes in flight alone', async () => {
    const shared = randomBytes(20_000);
    const onlyA = randomBytes(30_000);
    const a = await c.pushImage('apps/a', 'v1', { config: fakeConfig('a'), layers: [shared, onlyA] });
    const b = await c.pushImage('apps/b', 'v1', { config: fakeConfig('b'), layers: [shared] });
    assert.equal((await c.fetch(`/v2/apps/a/manifests/${a.digest}`, { method: 'DELETE' })).status, 202);
    await age(dir, 2 * HOUR);

    // A push in flight: its blobs are up (young), its manifest is not yet; and a chunked upload half done.
    const cLayer = randomBytes(10_000);
    const cConfig = fakeConfig('c');
    for (const blob of [cLayer, cConfig]) assert.equal((await c.pushBlob('apps/c', blob)).status, 201);
    const started = await c.fetch('/v2/apps/c/blobs/uploads/', { method: 'POST' });
    const half = randomBytes(4000);
    const loc = started.headers.get('location') ?? '';
    assert.equal((await c.fetch(loc, { method: 'PATCH', body: half.subarray(0, 2000), headers: { 'content-range': '0-1999' } })).status, 202);

    const report = await reg.gc();
    assert.deepEqual(report.deleted.sort(), [a.digest, sha(fakeConfig('a')), sha(onlyA)].sort());
    assert.equal(report.bytesFreed, a.body.length + fakeConfig('a').length + onlyA.length);
    for (const gone of report.deleted) assert.equal(await reg.store.blobSize(gone), undefined);

    // B still pulls whole.
    const got = await c.fetch('/v2/apps/b/manifests/v1');
    assert.equal(got.headers.get('docker-content-digest'), b.digest);
    assert.deepEqual(Buffer.from(await (await c.fetch(`/v2/apps/b/blobs/${sha(shared)}`)).arrayBuffer()), shared);
    // The push in flight ends well: the chunked upload completes, the manifest finds its blobs.
    assert.equal((await c.fetch(loc, { method: 'PATCH', body: half.subarray(2000), headers: { 'content-range': '2000-3999' } })).status, 202);
    assert.equal((await c.fetch(`${loc}?digest=${sha(half)}`, { method: 'PUT' })).status, 201);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(cConfig), size: cConfig.length },
      layers: [cLayer, half].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(l), size: l.length })),
    });
    assert.equal((await c.pushManifest('apps/c', 'v1', body, 'application/vnd.oci.image.manifest.v1+json')).status, 201);

    // Once everything is old, a second pass finds nothing more to free.
    await age(dir, 2 * HOUR);
    assert.deepEqual((await reg.gc()).deleted, []);
  });

  it('never leaves a manifest pushed during a collection without its blobs', async () => {
    // Blobs linked long ago and referenced by no manifest: fair game for the collector, unless a manifest names them first.
    for (let round = 0; round < 6; round++) {
      const layer = randomBytes(5000);
      const config = fakeConfig(`r${round}`);
      for (const blob of [layer, config]) assert.equal((await c.pushBlob('race', blob)).status, 201);
      await age(dir, 2 * HOUR);
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
      });
      const [push] = await Promise.all([c.pushManifest('race', `r${round}`, body, 'application/vnd.oci.image.manifest.v1+json'), reg.gc()]);
      if (push.status === 201) {
        // Pushed: every blob it names is there.
        for (const d of [sha(layer), sha(config)]) assert.notEqual(await reg.store.blobSize(d), undefined, `round ${round}: ${d} collected under a pushed manifest`);
      } else {
        // The collector won: the push was refused, as a client would retry it.
        assert.equal(push.status, 400);
        assert.equal(await c.errorCode(push), 'MANIFEST_BLOB_UNKNOWN');
      }
    }
  });

  it('removes uploads abandoned for longer than their time to live', async () => {
    const started = await c.fetch('/v2/x/blobs/uploads/', { method: 'POST' });
    assert.equal(started.status, 202);
    assert.equal((await readdir(join(dir, 'uploads'))).length, 1);
    await age(join(dir, 'uploads'), 25 * HOUR);
    const report = await reg.gc();
    assert.equal(report.uploadsExpired, 1);
    assert.deepEqual(await readdir(join(dir, 'uploads')), []);
    assert.equal((await c.fetch(started.headers.get('location') ?? '')).status, 404);
    // The store itself is intact.
    assert.ok((await stat(join(dir, 'blobs'))).isDirectory());
  });
});
