// The local-path Node side on a temp dir, as root: stage creates the directory, publish bind-mounts it (read-only when
// asked), unpublish unmounts, and nothing outside a configured root or under another name is ever made or removed.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PersistentVolume } from '../../../api/index.js';
import { bindMount, isMountPoint, unmount } from './mount.js';
import { LocalPathNodeService, localPathVolume, NodeVolumeError } from './node-service.js';

describe('local-path node service', () => {
  let base: string;
  let root: string;
  let node: LocalPathNodeService;
  const targets: string[] = [];
  const dirName = 'pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427_default_data';

  before(() => {
    assert.equal(process.getuid?.(), 0, 'bind mounts need root');
  });
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'ketch-local-path-'));
    root = join(base, 'storage');
    node = new LocalPathNodeService('node-a', [root]);
  });
  afterEach(async () => {
    // Nothing may stay mounted, whatever a test did.
    for (const t of targets.splice(0)) if (await isMountPoint(t)) await unmount(t);
    rmSync(base, { recursive: true, force: true });
  });
  const target = (name: string): string => {
    const t = join(base, 'pods', name, 'mount');
    targets.push(t);
    return t;
  };

  it('stages the directory 0777 under its root, once', async () => {
    const dir = await node.nodeStageVolume({ volumeId: 'v', volumeContext: { path: join(root, dirName) } });
    assert.equal(dir, join(root, dirName));
    assert.equal(statSync(dir).mode & 0o777, 0o777);
    writeFileSync(join(dir, 'keep'), 'data');
    await node.nodeStageVolume({ volumeId: 'v', volumeContext: { path: dir } });
    assert.equal(readFileSync(join(dir, 'keep'), 'utf8'), 'data', 'staging again keeps the data');
  });

  it('publishes by bind mount, read-write and read-only, and unpublishes', async () => {
    const ctx = { path: join(root, dirName) };
    const dir = await node.nodeStageVolume({ volumeId: 'v', volumeContext: ctx });
    const rw = target('rw');
    await node.nodePublishVolume({ volumeId: 'v', volumeContext: ctx, targetPath: rw, readonly: false });
    assert.ok(await isMountPoint(rw));
    writeFileSync(join(rw, 'written-in-pod'), 'hello');
    assert.equal(readFileSync(join(dir, 'written-in-pod'), 'utf8'), 'hello', 'the pod writes to the volume directory');
    await node.nodePublishVolume({ volumeId: 'v', volumeContext: ctx, targetPath: rw, readonly: false }); // idempotent
    const ro = target('ro');
    await node.nodePublishVolume({ volumeId: 'v', volumeContext: ctx, targetPath: ro, readonly: true });
    assert.equal(readFileSync(join(ro, 'written-in-pod'), 'utf8'), 'hello');
    assert.throws(() => writeFileSync(join(ro, 'nope'), 'x'), /EROFS/);
    for (const t of [rw, ro]) {
      await node.nodeUnpublishVolume({ volumeId: 'v', targetPath: t });
      assert.ok(!(await isMountPoint(t)));
      assert.ok(!existsSync(t), 'the target is removed');
    }
    await node.nodeUnpublishVolume({ volumeId: 'v', targetPath: rw }); // gone already: fine
    assert.equal(readFileSync(join(dir, 'written-in-pod'), 'utf8'), 'hello', 'the data outlives the pod');
  });

  it('tells a mount point whose path mountinfo escapes (space, tab, newline, backslash) from its neighbours', async () => {
    const src = join(base, 'src');
    mkdirSync(src);
    const odd = target('a b\tc\nd\\e');
    mkdirSync(odd, { recursive: true });
    const plain = join(base, 'pods', 'a b\tc\nd\\e');
    assert.ok(!(await isMountPoint(odd)));
    await bindMount(src, odd, false);
    assert.ok(await isMountPoint(odd));
    assert.ok(!(await isMountPoint(plain)), 'its parent is not a mount point');
    assert.ok(!(await isMountPoint(`${odd} `)), 'nor a path with the next field glued on');
  });

  it('refuses to publish a volume that was not staged', async () => {
    await assert.rejects(node.nodePublishVolume({ volumeId: 'v', volumeContext: { path: join(root, dirName) }, targetPath: target('x'), readonly: false }), /is not staged/);
  });

  it('refuses paths outside its roots, other names and symlinks', async () => {
    const refused = async (path: string, why: RegExp): Promise<void> => {
      await assert.rejects(node.nodeStageVolume({ volumeId: 'v', volumeContext: { path } }), (err: unknown) => err instanceof NodeVolumeError && why.test(err.message));
      await assert.rejects(node.deleteVolumeDirectory({ path }), why);
    };
    await refused('/', /not under a local-path root/);
    await refused(join(base, 'elsewhere', dirName), /not under a local-path root/);
    await refused(join(root, 'etc'), /not a local-path volume directory/);
    await refused(join(root, '..', dirName), /not under a local-path root/);
    mkdirSync(root, { recursive: true });
    const victim = join(base, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'precious'), 'x');
    symlinkSync(victim, join(root, dirName));
    await refused(join(root, dirName), /exists and is not a directory/);
    assert.ok(existsSync(join(victim, 'precious')), 'nothing behind the symlink was touched');
  });

  it('deletes the directory with everything in it, but not what a symlink inside points at', async () => {
    const ctx = { path: join(root, dirName) };
    const dir = await node.nodeStageVolume({ volumeId: 'v', volumeContext: ctx });
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'f'), 'x');
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'x');
    symlinkSync(outside, join(dir, 'link'));
    await node.deleteVolumeDirectory(ctx);
    assert.ok(!existsSync(dir));
    assert.ok(existsSync(join(outside, 'keep')));
    await node.deleteVolumeDirectory(ctx); // gone already: fine
  });

  it('grows nothing on expand, and reports its node and topology', async () => {
    assert.deepEqual(await node.nodeExpandVolume({ volumeId: 'v', capacityRange: { requiredBytes: 2048 } }), { capacityBytes: 2048 });
    assert.deepEqual(node.nodeGetInfo(), { nodeId: 'node-a', accessibleTopology: { 'kubernetes.io/hostname': 'node-a' } });
  });

  it('recognizes local-path volumes from their PV', () => {
    const pv: PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'pvc-x', annotations: { 'pv.kubernetes.io/provisioned-by': 'rancher.io/local-path' } },
      spec: {
        hostPath: { path: '/var/lib/ketch/storage/d' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }] }] } },
      },
    };
    assert.deepEqual(localPathVolume(pv), { volumeId: 'pvc-x', volumeContext: { path: '/var/lib/ketch/storage/d' }, node: 'node-a' });
    assert.equal(localPathVolume({ ...pv, metadata: { name: 'by-hand' } }), undefined);
  });
});
