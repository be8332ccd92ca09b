// The volume controllers (binder, expander, pvc/pv protection, ephemeral) against a real API server: static binding by
// class, access modes, capacity, selector and volumeName; phases; provisioning through the local-path driver once a
// node is selected; Retain and Delete reclaim; protection of claims in use and bound volumes; ephemeral claims; growth.
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { fdatasync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER, LOCAL_PATH_CLEANUP_FINALIZER, PV_PROTECTION_FINALIZER,
  type Node, type PersistentVolume, type PersistentVolumeClaim, type Pod, type StorageClass,
} from '../../api/index.js';
import {
  EventBroadcaster, EVENTS, InformerFactory, loadClientConfig, NODES, RestClient, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, STORAGECLASSES, type KubeEvent, type ResourceClient,
} from '../../client/index.js';
import { startApiServer, type ApiServer } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/index.js';
import { realClock } from '../../lib/clock.js';
import type { ControllerContext } from '../../controllers/framework/controller.js';
import { DriverRegistry, type ControllerService, type CsiVolume } from '../../controllers/volume/csi/controller-service.js';
import { EphemeralVolumeController } from '../../controllers/volume/ephemeral/ephemeral-controller.js';
import { ExpandController } from '../../controllers/volume/expand/expand-controller.js';
import { LocalPathControllerService } from '../../controllers/volume/local-path/controller-service.js';
import { PersistentVolumeController } from '../../controllers/volume/persistentvolume/pv-controller.js';
import { PvProtectionController } from '../../controllers/volume/protection/pv-protection-controller.js';
import { PvcProtectionController } from '../../controllers/volume/protection/pvc-protection-controller.js';
import { markFileSystemResized, needsNodeExpansion } from '../../agent/volumes/csi-local/expansion.js';
import { waitFor } from '../support/util.js';
import { createNamespace, startTestCluster, type TestCluster } from './harness.js';

/** A fake CSI driver (the point of the test: a driver whose expansion needs the node), provisioning anywhere. */
class FakeNodeExpandingDriver implements ControllerService {
  readonly driverName = 'fake.csi.ketch.io';
  readonly topologyKeys = [];
  readonly supportsExpansion = true;
  readonly deleted: string[] = [];
  createVolume(req: { name: string; capacityRange: { requiredBytes: number } }): Promise<CsiVolume> {
    return Promise.resolve({ volumeId: `fake-${req.name}`, capacityBytes: req.capacityRange.requiredBytes, volumeContext: {}, accessibleTopology: [] });
  }
  deleteVolume(req: { volumeId: string }): Promise<void> {
    this.deleted.push(req.volumeId);
    return Promise.resolve();
  }
  controllerExpandVolume(req: { capacityRange: { requiredBytes: number } }): Promise<{ capacityBytes: number; nodeExpansionRequired: boolean }> {
    return Promise.resolve({ capacityBytes: req.capacityRange.requiredBytes, nodeExpansionRequired: true });
  }
}

const pvc = (name: string, spec: Partial<NonNullable<PersistentVolumeClaim['spec']>> = {}, annotations?: Record<string, string>): PersistentVolumeClaim => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: '', ...spec },
});
const pv = (name: string, size: string, spec: Partial<NonNullable<PersistentVolume['spec']>> = {}, labels?: Record<string, string>): PersistentVolume => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/srv/${name}` }, ...spec },
});
const sc = (name: string, provisioner: string, extra: Partial<StorageClass> = {}): StorageClass => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name },
  provisioner,
  ...extra,
});

describe('volume controllers (integration)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let pvs: ResourceClient<PersistentVolume>;
  let pvcs: ResourceClient<PersistentVolumeClaim>;
  let pods: ResourceClient<Pod>;
  let ns: string;
  let stop: () => Promise<void>;
  const fake = new FakeNodeExpandingDriver();
  let seq = 0;
  /** Cluster-scoped names are per test too (volumes, classes). */
  const uniq = (s: string): string => `${s}-${++seq}`;

  before(async () => {
    cluster = await startTestCluster();
    pvs = cluster.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    pvcs = cluster.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    pods = cluster.rest.resource<Pod>(PODS);
    const informers = new InformerFactory(cluster.rest, { clock: realClock });
    const events = new EventBroadcaster(cluster.rest, realClock);
    const ctx: ControllerContext = { rest: cluster.rest, informers, clock: realClock, recorder: (component) => events.recorder({ component }) };
    const drivers = new DriverRegistry([new LocalPathControllerService('/var/lib/ketch-test/storage'), fake]);
    const controllers = [
      new PersistentVolumeController(ctx, { drivers }),
      new ExpandController(ctx, { drivers }),
      new PvcProtectionController(ctx),
      new PvProtectionController(ctx),
      new EphemeralVolumeController(ctx),
    ];
    informers.start();
    const abort = new AbortController();
    setMaxListeners(0, abort.signal); // every controller and informer wait listens to it, as in the manager
    const running = Promise.all(controllers.map((c) => c.run(abort.signal)));
    stop = async () => {
      abort.abort();
      await running;
      await informers.stop();
    };
    const node: Node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', labels: { 'kubernetes.io/hostname': 'node-a' } } };
    await cluster.rest.resource<Node>(NODES).create(undefined, node);
  });
  after(async () => {
    await stop?.();
    await cluster?.close();
  });
  beforeEach(async () => {
    ns = await createNamespace(cluster.rest, 'vol');
  });

  const claim = (name: string): Promise<PersistentVolumeClaim> => pvcs.get(ns, name);
  const phaseOf = async (name: string): Promise<string | undefined> => (await claim(name)).status?.phase;
  const bound = (name: string): Promise<PersistentVolumeClaim> =>
    waitFor(async () => {
      const c = await claim(name);
      return c.status?.phase === 'Bound' ? c : undefined;
    }, { what: `claim ${name} Bound` });
  const eventFor = (name: string, reason: string): Promise<KubeEvent> =>
    waitFor(async () => (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items.find((e) => e.involvedObject.name === name && e.reason === reason), {
      what: `event ${reason} for ${name}`,
    });
  const gone = (get: () => Promise<unknown>, what: string): Promise<true> =>
    waitFor(async () => {
      try {
        await get();
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    }, { what });

  it('binds a claim to the smallest volume of its class that fits, both sides and both phases', async () => {
    const [big, small, other] = [uniq('big'), uniq('small'), uniq('other')];
    await pvs.create(undefined, pv(big, '10Gi', { storageClassName: 'manual' }));
    await pvs.create(undefined, pv(small, '2Gi', { storageClassName: 'manual' }));
    await pvs.create(undefined, pv(other, '1Gi', { storageClassName: 'slow' }));
    await pvcs.create(ns, pvc('data', { storageClassName: 'manual' }));
    const c = await bound('data');
    assert.equal(c.spec?.volumeName, small);
    assert.equal(c.status?.capacity?.storage, '2Gi');
    assert.deepEqual(c.status?.accessModes, ['ReadWriteOnce']);
    assert.equal(c.metadata?.annotations?.[ANN_BIND_COMPLETED], 'yes');
    assert.equal(c.metadata?.annotations?.[ANN_BOUND_BY_CONTROLLER], 'yes');
    const v = await waitFor(async () => {
      const x = await pvs.get(undefined, small);
      return x.status?.phase === 'Bound' ? x : undefined;
    }, { what: 'volume Bound' });
    assert.deepEqual([v.spec?.claimRef?.namespace, v.spec?.claimRef?.name, v.spec?.claimRef?.uid], [ns, 'data', c.metadata?.uid]);
    assert.equal(v.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER], 'yes');
    assert.ok(v.status?.lastPhaseTransitionTime);
    await waitFor(async () => (await pvs.get(undefined, big)).status?.phase === 'Available', { what: 'the other volume Available' });
  });

  it('honours volumeName, the selector and access modes', async () => {
    const [a, b, rwx] = [uniq('a'), uniq('b'), uniq('rwx')];
    await pvs.create(undefined, pv(a, '1Gi', {}, { tier: 'gold' }));
    await pvs.create(undefined, pv(b, '1Gi'));
    await pvs.create(undefined, pv(rwx, '1Gi', { accessModes: ['ReadWriteMany'] }));
    await pvcs.create(ns, pvc('by-name', { volumeName: b }));
    await pvcs.create(ns, pvc('by-label', { selector: { matchLabels: { tier: 'gold' } } }));
    await pvcs.create(ns, pvc('shared', { accessModes: ['ReadWriteMany'] }));
    assert.equal((await bound('by-name')).spec?.volumeName, b);
    assert.equal((await bound('by-label')).spec?.volumeName, a);
    assert.equal((await bound('shared')).spec?.volumeName, rwx);
    // A named volume that is too small is refused with a reason.
    const tiny = uniq('tiny');
    await pvs.create(undefined, pv(tiny, '100Mi'));
    await pvcs.create(ns, pvc('too-big', { volumeName: tiny }));
    const ev = await eventFor('too-big', 'VolumeMismatch');
    assert.equal(ev.message, `Cannot bind to requested volume "${tiny}": requested PV is too small`);
    assert.equal(await phaseOf('too-big'), 'Pending');
  });

  it('gives each volume to one claim when more claims than volumes arrive at once (several workers, one matching at a time)', async () => {
    const cls = uniq('scarce');
    const vols = [uniq('scarce-a'), uniq('scarce-b')];
    for (const v of vols) await pvs.create(undefined, pv(v, '1Gi', { storageClassName: cls }));
    const names = Array.from({ length: 6 }, (_, i) => `want-${i}`);
    await Promise.all(names.map((n) => pvcs.create(ns, pvc(n, { storageClassName: cls }))));
    // Every claim has been looked at: the two bound, the others told that their class cannot provision.
    const claims = await waitFor(async () => {
      const all = await Promise.all(names.map(claim));
      const events = (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items;
      const failed = new Set(events.filter((e) => e.reason === 'ProvisioningFailed').map((e) => e.involvedObject.name));
      const bound = all.filter((c) => c.status?.phase === 'Bound');
      return bound.length === vols.length && all.every((c) => c.status?.phase === 'Bound' || failed.has(c.metadata?.name ?? '')) ? all : undefined;
    }, { what: 'two claims Bound, the others refused' });
    const bound = claims.filter((c) => c.status?.phase === 'Bound');
    assert.deepEqual(bound.map((c) => c.spec?.volumeName).sort(), [...vols].sort(), 'each volume went to one claim');
    assert.deepEqual(claims.filter((c) => c.status?.phase !== 'Bound').map((c) => [c.status?.phase, c.spec?.volumeName]), Array(4).fill(['Pending', undefined]));
    for (const c of bound) assert.equal((await pvs.get(undefined, c.spec?.volumeName ?? '')).spec?.claimRef?.uid, c.metadata?.uid);
  });

  it('leaves a claim Pending with the reason when nothing matches and nothing can provision', async () => {
    await pvcs.create(ns, pvc('lonely', { resources: { requests: { storage: '1Ti' } } }));
    const ev = await eventFor('lonely', 'FailedBinding');
    assert.equal(ev.message, 'no persistent volumes available for this claim and no storage class is set');
    assert.equal(await phaseOf('lonely'), 'Pending');
    const ext = uniq('ext');
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, sc(ext, 'example.com/nfs'));
    await pvcs.create(ns, pvc('external', { storageClassName: ext }));
    const e2 = await eventFor('external', 'ExternalProvisioning');
    assert.match(e2.message ?? '', /^Waiting for a volume to be created either by the external provisioner 'example.com\/nfs' or manually by the system administrator/);
    assert.equal((await claim('external')).metadata?.annotations?.[ANN_STORAGE_PROVISIONER], 'example.com/nfs');
    const missing = await pvcs.create(ns, pvc('missing-class', { storageClassName: 'no-such-class' }));
    assert.ok(missing);
    assert.equal((await eventFor('missing-class', 'ProvisioningFailed')).message, 'storageclass.storage.k8s.io "no-such-class" not found');
  });

  it('gives a pending claim without a class the default class once one exists (retroactive default)', async () => {
    const orphan = pvc('classless');
    delete orphan.spec?.storageClassName;
    await pvcs.create(ns, orphan);
    assert.equal((await claim('classless')).spec?.storageClassName, undefined);
    const cls = uniq('default');
    const dflt = sc(cls, 'example.com/nfs');
    dflt.metadata.annotations = { 'storageclass.kubernetes.io/is-default-class': 'true' };
    const classes = cluster.rest.resource<StorageClass>(STORAGECLASSES);
    await classes.create(undefined, dflt);
    try {
      await waitFor(async () => (await claim('classless')).spec?.storageClassName === cls, { what: 'the default class assigned' });
    } finally {
      await classes.delete(undefined, cls); // a default class would change the other tests' claims
    }
  });

  it('provisions a WaitForFirstConsumer claim only once a node is selected, on that node', async () => {
    const cls = uniq('local');
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, sc(cls, 'rancher.io/local-path', { volumeBindingMode: 'WaitForFirstConsumer' }));
    const created = await pvcs.create(ns, pvc('db', { storageClassName: cls }));
    assert.equal((await eventFor('db', 'WaitForFirstConsumer')).message, 'waiting for first consumer to be created before binding');
    assert.equal(await phaseOf('db'), 'Pending');
    await pvcs.patch(ns, 'db', { metadata: { annotations: { [ANN_SELECTED_NODE]: 'node-a' } } });
    const c = await bound('db');
    const v = await pvs.get(undefined, c.spec?.volumeName ?? '');
    assert.equal(v.metadata.name, `pvc-${created.metadata?.uid ?? ''}`);
    assert.equal(v.spec?.hostPath?.path, `/var/lib/ketch-test/storage/pvc-${created.metadata?.uid ?? ''}_${ns}_db`);
    assert.equal(v.spec?.hostPath?.type, 'DirectoryOrCreate');
    assert.deepEqual(v.spec?.nodeAffinity?.required?.nodeSelectorTerms, [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }] }]);
    assert.equal(v.spec?.persistentVolumeReclaimPolicy, 'Delete');
    assert.deepEqual([...(v.metadata.finalizers ?? [])].sort(), [LOCAL_PATH_CLEANUP_FINALIZER, PV_PROTECTION_FINALIZER].sort());
    assert.equal((await eventFor('db', 'ProvisioningSucceeded')).message, `Successfully provisioned volume ${v.metadata.name ?? ''}`);
  });

  it('refuses to provision local-path volumes without a node (Immediate class)', async () => {
    const cls = uniq('local-now');
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, sc(cls, 'rancher.io/local-path'));
    await pvcs.create(ns, pvc('nowhere', { storageClassName: cls }));
    const ev = await eventFor('nowhere', 'ProvisioningFailed');
    assert.match(ev.message ?? '', /^failed to provision volume with StorageClass "local-now-\d+": configuration error, no node was specified/);
  });

  it('Retain keeps a released volume; Delete deletes it through the driver; a hand-made Delete volume fails', async () => {
    const kept = uniq('kept');
    await pvs.create(undefined, pv(kept, '1Gi', { storageClassName: 'retain' }));
    await pvcs.create(ns, pvc('keep', { storageClassName: 'retain' }));
    await bound('keep');
    await pvcs.delete(ns, 'keep');
    await waitFor(async () => (await pvs.get(undefined, kept)).status?.phase === 'Released', { what: 'the retained volume Released' });

    const cls = uniq('fake');
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, sc(cls, fake.driverName));
    const made = await pvcs.create(ns, pvc('temp', { storageClassName: cls }));
    const name = (await bound('temp')).spec?.volumeName ?? '';
    assert.equal(name, `pvc-${made.metadata?.uid ?? ''}`);
    assert.equal((await pvs.get(undefined, name)).spec?.csi?.volumeHandle, `fake-${name}`);
    await pvcs.delete(ns, 'temp');
    await gone(() => pvs.get(undefined, name), 'the provisioned volume deleted');
    assert.ok(fake.deleted.includes(`fake-${name}`), 'DeleteVolume was called');

    const byHand = uniq('by-hand');
    await pvs.create(undefined, pv(byHand, '1Gi', { storageClassName: 'del', persistentVolumeReclaimPolicy: 'Delete' }));
    await pvcs.create(ns, pvc('hand', { storageClassName: 'del' }));
    await bound('hand');
    await pvcs.delete(ns, 'hand');
    await waitFor(async () => (await pvs.get(undefined, byHand)).status?.phase === 'Failed', { what: 'the hand-made volume Failed' });
    const ev = await waitFor(async () => (await cluster.rest.resource<KubeEvent>(EVENTS).list('default')).items.find((e) => e.involvedObject.name === byHand), { what: 'VolumeFailedDelete' });
    assert.equal(ev.reason, 'VolumeFailedDelete');
    assert.equal(ev.message, `error getting deleter volume plugin for volume "${byHand}": no deletable volume plugin matched`);
  });

  it('keeps a claim used by a scheduled pod until the pod is gone; an unused one goes at once', async () => {
    for (const n of ['used', 'unused']) {
      await pvs.create(undefined, pv(uniq(n), '1Gi', { storageClassName: `prot-${ns}` }));
      await pvcs.create(ns, pvc(n, { storageClassName: `prot-${ns}` }));
      await bound(n);
    }
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'user' },
      spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'used' } }] },
    };
    await pods.create(ns, pod);
    await pvcs.delete(ns, 'used');
    await pvcs.delete(ns, 'unused');
    await gone(() => claim('unused'), 'the unused claim');
    const held = await claim('used');
    assert.ok(held.metadata?.deletionTimestamp, 'Terminating');
    assert.deepEqual(held.metadata?.finalizers, ['kubernetes.io/pvc-protection']);
    await pods.delete(ns, 'user', { gracePeriodSeconds: 0 });
    await gone(() => claim('used'), 'the claim once its pod is gone');
  });

  it('keeps a bound volume until its claim lets go of it', async () => {
    const name = uniq('guarded');
    await pvs.create(undefined, pv(name, '1Gi', { storageClassName: `guard-${ns}` }));
    await pvcs.create(ns, pvc('guard', { storageClassName: `guard-${ns}` }));
    await bound('guard');
    await pvs.delete(undefined, name);
    const v = await pvs.get(undefined, name);
    assert.ok(v.metadata.deletionTimestamp);
    assert.equal(v.status?.phase, 'Bound');
    await pvcs.delete(ns, 'guard');
    await gone(() => pvs.get(undefined, name), 'the volume once released');
  });

  it('makes a claim <pod>-<volume> owned by the pod for an ephemeral volume, and never takes over another', async () => {
    const template = { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'scratch' }, metadata: { labels: { kind: 'scratch' } } };
    const pod = (name: string): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'tmp', ephemeral: { volumeClaimTemplate: template } }] },
    });
    const p = await pods.create(ns, pod('worker'));
    const c = await waitFor(() => claim('worker-tmp').catch(() => undefined), { what: 'the ephemeral claim' });
    assert.deepEqual(c.metadata?.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: 'worker', uid: p.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(c.metadata?.labels?.kind, 'scratch');
    assert.equal(c.spec?.storageClassName, 'scratch');
    await pvcs.create(ns, pvc('squatter-tmp'));
    await pods.create(ns, pod('squatter'));
    const ev = await eventFor('squatter', 'FailedBinding');
    assert.match(ev.message ?? '', /^ephemeral volume squatter-tmp: PVC .* was not created for the pod squatter$/);
  });

  it('grows a claim whose class allows it: the volume, then the claim status', async () => {
    const cls = uniq('grow');
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, sc(cls, 'rancher.io/local-path', { volumeBindingMode: 'WaitForFirstConsumer', allowVolumeExpansion: true }));
    await pvcs.create(ns, pvc('grow', { storageClassName: cls }, { [ANN_SELECTED_NODE]: 'node-a' }));
    const before = await bound('grow');
    await pvcs.patch(ns, 'grow', { spec: { resources: { requests: { storage: '3Gi' } } } });
    const after = await waitFor(async () => {
      const c = await claim('grow');
      return c.status?.capacity?.storage === '3Gi' ? c : undefined;
    }, { what: 'capacity 3Gi' });
    assert.equal(after.status?.allocatedResources?.storage, '3Gi');
    assert.equal(after.status?.allocatedResourceStatuses, undefined);
    assert.equal(after.status?.conditions, undefined);
    assert.equal((await pvs.get(undefined, before.spec?.volumeName ?? '')).spec?.capacity?.storage, '3Gi');
    assert.equal((await eventFor('grow', 'VolumeResizeSuccessful')).message, 'Resize volume succeeded');
  });

  it('leaves FileSystemResizePending to the node when the driver needs it', async () => {
    const cls = uniq('grow-fs');
    await cluster.rest.resource<StorageClass>(STORAGECLASSES).create(undefined, sc(cls, fake.driverName, { allowVolumeExpansion: true }));
    await pvcs.create(ns, pvc('fs', { storageClassName: cls }));
    const before = await bound('fs');
    await pvcs.patch(ns, 'fs', { spec: { resources: { requests: { storage: '2Gi' } } } });
    const c = await waitFor(async () => {
      const x = await claim('fs');
      return x.status?.conditions?.some((k) => k.type === 'FileSystemResizePending') ? x : undefined;
    }, { what: 'FileSystemResizePending' });
    assert.equal(c.status?.capacity?.storage, '1Gi', 'the claim shows the old size until the node has grown the file system');
    assert.equal(c.status?.allocatedResources?.storage, '2Gi');
    assert.equal(c.status?.allocatedResourceStatuses?.storage, 'NodeResizePending');
    assert.equal(c.status?.conditions?.find((k) => k.type === 'FileSystemResizePending')?.message, 'Waiting for user to (re-)start a pod to finish file system resize of volume on node.');
    assert.equal((await pvs.get(undefined, before.spec?.volumeName ?? '')).spec?.capacity?.storage, '2Gi');
    // The node's part (what the agent does after NodeExpandVolume).
    assert.ok(needsNodeExpansion(c));
    const done = await markFileSystemResized(pvcs, c, '2Gi');
    assert.equal(done.status?.capacity?.storage, '2Gi');
    assert.equal(done.status?.conditions, undefined);
    assert.equal(done.status?.allocatedResourceStatuses, undefined);
    assert.ok(!needsNodeExpansion(done));
  });
});

// The bench's teardown on a real store: the API server over the embedded store on disk, whose writes are acknowledged
// and sent to watches only once the WAL is synced. Claims deleted while that sync is slow (held here) and the claims'
// watch is idle must still reach the protection controller: 16 of 500 claims stayed Terminating in the benchmark when
// the store's idle-watch progress notification named revisions whose events were still waiting for the sync.
describe('pvc-protection over an on-disk store (events sent after the WAL sync)', function () {
  this.timeout(60_000);
  const N = 120;
  let dir: string;
  let disk: EmbeddedStorage;
  let server: ApiServer;
  let rest: RestClient;
  let hold = false;
  const held: Array<(err: NodeJS.ErrnoException | null) => void> = [];
  const release = (): void => {
    hold = false;
    for (const done of held.splice(0)) done(null);
  };
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-pvcprot-'));
    disk = new EmbeddedStorage({ path: join(dir, 'db.sqlite'), syncWal: (fd, done) => (hold ? held.push(done) : fdatasync(fd, done)) });
    server = await startApiServer({ dataDir: dir, securePort: 0, bindAddress: '127.0.0.1', storage: disk, watchBookmarkIntervalMs: 500 });
    rest = new RestClient(loadClientConfig({ kubeconfig: server.adminKubeconfigPath }));
    // The bootstrap policy (cluster-admin) is written just after the server starts.
    await waitFor(async () => !!(await rest.resource<Node>(NODES).list(undefined)), { what: 'the admin authorized' });
    const informers = new InformerFactory(rest, { clock: realClock });
    const events = new EventBroadcaster(rest, realClock);
    const controller = new PvcProtectionController({ rest, informers, clock: realClock, recorder: (component) => events.recorder({ component }) });
    informers.start();
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const running = controller.run(abort.signal);
    stop = async () => {
      abort.abort();
      await running;
      await informers.stop();
    };
  });
  after(async () => {
    release();
    await stop?.();
    await server?.close();
    await disk?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lets every claim go when the claims are deleted while the WAL sync is slow and their watch was idle', async () => {
    const ns = await createNamespace(rest, 'prot');
    const claims = rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    const podClient = rest.resource<Pod>(PODS);
    const names = Array.from({ length: N }, (_, i) => `held-${i}`);
    await Promise.all(names.map((n) => claims.create(ns, pvc(n))));
    await Promise.all(
      names.map((n) =>
        podClient.create(ns, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: n },
          spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: n } }] },
        }),
      ),
    );
    await waitFor(async () => (await claims.list(ns)).items.every((c) => c.metadata?.finalizers?.includes('kubernetes.io/pvc-protection')), {
      what: 'the protection finalizer on every claim',
    });
    // As the bench's teardown: the pods go first (grace 0: at once), then every claim.
    await Promise.all(names.map((n) => podClient.delete(ns, n, { gracePeriodSeconds: 0 })));
    // A watch of a prefix nobody writes counts the store's progress ticks (the API server's watches tick as often).
    let ticks = 0;
    const probe = disk.watch('/probe/', { prefix: true, progressIntervalMs: 500 });
    const counting = (async () => {
      for await (const ev of probe) if (ev.type === 'PROGRESS') ticks++;
    })();
    try {
      hold = true;
      // 16 deletes at a time, as the bench: the first 16 commit, then wait for the held sync.
      let next = 0;
      const deleting = Promise.all(Array.from({ length: 16 }, async () => {
        while (next < N) await claims.delete(ns, names[next++]!);
      }));
      // Committed (a list reads storage) but neither acknowledged nor sent to watches while the sync is held.
      await waitFor(async () => (await claims.list(ns)).items.filter((c) => c.metadata?.deletionTimestamp).length === 16, {
        what: '16 claims marked for deletion in storage',
      });
      const from = ticks;
      await waitFor(() => ticks >= from + 2, { what: 'two progress ticks while the sync is held' });
      release();
      await deleting;
    } finally {
      release();
      probe.close();
      await counting;
    }
    let left: string[] = [];
    try {
      await waitFor(async () => {
        left = (await claims.list(ns)).items.map((c) => c.metadata?.name ?? '');
        return left.length === 0;
      }, { timeoutMs: 15_000, intervalMs: 200, what: 'every claim gone' });
    } catch (err) {
      assert.fail(`${left.length} of ${N} claims still Terminating with no pod using them (${left.slice(0, 4).join(', ')}, ...): ${String(err)}`);
    }
  });
});
