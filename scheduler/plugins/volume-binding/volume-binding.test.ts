import assert from 'node:assert/strict';
import { ANN_BIND_COMPLETED, ANN_SELECTED_NODE, type Node, type PersistentVolume, type PersistentVolumeClaim, type StorageClass } from '../../../api/index.js';
import { FakeClock } from '../../../lib/clock.js';
import { PodInfo } from '../../framework/node-info.js';
import { fakeCluster, newState, node, pod, StaticVolumeListers } from '../../../test/support/scheduler-fixtures.js';
import { volumeBinding } from './index.js';
import { ERR_REASON_BIND_CONFLICT, ERR_REASON_NODE_CONFLICT, ERR_REASON_PV_NOT_EXIST, ERR_UNBOUND_IMMEDIATE } from './pod-volumes.js';

const cls = (name: string, mode: string, provisioner = 'rancher.io/local-path', extra: Partial<StorageClass> = {}): StorageClass => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name },
  provisioner,
  volumeBindingMode: mode,
  ...extra,
});
const claim = (name: string, o: { cls?: string; size?: string; volumeName?: string; bound?: boolean; selected?: string; uid?: string; owner?: string; rv?: number } = {}): PersistentVolumeClaim => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: {
    name,
    namespace: 'default',
    uid: o.uid ?? `uid-${name}`,
    resourceVersion: String(o.rv ?? 1),
    annotations: { ...(o.bound ? { [ANN_BIND_COMPLETED]: 'yes' } : {}), ...(o.selected ? { [ANN_SELECTED_NODE]: o.selected } : {}) },
    ...(o.owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: o.owner, controller: true }] } : {}),
  },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.size ?? '1Gi' } }, storageClassName: o.cls ?? 'wait', ...(o.volumeName ? { volumeName: o.volumeName } : {}) },
  status: { phase: o.bound ? 'Bound' : 'Pending' },
});
const volume = (name: string, o: { node?: string; cls?: string; size?: string; claim?: PersistentVolumeClaim } = {}): PersistentVolume => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name },
  spec: {
    capacity: { storage: o.size ?? '1Gi' },
    accessModes: ['ReadWriteOnce'],
    storageClassName: o.cls ?? 'wait',
    local: { path: `/mnt/${name}` },
    ...(o.node ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [o.node] }] }] } } } : {}),
    ...(o.claim ? { claimRef: { namespace: 'default', name: o.claim.metadata?.name ?? '', uid: o.claim.metadata?.uid ?? '' } } : {}),
  },
  status: { phase: o.claim ? 'Bound' : 'Available' },
});
const podWith = (...claims: string[]) => new PodInfo(pod('p', { spec: { volumes: claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })) } }));
const nodes: Node[] = [node('a'), node('b', { labels: { zone: 'z2' } })];

function setup(objs: Array<PersistentVolume | PersistentVolumeClaim | StorageClass>) {
  const listers = new StaticVolumeListers([cls('wait', 'WaitForFirstConsumer'), cls('now', 'Immediate'), cls('manual', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner'), ...objs]);
  const c = fakeCluster(nodes, [], [], [], listers);
  const clock = new FakeClock();
  const plugin = volumeBinding({ bindTimeoutSeconds: 30 }, { ...c.handle, clock });
  /** PreFilter, then Filter on each node: node name -> reasons ([] = fits). */
  const run = (p: PodInfo, state = newState()): { pre: string[]; nodes: Record<string, string[]>; state: typeof state } => {
    const pre = plugin.preFilter(state, p);
    if (pre.isSkip()) return { pre: ['skip'], nodes: {}, state };
    if (!pre.isSuccess()) return { pre: [...pre.reasons], nodes: {}, state };
    const out: Record<string, string[]> = {};
    for (const n of c.cache.list()) out[n.name] = [...plugin.filter(state, p, n).reasons];
    return { pre: [], nodes: out, state };
  };
  return { ...c, listers, clock, plugin, run };
}

describe('VolumeBinding', () => {
  it('skips pods without claims, and stops pods whose claims are missing, deleting, unbound Immediate, or not theirs', () => {
    const deleting = claim('gone');
    deleting.metadata!.deletionTimestamp = '2024-01-01T00:00:00Z';
    const { run } = setup([claim('imm', { cls: 'now' }), deleting, claim('p-v0', { owner: 'someone-else' })]);
    assert.deepEqual(run(new PodInfo(pod('p'))).pre, ['skip']);
    assert.deepEqual(run(podWith('nope')).pre, ['persistentvolumeclaim "nope" not found']);
    assert.deepEqual(run(podWith('gone')).pre, ['persistentvolumeclaim "gone" is being deleted']);
    assert.deepEqual(run(podWith('imm')).pre, [ERR_UNBOUND_IMMEDIATE]);
    const eph = new PodInfo(pod('p', { spec: { volumes: [{ name: 'v0', ephemeral: { volumeClaimTemplate: { spec: {} } } }] } }));
    assert.deepEqual(run(eph).pre, ['persistentvolumeclaim "p-v0" was not created for the pod']);
  });

  it('admits only the nodes that a bound claim\'s volume is pinned to', () => {
    const c = claim('data', { bound: true, volumeName: 'pv-b' });
    const { run } = setup([c, volume('pv-b', { node: 'b', claim: c }), claim('orphan', { bound: true, volumeName: 'missing' })]);
    assert.deepEqual(run(podWith('data')).nodes, { a: [ERR_REASON_NODE_CONFLICT], b: [] });
    assert.deepEqual(run(podWith('orphan')).nodes, { a: [ERR_REASON_PV_NOT_EXIST], b: [ERR_REASON_PV_NOT_EXIST] });
  });

  it('finds an Available volume on the node for a WaitForFirstConsumer claim, or provisions there, or says why not', () => {
    const { run } = setup([
      claim('static', { cls: 'manual' }),
      volume('pv-on-b', { node: 'b', cls: 'manual' }),
      claim('dyn'),
      claim('nowhere', { cls: 'manual', size: '5Gi' }),
      claim('chosen', { selected: 'a' }),
    ]);
    assert.deepEqual(run(podWith('static')).nodes, { a: [ERR_REASON_BIND_CONFLICT], b: [] });
    assert.deepEqual(run(podWith('dyn')).nodes, { a: [], b: [] });
    assert.deepEqual(run(podWith('nowhere')).nodes, { a: [ERR_REASON_BIND_CONFLICT], b: [ERR_REASON_BIND_CONFLICT] });
    assert.deepEqual(run(podWith('chosen')).nodes, { a: [], b: [ERR_REASON_BIND_CONFLICT] }, 'a selected node binds the claim to that node');
  });

  it('honours the class\'s allowedTopologies for provisioning', () => {
    const zoned = cls('zoned', 'WaitForFirstConsumer', 'rancher.io/local-path', { allowedTopologies: [{ matchLabelExpressions: [{ key: 'zone', values: ['z2'] }] }] });
    const { run } = setup([zoned, claim('z', { cls: 'zoned' })]);
    assert.deepEqual(run(podWith('z')).nodes, { a: [ERR_REASON_BIND_CONFLICT], b: [] });
  });

  it('promises a volume to the first pod at Reserve, so the next pod does not get it, and frees it at Unreserve', () => {
    const { run, plugin } = setup([claim('c1', { cls: 'manual' }), claim('c2', { cls: 'manual', uid: 'u2' }), volume('only', { node: 'a', cls: 'manual' })]);
    const first = run(podWith('c1'));
    assert.deepEqual(first.nodes, { a: [], b: [ERR_REASON_BIND_CONFLICT] });
    assert.ok(plugin.reserve(first.state, podWith('c1'), 'a').isSuccess());
    assert.ok(plugin.preBindPreFlight(first.state, podWith('c1'), 'a').isSuccess(), 'there is something to write');
    assert.deepEqual(run(podWith('c2')).nodes, { a: [ERR_REASON_BIND_CONFLICT], b: [ERR_REASON_BIND_CONFLICT] });
    plugin.unreserve(first.state, podWith('c1'), 'a');
    assert.deepEqual(run(podWith('c2')).nodes.a, []);
  });

  it('writes the plan at PreBind and waits until the PV controller has bound the claim', async () => {
    const pvc = claim('dyn');
    const { run, plugin, calls, listers } = setup([pvc]);
    const p = podWith('dyn');
    const r = run(p);
    assert.ok(plugin.reserve(r.state, p, 'b').isSuccess());
    const bound = plugin.preBind(r.state, p, 'b', new AbortController().signal);
    await new Promise((res) => setImmediate(res));
    assert.equal(calls.claims.length, 1);
    assert.equal(calls.claims[0]!.metadata?.annotations?.[ANN_SELECTED_NODE], 'b', 'the claim names the node for the provisioner');
    // The PV controller provisions on b and binds.
    const pv = volume('pvc-uid-dyn', { node: 'b', claim: pvc });
    listers.set(pv);
    listers.set(claim('dyn', { bound: true, volumeName: 'pvc-uid-dyn', selected: 'b', rv: 2000 }));
    const st = await bound;
    assert.ok(st.isSuccess(), st.message);
  });

  it('wakes a waiting PreBind on its claim\'s volume: the claim bound first, the volume\'s claimRef last', async () => {
    const pvc = claim('dyn');
    const { run, plugin, listers } = setup([pvc, claim('other', { uid: 'u-other' })]);
    const p = podWith('dyn');
    const r = run(p);
    assert.ok(plugin.reserve(r.state, p, 'b').isSuccess());
    let settled = false;
    const bound = plugin.preBind(r.state, p, 'b', new AbortController().signal).finally(() => (settled = true));
    await new Promise((res) => setImmediate(res));
    listers.set(claim('dyn', { bound: true, volumeName: 'pvc-uid-dyn', selected: 'b', rv: 2000 }));
    listers.set(volume('pvc-uid-dyn', { node: 'b' })); // the volume exists, its claimRef not written yet
    listers.set(claim('other', { uid: 'u-other', bound: true, volumeName: 'elsewhere', rv: 2001 }));
    await new Promise((res) => setImmediate(res));
    assert.equal(settled, false, 'the volume does not name the claim yet');
    listers.set(volume('pvc-uid-dyn', { node: 'b', claim: pvc }));
    const st = await bound;
    assert.ok(st.isSuccess(), st.message);
  });

  it('fails PreBind when the provisioner gives the node back, and when waiting times out', async () => {
    const { run, plugin, listers, clock } = setup([claim('dyn'), claim('slow', { uid: 'u-slow' })]);
    const p = podWith('dyn');
    const r = run(p);
    plugin.reserve(r.state, p, 'a');
    const reset = plugin.preBind(r.state, p, 'a', new AbortController().signal);
    listers.set(claim('dyn', { rv: 2000 })); // written with the annotation, then removed again by the provisioner
    const st = await reset;
    assert.equal(st.code, 'Error');
    assert.equal(st.message, 'binding volumes: selectedNode annotation reset for PVC "dyn"');

    const q = podWith('slow');
    const r2 = run(q);
    plugin.reserve(r2.state, q, 'a');
    listers.set(claim('slow', { uid: 'u-slow', selected: 'a', rv: 2000 }));
    const waiting = plugin.preBind(r2.state, q, 'a', new AbortController().signal);
    await new Promise((res) => setImmediate(res));
    clock.advance(30_000);
    assert.equal((await waiting).message, 'binding volumes: timed out waiting for the condition');
  });
});
