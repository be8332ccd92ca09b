// Image pulls against a real docker-registry: OCI manifests, mirrors, errors, digest checks, archives, whiteouts.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sha256 } from './content-store.js';
import { saveImageArchive } from './image-archive.js';

const execFileP = promisify(execFile);
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { FakeClock } from '../../lib/clock.js';
import { rootLogger } from '../../lib/logger.js';
import { ImageStore, PULL_PROGRESS_MS } from './image-store.js';
import { parseReference } from './reference.js';
import { type BuiltImage, archiveLayout, buildBusyboxImage, buildTinyImage, multiArchIndex, pushImage, pushManifest } from '../../test/support/runtime/oci-image.js';
import { type TestRegistry, startRegistry } from '../../test/support/runtime/registry.js';

describe('runtime image store', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let image: BuiltImage;
  let root: string;

  before(async () => {
    [registry, image] = await Promise.all([startRegistry(), buildBusyboxImage()]);
    await pushImage(registry.url, 'test/busybox', 'v1', image);
  });
  after(async () => {
    await registry?.stop();
    await image?.dispose();
  });
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ketch-images-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const store = (mirrors: Record<string, string> = {}): ImageStore => new ImageStore(root, { insecureRegistries: [], mirrors });

  it('parses references the way docker does', () => {
    assert.deepEqual(parseReference('busybox:1.36'), { domain: 'docker.io', repository: 'library/busybox', tag: '1.36' });
    assert.deepEqual(parseReference('127.0.0.1:5000/a/b'), { domain: '127.0.0.1:5000', repository: 'a/b', tag: 'latest' });
    assert.throws(() => parseReference('UPPER/case'), /invalid repository/);
  });

  it('pulls an OCI image, verifies it and unpacks its layer once', async () => {
    const s = store();
    await s.init();
    const rec = await s.pull(`${registry.host}/test/busybox:v1`);
    assert.equal(rec.id, image.configDigest);
    assert.deepEqual(rec.repoTags, [`${registry.host}/test/busybox:v1`]);
    assert.deepEqual(rec.repoDigests, [`${registry.host}/test/busybox@${image.manifestDigest}`]);
    const fs = s.snapshotFs(rec.chainIds[0] ?? '');
    assert.ok((await stat(join(fs, 'bin/busybox'))).isFile());
    assert.equal((await s.find('sha256:' + rec.id.slice(7)))?.id, rec.id);
    assert.equal((await s.find(rec.id.slice(7, 19)))?.id, rec.id);
    // A second pull reuses blobs and the snapshot.
    const again = await s.pull(`${registry.host}/test/busybox:v1`);
    assert.equal(again.id, rec.id);
    assert.equal((await readdir(s.snapshotsDir)).length, 1);
  });

  it('pulls busybox:1.36 through a docker.io mirror', async () => {
    await pushImage(registry.url, 'library/busybox', '1.36', image);
    const s = store({ 'docker.io': registry.url });
    await s.init();
    const rec = await s.pull('busybox:1.36');
    assert.deepEqual(rec.repoTags, ['docker.io/library/busybox:1.36']);
    assert.equal((await s.find('busybox:1.36'))?.id, rec.id);
    assert.equal(rec.source, registry.url);
  });

  for (const docker of [false, true]) {
    it(`picks linux/amd64 from ${docker ? 'a docker manifest list of schema-2 manifests' : 'an OCI index'}`, async () => {
      const amd = await buildTinyImage([{ 'etc/arch': 'amd64' }], { docker });
      const arm = await buildTinyImage([{ 'etc/arch': 'arm64' }], { docker });
      const repo = docker ? 'test/multi-docker' : 'test/multi-oci';
      await pushImage(registry.url, repo, 'amd64', amd);
      await pushImage(registry.url, repo, 'arm64', arm);
      const index = multiArchIndex(amd, arm, docker);
      await pushManifest(registry.url, repo, 'multi', index.body, index.mediaType);
      await Promise.all([amd.dispose(), arm.dispose()]);
      const s = store();
      await s.init();
      const rec = await s.pull(`${registry.host}/${repo}:multi`);
      assert.equal(rec.id, amd.configDigest);
      assert.equal(rec.manifestDigest, amd.manifestDigest);
      assert.equal(await readFile(join(s.snapshotFs(rec.chainIds[0] ?? ''), 'etc/arch'), 'utf8'), 'amd64');
    });
  }

  /** Answers `res` with the real registry's answer `up` (status, content type, digest and body). */
  const relay = async (up: Response, res: ServerResponse): Promise<void> => {
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'docker-content-digest']) {
      const v = up.headers.get(h);
      if (v) headers[h] = v;
    }
    res.writeHead(up.status, headers).end(Buffer.from(await up.arrayBuffer()));
  };

  it('answers a bearer-token challenge with the credentials of the pull', async () => {
    // A front door that demands a token, as Docker Hub does, in front of the real registry.
    const token = 'tok-' + Math.random().toString(16).slice(2);
    const basic = 'Basic ' + Buffer.from('alice:s3cret').toString('base64');
    const front = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        const ok = req.headers.authorization === basic && url.searchParams.get('scope') === 'repository:test/busybox:pull' && url.searchParams.get('service') === 'test-registry';
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token }) : '{}');
        return;
      }
      if (req.headers.authorization !== `Bearer ${token}`) {
        const { port } = front.address() as { port: number };
        res
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:test/busybox:pull"` })
          .end();
        return;
      }
      void fetch(`${registry.url}${req.url ?? ''}`, { headers: { accept: req.headers.accept ?? '' } }).then((up) => relay(up, res));
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    try {
      const { port } = front.address() as { port: number };
      // Plain HTTP on loopback, not named insecure: pulled from anonymously, but no credentials go there.
      const unnamed = store();
      await unnamed.init();
      await assert.rejects(unnamed.pull(`127.0.0.1:${port}/test/busybox:v1`, { username: 'alice', password: 's3cret' }), /127\.0\.0\.1:\d+ asks for credentials over plain HTTP: they are sent only over TLS or to a registry named with --insecure-registry/);
      const s = new ImageStore(root, { insecureRegistries: [`127.0.0.1:${port}`], mirrors: {} });
      await s.init();
      await assert.rejects(s.pull(`127.0.0.1:${port}/test/busybox:v1`), /token endpoint .* answered 401/);
      await assert.rejects(s.pull(`127.0.0.1:${port}/test/busybox:v1`, { username: 'alice', password: 'wrong' }), /token endpoint .* answered 401/);
      const rec = await s.pull(`127.0.0.1:${port}/test/busybox:v1`, { username: 'alice', password: 's3cret' });
      assert.equal(rec.id, image.configDigest);
    } finally {
      await new Promise((r) => front.close(r));
    }
  });

  /** A registry in front of the real one that rewrites what `alter` says, for hostile answers. */
  const hostileFront = async (alter: (path: string, up: Response, res: ServerResponse) => Promise<boolean>): Promise<{ host: string; close(): Promise<void> }> => {
    const front = createServer((req, res) => {
      void fetch(`${registry.url}${req.url ?? ''}`, { headers: { accept: req.headers.accept ?? '' } }).then(async (up) => {
        if (await alter(req.url ?? '', up, res)) return;
        await relay(up, res);
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const { port } = front.address() as { port: number };
    return { host: `127.0.0.1:${port}`, close: () => new Promise<void>((r) => front.close(() => r())) };
  };

  it('refuses a manifest over 4 MiB without reading it all', async () => {
    let sent = 0;
    const front = await hostileFront(async (path, _up, res) => {
      if (!path.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      // No Content-Length: the cap must hold while the body streams.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
      return true;
    });
    try {
      const s = store();
      await s.init();
      await assert.rejects(s.pull(`${front.host}/test/busybox:v1`), /manifest of ".*" is more than the 4194304 bytes allowed/);
      assert.ok(sent < 32 * 1024 * 1024, `the server got to send ${sent} bytes`);
    } finally {
      await front.close();
    }
  });

  it('cuts off a blob once it runs past the size of its descriptor, and keeps nothing of it', async () => {
    const layer = image.layers[0]?.digest ?? '';
    const front = await hostileFront(async (path, up, res) => {
      if (!path.endsWith(`/blobs/${layer}`)) return false;
      const body = Buffer.from(await up.arrayBuffer());
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.on('error', () => undefined);
      res.write(body);
      res.end(Buffer.alloc(1024 * 1024));
      return true;
    });
    try {
      const s = store();
      await s.init();
      await assert.rejects(s.pull(`${front.host}/test/busybox:v1`), /size mismatch for blob sha256:[0-9a-f]+.*more than the \d+ bytes its descriptor says/);
      assert.equal(await s.content.has(layer), false);
    } finally {
      await front.close();
    }
  });

  it('does not send the registry credentials along a redirect to another origin', async () => {
    const seen: (string | undefined)[] = [];
    const storage = createServer((req, res) => {
      seen.push(req.headers.authorization);
      void fetch(`${registry.url}${req.url ?? ''}`).then(async (up) => res.writeHead(up.status).end(Buffer.from(await up.arrayBuffer())));
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
    const { port: storagePort } = storage.address() as { port: number };
    const basic = 'Basic ' + Buffer.from('bob:pw').toString('base64');
    const front = await hostileFront(async (path, _up, res) => {
      if (!path.includes('/blobs/')) return false;
      res.writeHead(307, { location: `http://127.0.0.1:${storagePort}${path}` }).end();
      return true;
    });
    try {
      const s = new ImageStore(root, { insecureRegistries: [front.host], mirrors: {} });
      await s.init();
      await s.pull(`${front.host}/test/busybox:v1`, { auth: basic.slice(6), registryToken: 'tok' });
      assert.ok(seen.length >= 2);
      assert.deepEqual(seen.filter(Boolean), []);
    } finally {
      await front.close();
      await new Promise((r) => storage.close(r));
    }
  });

  it('reports a missing image clearly', async () => {
    const s = store();
    await s.init();
    await assert.rejects(s.pull(`${registry.host}/test/nope:v1`), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NotFound');
      assert.match(err.message, /image ".*test\/nope:v1" not found/);
      return true;
    });
  });

  it('rejects a blob whose content does not match its digest', async () => {
    const bad = await buildBusyboxImage({ files: { '/etc/marker': 'corrupt-me' } });
    await pushImage(registry.url, 'test/corrupt', 'v1', bad);
    const layer = bad.layers[0];
    assert.ok(layer);
    const hex = layer.digest.slice(7);
    const data = join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(data);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    await writeFile(data, bytes);
    const s = store();
    await s.init();
    await bad.dispose();
    await assert.rejects(s.pull(`${registry.host}/test/corrupt:v1`), /digest mismatch/);
    assert.equal(await s.content.has(layer.digest), false);
    assert.equal((await s.list()).length, 0);
  });

  it('says every few seconds that a slow pull still runs, and stops when it ends', async () => {
    // A registry that takes connections and answers nothing until the test lets it go.
    const held: import('node:http').ServerResponse[] = [];
    const slow = createServer((_req, res) => void held.push(res));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const port = (slow.address() as import('node:net').AddressInfo).port;
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => lines.push(d.toString()));
    const transport = new winston.transports.Stream({ stream: sink });
    const level = rootLogger.level;
    rootLogger.level = 'info';
    rootLogger.add(transport);
    const clock = new FakeClock(0);
    try {
      const s = new ImageStore(root, { insecureRegistries: [`127.0.0.1:${port}`], mirrors: {} }, undefined, clock);
      await s.init();
      const pull = s.pull(`127.0.0.1:${port}/slow/image:v1`).then(() => 'pulled', (err: unknown) => String(err));
      const progress = (): string[] => lines.filter((l) => l.includes('still pulling image'));
      await clock.advance(PULL_PROGRESS_MS - 1);
      assert.deepEqual(progress(), []);
      await clock.advance(1);
      await clock.advance(PULL_PROGRESS_MS);
      assert.equal(progress().length, 2);
      assert.match(progress()[1]!, /"image":"127\.0\.0\.1:\d+\/slow\/image:v1".*"seconds":10/);
      for (const res of held) res.writeHead(404).end();
      assert.match(await pull, /not found|NotFound|404/i);
      await clock.advance(PULL_PROGRESS_MS * 3);
      assert.equal(progress().length, 2);
    } finally {
      rootLogger.remove(transport);
      rootLogger.level = level;
      for (const res of held) if (!res.writableEnded) res.end();
      await new Promise((r) => slow.close(r));
    }
  });

  it('loads an OCI image-layout archive', async () => {
    const file = join(root, 'bb.tar');
    await archiveLayout(image, file);
    const s = store();
    await s.init();
    const [rec] = await s.loadArchive(file, { name: 'example.com/tools/bb' });
    assert.deepEqual(rec?.repoTags, ['example.com/tools/bb:v1']);
    assert.ok(await s.remove('example.com/tools/bb:v1'));
    assert.equal((await s.content.list()).length, 0);
    assert.equal((await readdir(s.snapshotsDir)).length, 0);
  });

  it('tags an image and saves it as an OCI layout tar that skopeo reads and a fresh store loads back', async () => {
    const s = store();
    await s.init();
    const rec = await s.pull(`${registry.host}/test/busybox:v1`);
    await s.tag(`${registry.host}/test/busybox:v1`, 'example.com/copy/bb:2');
    assert.deepEqual((await s.get('example.com/copy/bb:2')).id, rec.id);
    await assert.rejects(s.tag('example.com/nothing:1', 'example.com/x:1'), /not found|No such image/i);
    const file = join(root, 'saved.tar');
    assert.deepEqual(await saveImageArchive(s, ['example.com/copy/bb:2'], file), ['example.com/copy/bb:2']);
    // A real client reads it: skopeo inspects the archive by its ref name.
    const { stdout } = await execFileP('skopeo', ['inspect', '--raw', `oci-archive:${file}:2`]);
    assert.equal(sha256(stdout), image.manifestDigest);
    const other = new ImageStore(join(root, 'other'), { insecureRegistries: [], mirrors: {} });
    await other.init();
    const [loaded] = await other.loadArchive(file);
    assert.equal(loaded?.id, rec.id);
    assert.deepEqual(loaded?.repoTags, ['example.com/copy/bb:2']);
    assert.ok((await stat(join(other.snapshotFs(loaded?.chainIds[0] ?? ''), 'bin/busybox'))).isFile());
  });

  it('turns whiteouts and opaque directories into overlay form', async () => {
    const built = await buildTinyImage([{ 'a/x': '1', 'a/keep': '1', 'b/y': '1', 'b/w': '1' }, { 'a/.wh.x': '', 'b/.wh..wh..opq': '', 'b/z': '2' }], { tag: 'wh' });
    const file = join(root, 'wh.tar');
    await archiveLayout(built, file);
    await built.dispose();
    const s = store();
    await s.init();
    const [rec] = await s.loadArchive(file, { name: 'example.com/wh' });
    assert.ok(rec);
    const top = s.snapshotFs(rec.chainIds[1] ?? '');
    const isWhiteout = async (p: string): Promise<boolean> => {
      const st = await stat(join(top, p));
      return st.isCharacterDevice() && st.rdev === 0;
    };
    assert.ok(await isWhiteout('a/x'));
    assert.ok(await isWhiteout('b/y'));
    assert.ok(await isWhiteout('b/w'));
    assert.equal(await readFile(join(top, 'b/z'), 'utf8'), '2');
    await assert.rejects(stat(join(top, 'a/keep')));
  });

  it('collects unused images least recently used first, from the high threshold down to the low one', async () => {
    let inUse = '';
    const s = new ImageStore(root, { insecureRegistries: [], mirrors: {} }, async () => ({ imageIds: new Set([inUse]), chainIds: new Set<string>() }));
    await s.init();
    const ids: Record<string, string> = {};
    for (const name of ['a', 'b', 'c', 'd']) {
      const built = await buildTinyImage([{ [`${name}.txt`]: name }], { tag: name });
      const file = join(root, `${name}.tar`);
      await archiveLayout(built, file);
      await built.dispose();
      const [rec] = await s.loadArchive(file, { name: 'example.com/gc' });
      ids[name] = rec?.id ?? '';
    }
    // Least recently used first: c, a, d, b; c is held by a container.
    for (const name of ['c', 'a', 'd', 'b']) {
      await new Promise((r) => setTimeout(r, 3));
      await s.touch(ids[name] ?? '');
    }
    inUse = ids.c ?? '';
    // Each image stands for 10% of a fake filesystem: 4 images = 40%.
    const usage = async (): Promise<{ usedBytes: number; totalBytes: number }> => ({ usedBytes: (await s.list()).length * 10, totalBytes: 100 });
    assert.deepEqual(await s.garbageCollect({ highThresholdPercent: 50, lowThresholdPercent: 20, minAgeMs: 0 }, usage), []);
    assert.deepEqual(await s.garbageCollect({ highThresholdPercent: 35, lowThresholdPercent: 20, minAgeMs: 60_000 }, usage), [], 'images younger than minAge are kept');
    assert.deepEqual(await s.garbageCollect({ highThresholdPercent: 35, lowThresholdPercent: 20, minAgeMs: 0 }, usage), [ids.a, ids.d]);
    assert.deepEqual((await s.list()).map((i) => i.id).sort(), [ids.b, ids.c].sort());
    // On the real filesystem with a 0% threshold, everything unused goes, blobs and layers with it.
    assert.deepEqual(await s.garbageCollect({ highThresholdPercent: 0, lowThresholdPercent: 0, minAgeMs: 0 }), [ids.b]);
    assert.deepEqual((await s.list()).map((i) => i.id), [ids.c]);
    assert.equal((await readdir(s.snapshotsDir)).length, 1);
  });
});
