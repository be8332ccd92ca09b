// The atomic writer against links planted where a container could have put them (were its mount writable): nothing
// is ever written through them, and the host around the volume is unchanged (listed before and after).
import { strict as assert } from 'node:assert';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setVolumeOwnership, validPath, writeAtomic } from './atomic-writer.js';
import { listing } from '../test/support/runtime/host-listing.js';

const file = (path: string, data: string, mode = 0o644): { path: string; data: Buffer; mode: number } => ({ path, data: Buffer.from(data), mode });

describe('atomic writer (kubelet AtomicWriter)', () => {
  let area: string;
  let vol: string;
  let host: string;

  beforeEach(async () => {
    area = await mkdtemp(join(tmpdir(), 'ketch-atomic-'));
    vol = join(area, 'vol');
    host = join(area, 'host');
    await mkdir(vol);
    await mkdir(join(host, 'etc'), { recursive: true });
    await writeFile(join(host, 'etc', 'passwd'), 'host passwd');
  });
  afterEach(() => rm(area, { recursive: true, force: true }));

  it('publishes a version as a timestamped directory behind ..data, names as links into it', async () => {
    assert.equal(await writeAtomic(vol, [file('a', '1'), file('dir/b', '2', 0o600)], { now: new Date(Date.UTC(2024, 0, 2, 15, 4, 5)) }), true);
    const data = await readlink(join(vol, '..data'));
    assert.match(data, /^\.\.2024_01_02_15_04_05\.\w+$/);
    assert.equal(await readlink(join(vol, 'a')), '..data/a');
    assert.equal(await readlink(join(vol, 'dir')), '..data/dir');
    assert.equal(await readFile(join(vol, 'dir/b'), 'utf8'), '2');
    assert.equal((await lstat(join(vol, data, 'dir/b'))).mode & 0o777, 0o600);
    // The same content again: nothing written, the same version kept.
    assert.equal(await writeAtomic(vol, [file('a', '1'), file('dir/b', '2', 0o600)]), false);
    assert.equal(await readlink(join(vol, '..data')), data);
    // A new version replaces the old one, which is removed; a key gone is gone.
    assert.equal(await writeAtomic(vol, [file('a', 'new')]), true);
    assert.equal(await readFile(join(vol, 'a'), 'utf8'), 'new');
    assert.deepEqual((await readdir(vol)).filter((n) => !n.startsWith('..')), ['a']);
    assert.equal((await readdir(vol)).filter((n) => n.startsWith('..2')).length, 1);
  });

  it('never writes through links planted over a key, over ..data or over the version directory', async () => {
    await writeAtomic(vol, [file('key', 'v1'), file('other', 'x')]);
    const before = await listing(host);
    const version = await readlink(join(vol, '..data'));
    // What a container with a writable mount could do: swap a key for a link to the host, point ..data at the host,
    // and replace the version directory by a link.
    await rm(join(vol, 'key'));
    await symlink(join(host, 'etc', 'passwd'), join(vol, 'key'));
    await rm(join(vol, '..data'));
    await symlink(join(host, 'etc'), join(vol, '..data'));
    await rm(join(vol, version), { recursive: true });
    await symlink(join(host, 'etc'), join(vol, version));
    await writeAtomic(vol, [file('key', 'v2'), file('passwd', 'pwned')]);
    assert.deepEqual(await listing(host), before);
    assert.equal(await readFile(join(host, 'etc', 'passwd'), 'utf8'), 'host passwd');
    assert.equal(await readFile(join(vol, 'key'), 'utf8'), 'v2');
    assert.equal(await readlink(join(vol, 'key')), '..data/key');
    assert.match(await readlink(join(vol, '..data')), /^\.\.\d{4}_/);
  });

  it('refuses paths with "..", absolute paths and names starting with ".."', async () => {
    for (const p of ['../x', 'a/../../x', '/etc/passwd', '..data', 'a/..b']) {
      assert.ok(validPath(p), p);
      await assert.rejects(writeAtomic(vol, [file(p, 'x')]), /volume file path/);
    }
    assert.equal(validPath('a/b.c'), undefined);
  });

  it('gives the fsGroup ownership, group-readable files and setgid directories, without following links', async () => {
    await writeAtomic(vol, [file('k', 'v', 0o600), file('d/k2', 'v', 0o600)], { setPerms: (ts) => setVolumeOwnership(ts, 2345, true) });
    const data = await readlink(join(vol, '..data'));
    const k = await lstat(join(vol, data, 'k'));
    assert.deepEqual([k.gid, k.mode & 0o7777], [2345, 0o640]);
    const d = await lstat(join(vol, data, 'd'));
    assert.equal(d.gid, 2345);
    assert.equal(d.mode & 0o2000, 0o2000);
    await symlink(join(host, 'etc', 'passwd'), join(vol, data, 'planted'));
    await setVolumeOwnership(join(vol, data), 2345, true);
    assert.equal((await lstat(join(host, 'etc', 'passwd'))).gid, 0);
  });
});
