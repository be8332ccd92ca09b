// Safe subPath mounts on a temp dir, as root: missing directories are made inside the volume, a symlink anywhere in
// the subPath is refused (nothing outside is mounted or made), and a file subPath is mounted on a file.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMountPoint, unmount } from './csi-local/mount.js';
import { MountError } from './errors.js';
import { mountSubPath, subPathComponents } from './subpath.js';

describe('safe subPath mounts', () => {
  let base: string;
  let vol: string;
  let outside: string;
  const targets: string[] = [];

  before(() => {
    assert.equal(process.getuid?.(), 0, 'bind mounts need root');
  });
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'ketch-subpath-'));
    vol = join(base, 'volume');
    outside = join(base, 'outside');
    mkdirSync(vol);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'host data');
  });
  afterEach(async () => {
    for (const t of targets.splice(0)) if (await isMountPoint(t)) await unmount(t);
    rmSync(base, { recursive: true, force: true });
  });
  const target = (name: string): string => {
    const t = join(base, 'subpaths', name);
    targets.push(t);
    return t;
  };

  it('refuses absolute paths and ".."', () => {
    assert.throws(() => subPathComponents('/etc'), MountError);
    assert.throws(() => subPathComponents('a/../../b'), /must not contain/);
    assert.deepEqual(subPathComponents('./a//b/'), ['a', 'b']);
  });

  it('makes a missing subPath inside the volume and mounts it', async () => {
    const t = await mountSubPath(vol, 'a/b', target('made'));
    assert.ok(await isMountPoint(t));
    writeFileSync(join(t, 'f'), 'x');
    assert.equal(readFileSync(join(vol, 'a', 'b', 'f'), 'utf8'), 'x');
    assert.equal(await mountSubPath(vol, 'a/b', t), t, 'mounted already: kept');
  });

  it('mounts a file subPath on a file', async () => {
    writeFileSync(join(vol, 'conf'), 'setting');
    const t = await mountSubPath(vol, 'conf', target('file'));
    assert.equal(readFileSync(t, 'utf8'), 'setting');
  });

  it('refuses a symlink as the last component or on the way, and makes nothing outside', async () => {
    symlinkSync(outside, join(vol, 'link'));
    symlinkSync('/', join(vol, 'root'));
    mkdirSync(join(vol, 'd'));
    symlinkSync(join(outside, 'secret'), join(vol, 'd', 'file-link'));
    for (const sub of ['link', 'link/secret', 'link/new/dir', 'root/etc', 'd/file-link']) {
      const t = target(sub.replace(/\//g, '_'));
      await assert.rejects(mountSubPath(vol, sub, t), (err: unknown) => err instanceof MountError && /symlink or not a directory/.test(err.message), sub);
      assert.ok(!(await isMountPoint(t)), `${sub} is not mounted`);
    }
    assert.ok(!existsSync(join(outside, 'new')), 'no directory was made through the link');
  });
});
