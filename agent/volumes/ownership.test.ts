// fsGroup ownership on a temp dir, as root: group, group permissions and setgid on directories; symlinks not followed;
// OnRootMismatch skips a volume whose root is already right.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setVolumeOwnership } from './ownership.js';

describe('setVolumeOwnership (fsGroup)', () => {
  let root: string;
  let outside: string;
  const GID = 4321;

  before(() => assert.equal(process.getuid?.(), 0, 'chown needs root'));
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ketch-fsgroup-'));
    outside = mkdtempSync(join(tmpdir(), 'ketch-fsgroup-outside-'));
    mkdirSync(join(root, 'sub'), { mode: 0o700 });
    writeFileSync(join(root, 'sub', 'f'), 'x', { mode: 0o600 });
    writeFileSync(join(outside, 'target'), 'x', { mode: 0o600 });
    symlinkSync(join(outside, 'target'), join(root, 'link'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('gives every entry the group and group rw, directories setgid and group search', async () => {
    assert.equal(await setVolumeOwnership(root, GID), 4);
    const d = statSync(join(root, 'sub'));
    assert.equal(d.gid, GID);
    assert.equal(d.mode & 0o2770, 0o2770);
    const f = statSync(join(root, 'sub', 'f'));
    assert.equal(f.gid, GID);
    assert.equal(f.mode & 0o777, 0o660);
    assert.equal(lstatSync(join(root, 'link')).gid, GID);
    const t = statSync(join(outside, 'target'));
    assert.notEqual(t.gid, GID, 'the symlink target outside the volume is left alone');
    assert.equal(t.mode & 0o777, 0o600);
  });

  it('gives read-only volumes group read only', async () => {
    await setVolumeOwnership(root, GID, 'Always', true);
    assert.equal(statSync(join(root, 'sub', 'f')).mode & 0o777, 0o640);
  });

  it('skips the walk with OnRootMismatch when the root is right, and not otherwise', async () => {
    assert.equal(await setVolumeOwnership(root, GID, 'OnRootMismatch'), 4, 'the root lacks the group: walked');
    writeFileSync(join(root, 'new'), 'x', { mode: 0o600 });
    assert.equal(await setVolumeOwnership(root, GID, 'OnRootMismatch'), 0, 'the root is right: skipped');
    assert.equal(await setVolumeOwnership(root, undefined), 0, 'no fsGroup: nothing');
    assert.equal(await setVolumeOwnership(root, GID, 'Always'), 5);
  });
});
