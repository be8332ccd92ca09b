// Conformance-style tests of the built-in registry against the real server (plain HTTP, no auth: the protocol).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from './server.js';
import { TestClient, fakeConfig, sha } from '../test/support/registry/client.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

describe('registry: distribution spec', () => {
  let dir: string;
  let reg: RunningRegistry;
  let c: TestClient;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ketch-reg-'));
    reg = await startRegistry({ root: dir, port: 0, host: '127.0.0.1' });
    c = new TestClient(reg.url);
  });
  afterEach(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the base endpoint with the API version header', async () => {
    const r = await c.fetch('/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('pushes an image and pulls it by tag and by digest, HEAD and GET', async () => {
    const layer = randomBytes(100_000);
    const { digest, body } = await c.pushImage('team/app', 'v1', { config: fakeConfig('v1'), layers: [layer] });
    for (const ref of ['v1', digest]) {
      const head = await c.fetch(`/v2/team/app/manifests/${ref}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('docker-content-digest'), digest);
      assert.equal(head.headers.get('content-length'), String(body.length));
      const get = await c.fetch(`/v2/team/app/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('content-type'), OCI_MANIFEST);
      assert.deepEqual(Buffer.from(await get.arrayBuffer()), body);
    }
    const blob = await c.fetch(`/v2/team/app/blobs/${sha(layer)}`);
    assert.equal(blob.status, 200);
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), layer);
    const part = await c.fetch(`/v2/team/app/blobs/${sha(layer)}`, { headers: { range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), layer.subarray(10, 20));
    // Another repository does not hold the blob.
    const other = await c.fetch(`/v2/other/blobs/${sha(layer)}`, { method: 'GET' });
    assert.equal(other.status, 404);
    assert.equal(await c.errorCode(other), 'BLOB_UNKNOWN');
  });

  it('takes a monolithic upload in one POST', async () => {
    const data = randomBytes(5000);
    const r = await c.fetch(`/v2/mono/blobs/uploads/?digest=${sha(data)}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), `/v2/mono/blobs/${sha(data)}`);
    assert.equal((await c.fetch(`/v2/mono/blobs/${sha(data)}`, { method: 'HEAD' })).status, 200);
  });

  it('takes chunked uploads in order and refuses a chunk out of order, leaving the upload as it was', async () => {
    const data = randomBytes(300_000);
    const start = await c.fetch('/v2/chunky/blobs/uploads/', { method: 'POST' });
    assert.equal(start.status, 202);
    let loc = start.headers.get('location') ?? '';
    const chunk = async (from: number, to: number): Promise<Response> =>
      c.fetch(loc, { method: 'PATCH', body: data.subarray(from, to), headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}`, 'content-length': String(to - from) } });
    const first = await chunk(0, 100_000);
    assert.equal(first.status, 202);
    assert.equal(first.headers.get('range'), '0-99999');
    loc = first.headers.get('location') ?? loc;
    const skipped = await chunk(200_000, 300_000);
    assert.equal(skipped.status, 416);
    const status = await c.fetch(loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-99999');
    assert.equal((await chunk(100_000, 200_000)).status, 202);
    assert.equal((await chunk(200_000, 300_000)).status, 202);
    const put = await c.fetch(`${loc}?digest=${sha(data)}`, { method: 'PUT' });
    assert.equal(put.status, 201);
    const got = await c.fetch(`/v2/chunky/blobs/${sha(data)}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
    assert.deepEqual(await readdir(join(dir, 'uploads')), []);
  });

  it('refuses a digest that does not match and leaves nothing behind', async () => {
    const data = randomBytes(10_000);
    const wrong = sha('something else');
    const r = await c.pushBlob('bad', data, wrong);
    assert.equal(r.status, 400);
    assert.equal(await c.errorCode(r), 'DIGEST_INVALID');
    assert.equal((await c.fetch(`/v2/bad/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
    assert.equal((await c.fetch(`/v2/bad/blobs/${sha(data)}`, { method: 'HEAD' })).status, 404);
    assert.deepEqual(await readdir(join(dir, 'uploads')), []);
    assert.equal(await reg.store.blobSize(wrong), undefined);
    assert.equal(await reg.store.blobSize(sha(data)), undefined);
  });

  it('mounts a blob from another repository, and falls back to an upload when the source lacks it', async () => {
    const data = randomBytes(2000);
    assert.equal((await c.pushBlob('src', data)).status, 201);
    const mounted = await c.fetch(`/v2/dst/blobs/uploads/?mount=${sha(data)}&from=src`, { method: 'POST' });
    assert.equal(mounted.status, 201);
    assert.equal(mounted.headers.get('docker-content-digest'), sha(data));
    assert.equal((await c.fetch(`/v2/dst/blobs/${sha(data)}`, { method: 'HEAD' })).status, 200);
    const missing = await c.fetch(`/v2/dst2/blobs/uploads/?mount=${sha('nope')}&from=src`, { method: 'POST' });
    assert.equal(missing.status, 202);
    assert.match(missing.headers.get('location') ?? '', /^\/v2\/dst2\/blobs\/uploads\/[0-9a-f-]{36}$/);
  });

  it('lists tags in pages with n, last and a Link header', async () => {
    const config = fakeConfig('x');
    const tags = ['a', 'b', 'c', 'd', 'e'];
    for (const t of tags) await c.pushImage('paged', t, { config, layers: [] });
    const all = await c.fetch('/v2/paged/tags/list');
    assert.deepEqual(((await all.json()) as { tags: string[] }).tags, tags);
    let next: string | undefined = '/v2/paged/tags/list?n=2';
    const seen: string[] = [];
    while (next) {
      const r: Response = await c.fetch(next);
      assert.equal(r.status, 200);
      seen.push(...((await r.json()) as { tags: string[] }).tags);
      next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get('link') ?? '')?.[1];
    }
    assert.deepEqual(seen, tags);
    const after = await c.fetch('/v2/paged/tags/list?n=10&last=c');
    assert.deepEqual(((await after.json()) as { tags: string[] }).tags, ['d', 'e']);
    assert.equal((await c.fetch('/v2/paged/tags/list?n=-1')).status, 400);
    const unknown = await c.fetch('/v2/nothing/here/tags/list');
    assert.equal(unknown.status, 404);
    assert.equal(await c.errorCode(unknown), 'NAME_UNKNOWN');
  });

  it('lists the catalog in pages', async () => {
    for (const r of ['z/one', 'a/two', 'm/three']) await c.pushImage(r, 'v1', { config: fakeConfig(r), layers: [] });
    const first = await c.fetch('/v2/_catalog?n=2');
    assert.deepEqual(((await first.json()) as { repositories: string[] }).repositories, ['a/two', 'm/three']);
    const next = /<([^>]+)>;\s*rel="next"/.exec(first.headers.get('link') ?? '')?.[1];
    assert.ok(next);
    const second = await c.fetch(next);
    assert.deepEqual(((await second.json()) as { repositories: string[] }).repositories, ['z/one']);
    assert.equal(second.headers.get('link'), null);
  });

  it('deletes manifests by digest (with their tags), tags alone, and blobs', async () => {
    const layer = randomBytes(1000);
    const { digest } = await c.pushImage('del', 'v1', { config: fakeConfig('d'), layers: [layer] });
    await c.pushManifest('del', 'v2', (await (await c.fetch(`/v2/del/manifests/${digest}`)).arrayBuffer().then(Buffer.from)), OCI_MANIFEST);
    assert.equal((await c.fetch('/v2/del/manifests/v2', { method: 'DELETE' })).status, 202);
    assert.equal((await c.fetch('/v2/del/manifests/v2')).status, 404);
    assert.equal((await c.fetch('/v2/del/manifests/v1')).status, 200);
    assert.equal((await c.fetch(`/v2/del/manifests/${digest}`, { method: 'DELETE' })).status, 202);
    const gone = await c.fetch('/v2/del/manifests/v1');
    assert.equal(gone.status, 404);
    assert.equal(await c.errorCode(gone), 'MANIFEST_UNKNOWN');
    assert.equal((await c.fetch(`/v2/del/manifests/${digest}`)).status, 404);
    assert.equal((await c.fetch(`/v2/del/blobs/${sha(layer)}`, { method: 'DELETE' })).status, 202);
    assert.equal((await c.fetch(`/v2/del/blobs/${sha(layer)}`, { method: 'HEAD' })).status, 404);
    assert.equal((await c.fetch(`/v2/del/blobs/${sha(layer)}`, { method: 'DELETE' })).status, 404);
  });

  it('refuses a manifest whose blobs the repository does not hold', async () => {
    const layer = randomBytes(100);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('cfg'), size: 3 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: 100 }],
    });
    const r = await c.pushManifest('missing', 'v1', body, OCI_MANIFEST);
    assert.equal(r.status, 400);
    assert.equal(await c.errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
  });

  it('serves image indexes (multi-arch) and Docker schema 2 manifests and lists', async () => {
    const amd = await c.pushImage('multi', 'amd64', { config: fakeConfig('amd64'), layers: [randomBytes(100)] });
    const arm = await c.pushImage('multi', 'arm64', { config: fakeConfig('arm64'), layers: [randomBytes(100)], mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.body.length, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: arm.digest, size: arm.body.length, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    });
    assert.equal((await c.pushManifest('multi', 'latest', index, OCI_INDEX)).status, 201);
    const got = await c.fetch('/v2/multi/manifests/latest');
    assert.equal(got.headers.get('content-type'), OCI_INDEX);
    assert.equal(await got.text(), index);
    const docker = await c.fetch('/v2/multi/manifests/arm64');
    assert.equal(docker.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
    // An index naming a manifest the repository lacks is refused.
    const dangling = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha('x'), size: 1 }] });
    const r = await c.pushManifest('multi', 'bad', dangling, OCI_INDEX);
    assert.equal(r.status, 400);
    assert.equal(await c.errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
  });

  it('answers the referrers API, with the artifactType filter and the OCI-Subject header', async () => {
    const subject = await c.pushImage('ref', 'v1', { config: fakeConfig('s'), layers: [randomBytes(50)] });
    const empty = Buffer.from('{}');
    assert.equal((await c.pushBlob('ref', empty)).status, 201);
    const artifact = (type: string, note: string): string =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: type,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.body.length },
        annotations: { note },
      });
    const sig = artifact('application/vnd.example.signature', 'sig');
    const sbom = artifact('application/vnd.example.sbom', 'sbom');
    for (const a of [sig, sbom]) {
      const r = await c.pushManifest('ref', sha(a), a, OCI_MANIFEST);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('oci-subject'), subject.digest);
    }
    const all = await c.fetch(`/v2/ref/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('content-type'), OCI_INDEX);
    const idx = (await all.json()) as { manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[] };
    assert.deepEqual(idx.manifests.map((m) => m.digest).sort(), [sha(sig), sha(sbom)].sort());
    const filtered = await c.fetch(`/v2/ref/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    const f = (await filtered.json()) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.deepEqual(f.manifests.map((m) => [m.digest, m.annotations.note]), [[sha(sbom), 'sbom']]);
    const none = await c.fetch(`/v2/ref/referrers/${sha('unknown')}`);
    assert.deepEqual(((await none.json()) as { manifests: unknown[] }).manifests, []);
    // Deleting a referrer takes it out of the list.
    assert.equal((await c.fetch(`/v2/ref/manifests/${sha(sig)}`, { method: 'DELETE' })).status, 202);
    const after = (await (await c.fetch(`/v2/ref/referrers/${subject.digest}`)).json()) as { manifests: { digest: string }[] };
    assert.deepEqual(after.manifests.map((m) => m.digest), [sha(sbom)]);
  });
});
