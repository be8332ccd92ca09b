// subPath mounts against a planted link: a link out of the volume is refused, one inside (a configMap key's) resolved;
// the walk itself never follows a link; legitimate subPaths are bind-mounted from the descriptor that was opened
// (needs root: mount).
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './runtime/exec.js';
import { bindSubPath, openSubPath } from './subpath.js';
import { listing } from '../test/support/runtime/host-listing.js';
import { closeSync } from 'node:fs';

describe('subPath (O_NOFOLLOW walk, bind from /proc/self/fd)', () => {
  let area: string;
  let vol: string;
  const mounted: string[] = [];

  beforeEach(async () => {
    area = await mkdtemp(join(tmpdir(), 'ketch-subpath-'));
    vol = join(area, 'vol');
    await mkdir(join(vol, 'data', 'app'), { recursive: true });
    await writeFile(join(vol, 'data', 'app', 'config'), 'app config');
    await mkdir(join(area, 'host'));
    await writeFile(join(area, 'host', 'secret'), 'host secret');
  });
  afterEach(async () => {
    for (const m of mounted.splice(0)) await run('umount', ['-l', m], { allowFailure: true });
    await rm(area, { recursive: true, force: true });
  });

  it('mounts a directory and a file of the volume', async () => {
    const dir = await bindSubPath(vol, 'data/app', join(area, 'targets', 'v', 'c', '0'));
    mounted.push(dir);
    assert.equal(await readFile(join(dir, 'config'), 'utf8'), 'app config');
    const f = await bindSubPath(vol, 'data/app/config', join(area, 'targets', 'v', 'c', '1'));
    mounted.push(f);
    assert.equal(await readFile(f, 'utf8'), 'app config');
  });

  it('makes a missing subPath as directories inside the volume', async () => {
    const dir = await bindSubPath(vol, 'logs/pod-a', join(area, 'targets', 'v', 'c', '0'));
    mounted.push(dir);
    await writeFile(join(dir, 'x'), 'written through the mount');
    assert.equal(await readFile(join(vol, 'logs', 'pod-a', 'x'), 'utf8'), 'written through the mount');
  });

  it("follows links that stay inside the volume, as a configMap key's (key -> ..data/key, ..data -> ..VERSION)", async () => {
    await mkdir(join(vol, '..2026_12_05_08_00_00.1'));
    await writeFile(join(vol, '..2026_12_05_08_00_00.1', 'app.conf'), 'from the configMap');
    await symlink('..2026_12_05_08_00_00.1', join(vol, '..data'));
    await symlink('..data/app.conf', join(vol, 'app.conf'));
    const f = await bindSubPath(vol, 'app.conf', join(area, 'targets', 'v', 'c', '0'));
    mounted.push(f);
    assert.equal(await readFile(f, 'utf8'), 'from the configMap');
  });

  for (const [where, plant] of [
    ['the last component', async (v: string) => symlink('/', join(v, 'data', 'evil'))],
    ['a middle component', async (v: string) => symlink('/', join(v, 'evil'))],
    ['a relative link up and out', async (v: string) => symlink('../host', join(v, 'evil'))],
  ] as const) {
    it(`refuses a link to the host planted at ${where}, and mounts nothing`, async () => {
      await plant(vol);
      const before = await listing(area, vol);
      const sub = where === 'the last component' ? 'data/evil' : 'evil/etc';
      await assert.rejects(bindSubPath(vol, sub, join(area, 'targets', 'v', 'c', '0')), /subPath "[^"]+"(?: resolves to \S+, outside the volume|: "evil" is a symlink, which subPath does not follow)/);
      assert.deepEqual(await listing(area, vol), before);
      assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(area), false);
    });
  }

  it('refuses ".." and absolute subPaths before touching anything', () => {
    assert.throws(() => openSubPath(vol, '../host'), /must not contain "\.\."/);
    assert.throws(() => openSubPath(vol, '/etc'), /must be a relative path/);
    closeSync(openSubPath(vol, 'data'));
  });
});
