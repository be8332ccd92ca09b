// Volume-aware scheduling with the real scheduler and the real volume controllers against an API server with fake
// Node objects: WaitForFirstConsumer claims bind only once their pod is scheduled, on that pod's node; a pod goes where
// its claim can be met; the reasons when it cannot, in Kubernetes' words; ReadWriteOncePod.
import assert from 'node:assert/strict';
import {
  ANN_SELECTED_NODE, DIAGNOSIS_ANNOTATION, volumeHostname, type PersistentVolume, type PersistentVolumeClaim, type Pod, type StorageClass,
} from '../../api/index.js';
import { EVENTS, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES, type KubeEvent, type ResourceClient } from '../../client/index.js';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.js';
import { startScheduler, type RunningScheduler } from '../../scheduler/index.js';
import { waitFor } from '../support/util.js';
import { makeNode, makePod, startTestCluster, withoutUid, type TestCluster } from './cluster.js';

const local = (name: string, node: string, cls: string, extra: Partial<NonNullable<PersistentVolume['spec']>> = {}): PersistentVolume => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name },
  spec: {
    capacity: { storage: '10Gi' },
    accessModes: ['ReadWriteOnce'],
    storageClassName: cls,
    local: { path: `/mnt/disks/${name}` },
    nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
    ...extra,
  },
});
const klass = (name: string, provisioner: string, mode: string): StorageClass => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner, volumeBindingMode: mode });

describe('volume-aware scheduling (integration)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let sched: RunningScheduler;
  let cm: ControllerManager;
  let pvs: ResourceClient<PersistentVolume>;
  let pvcs: ResourceClient<PersistentVolumeClaim>;
  let ns = '';
  let n = 0;

  before(async () => {
    cluster = await startTestCluster();
    pvs = cluster.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    pvcs = cluster.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    for (const name of ['node-a', 'node-b']) await cluster.nodes.create(undefined, makeNode(name));
    const classes = cluster.rest.resource<StorageClass>(STORAGECLASSES);
    await classes.create(undefined, klass('local-path', 'rancher.io/local-path', 'WaitForFirstConsumer'));
    await classes.create(undefined, klass('local-disks', 'kubernetes.io/no-provisioner', 'WaitForFirstConsumer'));
    await classes.create(undefined, klass('nfs', 'example.com/nfs', 'Immediate'));
    cm = await startControllerManager({ rest: cluster.rest, leaderElect: false, controllers: ['persistentvolume-binder', 'pvc-protection', 'pv-protection'] });
    sched = await startScheduler({ rest: cluster.rest });
  });
  after(async () => {
    await sched?.stop();
    await cm?.stop();
    await cluster?.close();
  });
  beforeEach(async () => {
    ns = `vs${++n}`;
    await cluster.rest.resource({ group: '', version: 'v1', resource: 'namespaces', namespaced: false }).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  const claim = (name: string, storageClassName: string, modes = ['ReadWriteOnce']): Promise<PersistentVolumeClaim> =>
    pvcs.create(ns, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { accessModes: modes, resources: { requests: { storage: '1Gi' } }, storageClassName } });
  const podUsing = (name: string, claimName: string, spec: Partial<Pod['spec']> = {}): Promise<Pod> =>
    cluster.pods.create(ns, withoutUid({ ...makePod(name), metadata: { name, namespace: ns }, spec: { ...makePod(name).spec, volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }], ...spec } }));
  const boundNode = (name: string): Promise<string> =>
    waitFor(async () => (await cluster.pods.get(ns, name)).spec.nodeName, { what: `pod ${name} bound`, timeoutMs: 20_000 });
  const unschedulable = (name: string): Promise<string> =>
    waitFor(async () => {
      const p = await cluster.pods.get(ns, name);
      return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')?.message;
    }, { what: `pod ${name} unschedulable` });

  it('binds a WaitForFirstConsumer claim only once its pod is scheduled, to a volume on that node', async () => {
    await claim('data', 'local-path');
    const ev = await waitFor(async () => (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items.find((e) => e.reason === 'WaitForFirstConsumer'), { what: 'WaitForFirstConsumer' });
    assert.equal(ev.involvedObject.name, 'data');
    assert.equal((await pvcs.get(ns, 'data')).status?.phase, 'Pending');
    assert.equal((await pvs.list()).items.filter((v) => v.spec?.claimRef?.namespace === ns).length, 0, 'nothing provisioned before a pod');
    await podUsing('web', 'data');
    const node = await boundNode('web');
    const c = await pvcs.get(ns, 'data');
    assert.equal(c.status?.phase, 'Bound', 'the pod is bound only after its claim is');
    assert.equal(c.metadata?.annotations?.[ANN_SELECTED_NODE], node);
    const pv = await pvs.get(undefined, c.spec?.volumeName ?? '');
    assert.equal(volumeHostname(pv), node, 'the volume carries the pod\'s node');
  });

  it('schedules a pod where its claim can be met: the only matching local volume is on node-b', async () => {
    await pvs.create(undefined, local(`${ns}-disk-b`, 'node-b', 'local-disks'));
    await claim('db', 'local-disks');
    await podUsing('db', 'db');
    assert.equal(await boundNode('db'), 'node-b');
    const c = await waitFor(async () => {
      const x = await pvcs.get(ns, 'db');
      return x.status?.phase === 'Bound' ? x : undefined;
    }, { what: 'claim Bound' });
    assert.equal(c.spec?.volumeName, `${ns}-disk-b`);
  });

  it('explains a volume node affinity conflict, a claim no node can meet, and unbound Immediate claims', async () => {
    await pvs.create(undefined, local(`${ns}-pinned`, 'node-b', 'local-disks'));
    await claim('pinned', 'local-disks');
    await podUsing('first', 'pinned');
    assert.equal(await boundNode('first'), 'node-b');
    await podUsing('elsewhere', 'pinned', { nodeSelector: { 'kubernetes.io/hostname': 'node-a' } });
    assert.equal(
      await unschedulable('elsewhere'),
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
    const diag = JSON.parse((await cluster.pods.get(ns, 'elsewhere')).metadata?.annotations?.[DIAGNOSIS_ANNOTATION] ?? '{}') as Record<string, string[]>;
    assert.deepEqual(diag, { 'node-a': ['node(s) had volume node affinity conflict'], 'node-b': ["node(s) didn't match Pod's node affinity/selector"] });

    await claim('nothing', 'local-disks');
    await podUsing('homeless', 'nothing');
    assert.equal(
      await unschedulable('homeless'),
      "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );

    await claim('remote', 'nfs');
    await podUsing('waiting', 'remote');
    assert.equal(
      await unschedulable('waiting'),
      '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.',
    );
    const events = (await cluster.rest.resource<KubeEvent>(EVENTS).list(ns)).items.filter((e) => e.involvedObject.name === 'waiting' && e.reason === 'FailedScheduling');
    assert.ok(events.length > 0);
    // A volume made for it later lets it go on (the claim's update wakes the pod up).
    await pvs.create(undefined, { ...local(`${ns}-nfs`, 'node-a', 'nfs'), spec: { ...local(`${ns}-nfs`, 'node-a', 'nfs').spec, nodeAffinity: undefined, local: undefined, nfs: { server: 'nfs.example', path: '/export' } } });
    assert.ok(['node-a', 'node-b'].includes(await boundNode('waiting')));
  });

  it('keeps a ReadWriteOncePod claim to one pod', async () => {
    await pvs.create(undefined, local(`${ns}-solo`, 'node-a', 'local-disks', { accessModes: ['ReadWriteOncePod'] }));
    await claim('solo', 'local-disks', ['ReadWriteOncePod']);
    await podUsing('owner', 'solo');
    assert.equal(await boundNode('owner'), 'node-a');
    await podUsing('intruder', 'solo');
    assert.equal(
      await unschedulable('intruder'),
      '0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
    );
  });
});
