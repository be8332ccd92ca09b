// Hostile and faithful layers: every write stays inside the layer's root (the temp area around it is listed before and
// after, sentinel files included), and links, devices, owners, setuid bits and file capabilities are kept.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { run } from './exec.js';
import { unpackLayer } from './layer-unpack.js';
import { listing } from '../../test/support/runtime/host-listing.js';
import { type RawEntry, tarOf } from '../../test/support/runtime/tar-writer.js';

const diffId = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('layer unpacking', function () {
  let area: string;
  let snap: string;
  let fs: string;
  let before: string[];

  beforeEach(async () => {
    if (process.getuid?.() !== 0) throw new Error('layer unpacking tests need root (ownership, device nodes)');
    area = await mkdtemp(join(tmpdir(), 'ketch-layer-'));
    // Sentinels where a followed "..", a followed absolute link or an unresolved name would land.
    for (const d of ['host/etc', 'x/etc', 'x/y/etc', 'etc']) {
      await mkdir(join(area, d), { recursive: true });
      await writeFile(join(area, d, 'shadow'), `sentinel ${d}`);
      await writeFile(join(area, d, 'passwd'), `sentinel ${d}`);
    }
    await writeFile(join(area, 'host', 'sentinel'), 'sentinel');
    snap = join(area, 'x', 'y', 'snap');
    fs = join(snap, 'fs');
    await mkdir(snap);
    before = await listing(area, snap);
  });

  afterEach(async () => {
    await rm(area, { recursive: true, force: true });
  });

  const unpack = (entries: RawEntry[]): Promise<void> => {
    const tar = tarOf(entries);
    return unpackLayer(Readable.from([tar]), 'none', snap, [], diffId(tar));
  };

  const hostUnchanged = async (): Promise<void> => assert.deepEqual(await listing(area, snap), before);

  const isWhiteout = async (p: string): Promise<boolean> => {
    const st = await lstat(p);
    return st.isCharacterDevice() && st.rdev === 0;
  };

  it('keeps a chain of relative links inside the root: d/l1 -> .., d/l2 -> l1/.., then d/l2/etc/.wh.shadow', async () => {
    await unpack([
      { name: 'd/', type: 'dir' },
      { name: 'd/l1', type: 'symlink', linkname: '..' },
      { name: 'd/l2', type: 'symlink', linkname: 'l1/..' },
      { name: 'd/l3', type: 'symlink', linkname: 'l2/../../..' },
      { name: 'd/l2/etc/.wh.shadow' },
      { name: 'd/l3/etc/passwd', data: 'written through a link chain' },
    ]);
    await hostUnchanged();
    assert.ok(await isWhiteout(join(fs, 'etc/shadow')));
    assert.equal(await readFile(join(fs, 'etc/passwd'), 'utf8'), 'written through a link chain');
    assert.equal(await readlink(join(fs, 'd/l2')), 'l1/..');
  });

  it('resolves an absolute symlink in a parent inside the root, for files and whiteouts alike', async () => {
    await unpack([
      { name: 'abs', type: 'symlink', linkname: join(area, 'host') },
      { name: 'abs/sentinel', data: 'pwned' },
      { name: 'abs/etc/.wh.shadow' },
      { name: 'root', type: 'symlink', linkname: '/' },
      { name: `root${area}/etc/passwd`, data: 'pwned too' },
    ]);
    await hostUnchanged();
    assert.equal(await readFile(join(fs, area, 'host/sentinel'), 'utf8'), 'pwned');
    assert.ok(await isWhiteout(join(fs, area, 'host/etc/shadow')));
    assert.equal(await readFile(join(fs, area, 'etc/passwd'), 'utf8'), 'pwned too');
    assert.equal(await readlink(join(fs, 'abs')), join(area, 'host'));
  });

  it('treats an absolute entry name as relative to the root', async () => {
    await unpack([{ name: `${area}/host/sentinel`, data: 'inside' }]);
    await hostUnchanged();
    assert.equal(await readFile(join(fs, area, 'host/sentinel'), 'utf8'), 'inside');
  });

  for (const name of ['../../etc/passwd', 'a/../../../etc/passwd', './../escape', '..']) {
    it(`refuses the layer for an entry named ${JSON.stringify(name)}, writing nothing outside`, async () => {
      await assert.rejects(unpack([{ name: 'ok', data: 'fine' }, { name, data: 'pwned' }]), /layer refused: entry .*"\.\." could leave the layer/);
      await hostUnchanged();
    });
  }

  const hardLinks: [string, () => RawEntry[], RegExp][] = [
    ['with ".." in its target', () => [{ name: 'h', type: 'link', linkname: '../../etc/shadow' }], /"\.\." could leave the layer/],
    ['to an absolute path not in the layer', () => [{ name: 'h', type: 'link', linkname: '/etc/shadow' }], /hard link to "\/etc\/shadow", which is not in this layer/],
    ['through a symlink to the host', () => [{ name: 'l', type: 'symlink', linkname: join(area, 'host') }, { name: 'h', type: 'link', linkname: 'l/sentinel' }], /not in this layer/],
    ['to a directory', () => [{ name: 'd/', type: 'dir' }, { name: 'h', type: 'link', linkname: 'd' }], /hard link to the directory/],
  ];
  for (const [what, entries, message] of hardLinks) {
    it(`refuses a hard link ${what}`, async () => {
      await assert.rejects(unpack(entries()), message);
      await hostUnchanged();
    });
  }

  it('replaces a symlink at the entry itself instead of writing through it', async () => {
    await unpack([
      { name: 'x', type: 'symlink', linkname: join(area, 'host/sentinel') },
      { name: 'x', data: 'replaced' },
      { name: 'dd', type: 'symlink', linkname: join(area, 'host') },
      { name: 'dd/', type: 'dir' },
      { name: 'dd/sentinel', data: 'in a real directory' },
      { name: 'whited', type: 'symlink', linkname: join(area, 'host/sentinel') },
      { name: '.wh.whited' },
    ]);
    await hostUnchanged();
    assert.ok((await lstat(join(fs, 'x'))).isFile());
    assert.equal(await readFile(join(fs, 'x'), 'utf8'), 'replaced');
    assert.ok((await lstat(join(fs, 'dd'))).isDirectory());
    assert.equal(await readFile(join(fs, 'dd/sentinel'), 'utf8'), 'in a real directory');
    assert.ok(await isWhiteout(join(fs, 'whited')));
  });

  it('fails on a loop of links with a clear error', async () => {
    await assert.rejects(
      unpack([
        { name: 'a', type: 'symlink', linkname: 'b' },
        { name: 'b', type: 'symlink', linkname: 'a' },
        { name: 'a/file', data: 'x' },
      ]),
      /layer refused.*too many levels of symbolic links/,
    );
    await hostUnchanged();
  });

  it('refuses malformed archives: a bad checksum, a truncated entry, sparse files', async () => {
    const good = tarOf([{ name: 'f', data: 'hello' }]);
    const bad = Buffer.from(good);
    bad.write('9', 0);
    await assert.rejects(unpackLayer(Readable.from([bad]), 'none', snap, [], diffId(bad)), /invalid layer archive: header checksum mismatch/);
    const cut = good.subarray(0, 600);
    await assert.rejects(unpackLayer(Readable.from([cut]), 'none', snap, [], diffId(cut)), /invalid layer archive: archive ends inside/);
    const sparse = tarOf([{ name: 'f', data: 'x', xattrs: {} }]);
    const withSparse = Buffer.concat([tarOf([]).subarray(0, 0), sparseHeader(), sparse]);
    await assert.rejects(unpackLayer(Readable.from([withSparse]), 'none', snap, [], diffId(withSparse)), /sparse files are not supported/);
    await hostUnchanged();
  });

  it('keeps absolute symlinks, hard links, devices, fifos, owners, setuid bits and file capabilities', async () => {
    // cap_net_bind_service=ep as setcap writes it (VFS_CAP_REVISION_2).
    const cap = Buffer.from('0100000200040000000000000000000000000000', 'hex');
    await unpack([
      { name: 'bin/', type: 'dir' },
      { name: 'bin/busybox', data: '#!busybox', mode: 0o4755 },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'bin/ping', data: 'ping', mode: 0o755, xattrs: { 'security.capability': cap, 'user.origin': Buffer.from('test') } },
      { name: 'usr/bin/env', type: 'link', linkname: 'bin/busybox' },
      { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'run/fifo', type: 'fifo', mode: 0o600 },
      { name: 'home/app/', type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
      { name: 'home/app/data', data: 'mine', mode: 0o2640, uid: 1000, gid: 1000 },
    ]);
    assert.equal(await readlink(join(fs, 'bin/sh')), '/bin/busybox');
    const bb = await lstat(join(fs, 'bin/busybox'));
    assert.equal(bb.mode & 0o7777, 0o4755);
    assert.equal((await lstat(join(fs, 'usr/bin/env'))).ino, bb.ino);
    const dev = await lstat(join(fs, 'dev/null'));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, (1 << 8) | 3);
    const loop = await lstat(join(fs, 'dev/loop0'));
    assert.ok(loop.isBlockDevice());
    assert.equal(loop.gid, 6);
    assert.ok((await lstat(join(fs, 'run/fifo'))).isFIFO());
    const data = await lstat(join(fs, 'home/app/data'));
    assert.deepEqual([data.uid, data.gid, data.mode & 0o7777], [1000, 1000, 0o2640]);
    const home = await lstat(join(fs, 'home/app'));
    assert.deepEqual([home.uid, home.mode & 0o7777], [1000, 0o700]);
    const attrs = (await run('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', join(fs, 'bin/ping')])).stdout;
    assert.match(attrs, new RegExp(`security.capability=0x${cap.toString('hex')}`));
    assert.match(attrs, /user.origin=0x74657374/);
    await hostUnchanged();
  });
});

/** A PAX header announcing a GNU sparse file, followed by nothing of its own. */
function sparseHeader(): Buffer {
  const rec = '22 GNU.sparse.major=1\n';
  const pax = tarOf([{ name: 'PaxHeader', data: rec }]).subarray(0, 1024);
  pax.write('x', 156);
  // The checksum covers the type flag: recompute it.
  pax.write('        ', 148);
  let sum = 0;
  for (const b of pax.subarray(0, 512)) sum += b;
  pax.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return pax;
}
