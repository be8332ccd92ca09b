// The local-path driver end to end without containers: the control plane (real API server, the volume controllers)
// provisions on the selected node, the Node side (the module the agent runs) stages and publishes the directory on a
// temp root, and Delete reclaim ends with the directory removed on the node while Retain keeps it.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ANN_DEFAULT_STORAGE_CLASS, ANN_SELECTED_NODE, LOCAL_PATH_CLEANUP_FINALIZER, type Node, type PersistentVolume, type PersistentVolumeClaim, type StorageClass,
} from '../../api/index.js';
import { NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES, type ResourceClient } from '../../client/index.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { ensureLocalPathStorageClass, localPathStorageClass } from '../../controllers/volume/local-path/bootstrap.js';
import { LocalPathCleaner } from '../../agent/volumes/csi-local/cleanup.js';
import { isMountPoint, unmount } from '../../agent/volumes/csi-local/mount.js';
import { LocalPathNodeService, localPathVolume } from '../../agent/volumes/csi-local/node-service.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';

describe('local-path provisioning with the node side (integration)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let cm: ControllerManager;
  let base: string;
  let root: string;
  let node: LocalPathNodeService;
  let cleaner: LocalPathCleaner;
  let pvs: ResourceClient<PersistentVolume>;
  let pvcs: ResourceClient<PersistentVolumeClaim>;
  let ns: string;
  const targets: string[] = [];

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'bind mounts need root');
    base = mkdtempSync(join(tmpdir(), 'ketch-local-path-it-'));
    root = join(base, 'storage');
    cluster = await startTestCluster();
    pvs = cluster.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    pvcs = cluster.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    await cluster.rest.resource<Node>(NODES).create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', labels: { 'kubernetes.io/hostname': 'node-a' } } });
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['persistentvolume-binder', 'pv-protection', 'pvc-protection'] });
    node = new LocalPathNodeService('node-a', [root]);
    cleaner = new LocalPathCleaner(cluster.rest, node);
    await cleaner.start();
  });
  after(async () => {
    for (const t of targets) if (await isMountPoint(t)) await unmount(t);
    await cleaner?.stop();
    await cm?.stop();
    await cluster?.close();
    rmSync(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    ns = await createNamespace(cluster.rest, 'lp');
  });

  it('ketch up\'s default class is created once, as k3s ships it', async () => {
    assert.equal(await ensureLocalPathStorageClass(cluster.rest, root), true);
    assert.equal(await ensureLocalPathStorageClass(cluster.rest, root), false, 'an existing class is left alone');
    const sc = await cluster.rest.resource<StorageClass>(STORAGECLASSES).get(undefined, 'local-path');
    assert.equal(sc.metadata.annotations?.[ANN_DEFAULT_STORAGE_CLASS], 'true');
    assert.deepEqual([sc.provisioner, sc.volumeBindingMode, sc.reclaimPolicy, sc.parameters?.nodePath], ['rancher.io/local-path', 'WaitForFirstConsumer', 'Delete', root]);
  });

  /** A claim of the default class (none named), bound to a volume on node-a as the scheduler would ask. */
  async function provisioned(name: string, cls?: string): Promise<{ pv: PersistentVolume; dir: string }> {
    await pvcs.create(ns, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, annotations: { [ANN_SELECTED_NODE]: 'node-a' } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...(cls ? { storageClassName: cls } : {}) },
    });
    const claim = await waitFor(async () => {
      const c = await pvcs.get(ns, name);
      return c.status?.phase === 'Bound' ? c : undefined;
    }, { what: `claim ${name} Bound` });
    const pv = await pvs.get(undefined, claim.spec?.volumeName ?? '');
    const vol = localPathVolume(pv);
    assert.ok(vol, 'a local-path volume');
    assert.equal(vol.node, 'node-a');
    return { pv, dir: vol.volumeContext.path ?? '' };
  }

  async function volumeGone(pv: PersistentVolume): Promise<void> {
    await waitFor(async () => {
      try {
        await pvs.get(undefined, pv.metadata.name ?? '');
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    }, { what: `volume ${pv.metadata.name ?? ''} gone` });
  }

  /** What the agent does for a pod using the volume: stage, publish, the pod writes, unpublish. */
  async function useOnNode(pv: PersistentVolume, text: string): Promise<void> {
    const vol = localPathVolume(pv)!;
    await node.nodeStageVolume(vol);
    const target = join(base, 'pods', `${pv.metadata.name ?? ''}-${targets.length}`);
    targets.push(target);
    await node.nodePublishVolume({ ...vol, targetPath: target, readonly: false });
    writeFileSync(join(target, 'data.txt'), text);
    await node.nodeUnpublishVolume({ volumeId: vol.volumeId, targetPath: target });
  }

  it('Delete reclaim removes the directory on the node, then the volume', async () => {
    const { pv, dir } = await provisioned('scratch');
    assert.equal(dir, join(root, `${pv.metadata.name ?? ''}_${ns}_scratch`));
    await useOnNode(pv, 'temporary');
    assert.equal(readFileSync(join(dir, 'data.txt'), 'utf8'), 'temporary');
    await pvcs.delete(ns, 'scratch');
    await volumeGone(pv);
    assert.ok(!existsSync(dir), 'the directory was removed on the node');
  });

  it('Retain keeps the directory and the Released volume, also when the volume is deleted by hand', async () => {
    const cls = `${ns}-keep`;
    const keep = localPathStorageClass(root);
    keep.metadata = { name: cls };
    keep.reclaimPolicy = 'Retain';
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, keep);
    const { pv, dir } = await provisioned('precious', cls);
    await useOnNode(pv, 'keep me');
    await pvcs.delete(ns, 'precious');
    const released = await waitFor(async () => {
      const v = await pvs.get(undefined, pv.metadata.name ?? '');
      return v.status?.phase === 'Released' ? v : undefined;
    }, { what: 'the volume Released' });
    assert.ok(!released.metadata.deletionTimestamp);
    assert.ok(released.metadata.finalizers?.includes(LOCAL_PATH_CLEANUP_FINALIZER));
    assert.equal(readFileSync(join(dir, 'data.txt'), 'utf8'), 'keep me');

    // An administrator deletes the retained volume: the object goes, the data stays on the node.
    await pvs.delete(undefined, pv.metadata.name ?? '');
    await volumeGone(pv);
    assert.equal(readFileSync(join(dir, 'data.txt'), 'utf8'), 'keep me', 'a retained volume deleted by hand keeps its directory');
  });
});
