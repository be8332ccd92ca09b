// Hostile input to the registry: path traversal in names, oversized manifests, bad digests and ranges, broken bodies.
// Each gets a spec error body (or a plain 4xx), nothing outside the storage root is touched, and the server stays up.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from './server.js';
import { TestClient, fakeConfig, sha } from '../test/support/registry/client.js';
import { waitFor } from '../test/support/util.js';

/** A raw request (fetch normalises dot segments; an attacker's client does not). */
function raw(base: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('registry: hostile input', () => {
  let dir: string;
  let reg: RunningRegistry;
  let c: TestClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ketch-reg-hostile-'));
    reg = await startRegistry({ root: join(dir, 'root'), port: 0, host: '127.0.0.1', maxBlobBytes: 1024 * 1024 });
    c = new TestClient(reg.url);
    await writeFile(join(dir, 'secret'), 'do not serve');
  });
  after(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses traversal and malformed repository names before touching the disk', async () => {
    const paths = [
      '/v2/../secret/manifests/latest',
      '/v2/a/../../secret/tags/list',
      '/v2/..%2f..%2fsecret/tags/list',
      '/v2/%2e%2e/blobs/uploads/',
      '/v2/UPPER/tags/list',
      '/v2/a//b/tags/list',
      '/v2/a/./b/tags/list',
      '/v2/-lead/tags/list',
      '/v2/a..b/tags/list',
      `/v2/${'a/'.repeat(200)}x/tags/list`,
      '/v2/_catalog/manifests/x',
    ];
    for (const p of paths) {
      for (const method of ['GET', 'PUT', 'POST', 'DELETE']) {
        const r = await raw(reg.url, method, p, method === 'PUT' ? Buffer.from('{}') : undefined);
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${p}: ${r.status}`);
        assert.match(r.text, /"errors":\[\{"code":"[A-Z_]+"/, `${method} ${p}: ${r.text}`);
      }
    }
    assert.deepEqual(await readdir(join(dir, 'root', 'repositories')), []);
  });

  it('refuses bad digests in every place one is read', async () => {
    const bad = ['sha256:xyz', 'sha256:' + 'a'.repeat(63), 'md5:' + 'a'.repeat(32), 'sha256', '../../secret', 'sha256:' + 'A'.repeat(64)];
    for (const d of bad) {
      for (const path of [`/v2/repo/blobs/${encodeURIComponent(d)}`, `/v2/repo/referrers/${d}`, `/v2/repo/blobs/uploads/?digest=${encodeURIComponent(d)}`]) {
        const method = path.includes('uploads') ? 'POST' : 'GET';
        const r = await raw(reg.url, method, path, method === 'POST' ? Buffer.from('x') : undefined);
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${path}: ${r.status}`);
      }
      const m = await raw(reg.url, 'GET', `/v2/repo/manifests/${encodeURIComponent(d)}`);
      assert.ok(m.status >= 400 && m.status < 500, `manifest ${d}: ${m.status}`);
    }
    // A manifest naming a malformed digest.
    const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'x', digest: 'sha256:../../etc', size: 1 }, layers: [] });
    const r = await c.pushManifest('repo', 'v1', body, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(r.status, 400);
    assert.equal(await c.errorCode(r), 'MANIFEST_INVALID');
  });

  it('caps manifests at 4 MiB and blobs at the configured size, leaving no upload behind', async () => {
    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const r = await c.pushManifest('big', 'v1', huge, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(r.status, 413);
    assert.equal(await c.errorCode(r), 'SIZE_INVALID');
    const blob = randomBytes(1024 * 1024 + 10);
    const b = await c.pushBlob('big', blob);
    assert.equal(b.status, 413);
    assert.equal(await reg.store.blobSize(sha(blob)), undefined);
    assert.deepEqual(await readdir(join(dir, 'root', 'uploads')), []);
  });

  it('refuses manifests that are not JSON, schema 1, or disagree with their Content-Type', async () => {
    const cases: [string, string][] = [
      ['not json', 'application/vnd.oci.image.manifest.v1+json'],
      ['[]', 'application/vnd.oci.image.manifest.v1+json'],
      [JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+json'],
      [JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), 'application/vnd.oci.image.manifest.v1+json'],
      [JSON.stringify({ schemaVersion: 2, mediaType: 'text/html', config: {}, layers: [] }), 'text/html'],
      [JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'a', digest: sha('a'), size: -1 }, layers: [] }), 'application/vnd.oci.image.manifest.v1+json'],
    ];
    for (const [body, type] of cases) {
      const r = await c.pushManifest('junk', 'v1', body, type);
      assert.equal(r.status, 400, body);
      assert.equal(await c.errorCode(r), 'MANIFEST_INVALID', body);
    }
    // Pushing by digest: the body must hash to it.
    const good = await c.pushImage('junk', 'ok', { config: fakeConfig('ok'), layers: [] });
    const wrong = await c.pushManifest('junk', sha('other'), good.body, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(wrong.status, 400);
    assert.equal(await c.errorCode(wrong), 'DIGEST_INVALID');
  });

  it('refuses bad Content-Range headers, unknown uploads and other repositories\' uploads', async () => {
    const start = await c.fetch('/v2/ranges/blobs/uploads/', { method: 'POST' });
    const loc = start.headers.get('location') ?? '';
    for (const range of ['abc', '5-2', '-1-3', '0-']) {
      const r = await c.fetch(loc, { method: 'PATCH', body: 'xyz', headers: { 'content-range': range } });
      assert.equal(r.status, 416, range);
    }
    const lying = await c.fetch(loc, { method: 'PATCH', body: 'xyz', headers: { 'content-range': '0-9' } });
    assert.equal(lying.status, 416);
    assert.equal((await c.fetch('/v2/ranges/blobs/uploads/not-a-uuid')).status, 404);
    assert.equal((await c.fetch(`/v2/ranges/blobs/uploads/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`)).status, 404);
    const other = await c.fetch(loc.replace('/v2/ranges/', '/v2/elsewhere/'));
    assert.equal(other.status, 404);
    assert.equal(await c.errorCode(other), 'BLOB_UPLOAD_UNKNOWN');
    const range = await c.fetch(`/v2/ranges/blobs/${sha('x')}`, { headers: { range: 'bytes=99-5' } });
    assert.equal(range.status, 404);
  });

  it('survives a client that drops a chunk half-way; the upload resumes from what reached the disk', async () => {
    const start = await c.fetch('/v2/drop/blobs/uploads/', { method: 'POST' });
    const loc = new URL(start.headers.get('location') ?? '', reg.url);
    await new Promise<void>((resolve) => {
      const req = request({ host: loc.hostname, port: loc.port, method: 'PATCH', path: loc.pathname, headers: { 'content-length': '100000' } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(1000, 1), () => setImmediate(() => req.destroy()));
      req.on('close', () => resolve());
    });
    // As a client resumes: ask where the upload stands, send the rest from there (again if the server was still busy).
    const rest = Buffer.alloc(500, 2);
    // A reset can drop what the server had not read yet, even all of it; "0-0" means 0 or 1 byte (as in distribution).
    const got = await waitFor(async () => {
      const status = await c.fetch(loc.toString());
      assert.equal(status.status, 204);
      const end = Number((status.headers.get('range') ?? '0-0').split('-')[1]);
      for (const at of end === 0 ? [0, 1] : [end + 1]) {
        const patched = await c.fetch(loc.toString(), { method: 'PATCH', body: rest, headers: { 'content-range': `${at}-${at + 499}` } });
        if (patched.status === 202) return { at };
      }
      return undefined;
    }).then((r) => r.at);
    assert.ok(got >= 0 && got <= 1000, `resumed at ${got}`);
    const data = Buffer.concat([Buffer.alloc(got, 1), rest]);
    const put = await c.fetch(`${loc.toString()}?digest=${sha(data)}`, { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.equal((await stat(reg.store.blobPath(sha(data)))).size, data.length);
  });

  it('answers unknown routes and methods with spec errors and keeps serving', async () => {
    assert.equal((await raw(reg.url, 'GET', '/nothing')).status, 404);
    assert.equal((await raw(reg.url, 'POST', '/v2/a/manifests/v1')).status, 405);
    assert.equal((await raw(reg.url, 'GET', '/v2/a/tags/list?n=99999999999999999999')).status, 404);
    assert.equal((await c.fetch('/v2/')).status, 200);
  });
});
