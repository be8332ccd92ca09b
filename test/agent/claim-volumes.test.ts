// The agent's claim-backed volumes against a real API server, on temp dirs as root (bind mounts, no containers): a
// missing, unbound, foreign or misplaced claim keeps the pod waiting with kubelet's wording; local, hostPath and
// local-path volumes are bind-mounted (read-only when the pod says so), fsGroup is applied where kubelet manages
// ownership, and tearing the pod down unmounts and keeps the data.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ANN_DYNAMICALLY_PROVISIONED, LOCAL_PATH_PROVISIONER, type Node, type PersistentVolume, type PersistentVolumeClaim, type Pod, type StorageClass, type Volume,
} from '../../api/index.js';
import { CONFIGMAPS, NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, SECRETS, STORAGECLASSES, type ResourceClient } from '../../client/index.js';
import { ObjectCache } from '../../agent/pod-config.js';
import { MountError, unmountUnder, VolumeManager } from '../../agent/volumes.js';
import { mountsUnder } from '../../agent/volumes/csi-local/mount.js';
import { createNamespace, startTestCluster, type TestCluster } from '../controllers/harness.js';

describe('claim-backed pod volumes on the node (integration, bind mounts)', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let base: string;
  let volumes: VolumeManager;
  let pvs: ResourceClient<PersistentVolume>;
  let pvcs: ResourceClient<PersistentVolumeClaim>;
  let ns: string;
  let n = 0;

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'bind mounts need root');
    cluster = await startTestCluster();
    pvs = cluster.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    pvcs = cluster.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    await cluster.rest.resource<Node>(NODES).create(undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', labels: { 'kubernetes.io/hostname': 'node-a' } } });
  });
  after(async () => {
    await cluster?.close();
  });
  beforeEach(async () => {
    ns = await createNamespace(cluster.rest, 'cv');
    base = mkdtempSync(join(tmpdir(), 'ketch-claim-volumes-'));
    volumes = new VolumeManager(join(base, 'agent'), undefined, { nodeName: 'node-a', localPathRoots: [join(base, 'storage')] });
  });
  afterEach(async () => {
    await unmountUnder(join(base, 'agent', 'pods'));
    assert.deepEqual(await mountsUnder(base), [], 'nothing stays mounted');
    rmSync(base, { recursive: true, force: true });
  });

  function pod(vols: Volume[], extra: Partial<Pod['spec']> = {}): Pod {
    n++;
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${n}`, namespace: ns, uid: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}` }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: vols, ...extra } };
  }
  const setUp = (p: Pod): Promise<Map<string, string>> =>
    volumes.setUp({ pod: p, hostIP: '127.0.0.1', podIP: '', objects: new ObjectCache({ configMaps: cluster.rest.resource(CONFIGMAPS), secrets: cluster.rest.resource(SECRETS) }, ns), rest: cluster.rest });

  const onNode = (node: string): NonNullable<PersistentVolume['spec']>['nodeAffinity'] => ({
    required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] },
  });
  /** A claim bound to a new volume with the given source (both written as the PV controller would). */
  async function bound(name: string, spec: Partial<NonNullable<PersistentVolume['spec']>>, annotations?: Record<string, string>): Promise<PersistentVolumeClaim> {
    const pvc = await pvcs.create(ns, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: `${ns}-${name}`, resources: { requests: { storage: '1Gi' } } } });
    await pvs.create(undefined, {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${ns}-${name}`, ...(annotations ? { annotations } : {}) },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', claimRef: { kind: 'PersistentVolumeClaim', namespace: ns, name, uid: pvc.metadata?.uid ?? '' }, ...(spec.local ? { nodeAffinity: onNode('node-a') } : {}), ...spec },
    });
    return pvcs.updateStatus({ ...pvc, status: { phase: 'Bound' } });
  }
  const claimVol = (claimName: string, readOnly = false): Volume => ({ name: 'data', persistentVolumeClaim: { claimName, readOnly } });
  const refused = (p: Pod, message: RegExp): Promise<void> => assert.rejects(setUp(p), (err: unknown) => err instanceof MountError && message.test(err.message));

  it('keeps the pod waiting while the claim is missing, unbound or being deleted, in kubelet\'s words', async () => {
    await refused(pod([claimVol('none')]), /^Unable to attach or mount volumes: unmounted volumes=\[data\], unattached volumes=\[data\], failed to process volumes=\[data\]: error processing PVC cv-\S+\/none: failed to fetch PVC from API server: /);
    await pvcs.create(ns, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pending' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    await refused(pod([claimVol('pending')]), /failed to process volumes=\[data\]: error processing PVC cv-\S+\/pending: PVC is not bound$/);
    const dir = join(base, 'vol');
    mkdirSync(dir);
    const going = await bound('going', { local: { path: dir } });
    await pvcs.update({ ...going, metadata: { ...going.metadata, finalizers: ['test.ketch.io/keep'] } });
    await pvcs.delete(ns, 'going');
    await refused(pod([claimVol('going')]), /error processing PVC cv-\S+\/going: PVC is being deleted$/);
  });

  it('refuses a volume bound to another claim, one pinned to another node, and sources it has no plugin for', async () => {
    const dir = join(base, 'vol');
    mkdirSync(dir);
    const claim = await bound('foreign', { local: { path: dir } });
    const pv = await pvs.get(undefined, claim.spec?.volumeName ?? '');
    await pvs.update({ ...pv, spec: { ...pv.spec, claimRef: { ...pv.spec?.claimRef, uid: 'another-uid' } } });
    await refused(pod([claimVol('foreign')]), /found PV object \S+ but its ClaimRef.UID \(another-uid\) does not point to claim.UID/);

    await bound('elsewhere', { local: { path: dir }, nodeAffinity: onNode('node-b') });
    await refused(pod([claimVol('elsewhere')]), /^MountVolume\.NodeAffinity check failed for volume "\S+-elsewhere" : no matching NodeSelectorTerms$/);

    await bound('nfs', { nfs: { server: 'nas', path: '/export' } });
    await refused(pod([claimVol('nfs')]), /no volume plugin matched/);

    await bound('gone', { local: { path: join(base, 'missing') } });
    await refused(pod([claimVol('gone')]), /MountVolume\.SetUp failed for volume "\S+-gone" : path "\S+missing" does not exist/);
    assert.deepEqual(await mountsUnder(base), []);
  });

  it('refuses an ephemeral volume whose claim the pod does not own', async () => {
    const p = pod([{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } }]);
    await bound(`${p.metadata.name}-scratch`, { local: { path: base } });
    await refused(p, /PVC cv-\S+ was not created for pod cv-\S+ \(pod is not owner\)/);
  });

  it('bind-mounts local and hostPath volumes, read-only when asked; tearing down unmounts and keeps the data', async () => {
    const dir = join(base, 'vol');
    mkdirSync(dir);
    await bound('local', { local: { path: dir } });
    await bound('host', { hostPath: { path: join(base, 'made'), type: 'DirectoryOrCreate' } });
    const p = pod([claimVol('local'), { name: 'ro', persistentVolumeClaim: { claimName: 'host', readOnly: true } }], { securityContext: { fsGroup: 3000 } });
    const paths = await setUp(p);
    const rw = paths.get('data') ?? '';
    const ro = paths.get('ro') ?? '';
    writeFileSync(join(rw, 'f'), 'kept');
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'kept');
    assert.equal(statSync(dir).gid, 3000, 'fsGroup on a local volume');
    assert.ok(existsSync(join(base, 'made')), 'DirectoryOrCreate made the hostPath');
    assert.throws(() => writeFileSync(join(ro, 'x'), 'x'), /EROFS/);
    assert.notEqual(statSync(join(base, 'made')).gid, 3000, 'no fsGroup on a hostPath volume (kubelet does not manage its ownership)');
    assert.deepEqual(await setUp(p), paths, 'setting up again keeps the mounts');
    assert.deepEqual(volumes.volumesInUse(), [`kubernetes.io/local-volume/${ns}-local`], 'the local volume is in use, the hostPath one not reported');
    await volumes.tearDown(p.metadata.uid ?? '');
    assert.deepEqual(volumes.volumesInUse(), []);
    assert.deepEqual(await mountsUnder(base), []);
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'kept', 'the data outlives the pod');
  });

  it('stages and publishes a local-path volume under its class\'s nodePath', async () => {
    const root = join(base, 'class-root');
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: `lp-${ns}` }, provisioner: LOCAL_PATH_PROVISIONER, parameters: { nodePath: root } });
    const claim = await pvcs.create(ns, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'lp' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: `lp-${ns}`, volumeName: `${ns}-lp`, resources: { requests: { storage: '1Gi' } } } });
    const path = join(root, `pvc-${claim.metadata?.uid ?? ''}_${ns}_lp`);
    await pvs.create(undefined, {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${ns}-lp`, annotations: { [ANN_DYNAMICALLY_PROVISIONED]: LOCAL_PATH_PROVISIONER } },
      spec: {
        capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: `lp-${ns}`, hostPath: { path, type: 'DirectoryOrCreate' },
        claimRef: { kind: 'PersistentVolumeClaim', namespace: ns, name: 'lp', uid: claim.metadata?.uid ?? '' },
        nodeAffinity: onNode('node-a'),
      },
    });
    // Grown from 1Gi to 2Gi while unused: the controller's step is done, the node's is pending.
    const pending = { type: 'FileSystemResizePending', status: 'True' as const, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    await pvcs.updateStatus({ ...claim, status: { phase: 'Bound', capacity: { storage: '1Gi' }, conditions: [pending] } });
    const p = pod([claimVol('lp')]);
    const target = (await setUp(p)).get('data') ?? '';
    writeFileSync(join(target, 'f'), 'x');
    assert.equal(readFileSync(join(path, 'f'), 'utf8'), 'x', 'the pod writes in the volume directory under the class root');
    const resized = await pvcs.get(ns, 'lp');
    assert.equal(resized.status?.capacity?.storage, '2Gi', 'the node finished the expansion on mount');
    assert.deepEqual(resized.status?.conditions ?? [], []);
    await volumes.tearDown(p.metadata.uid ?? '');
    assert.ok(existsSync(join(path, 'f')));
  });
});
