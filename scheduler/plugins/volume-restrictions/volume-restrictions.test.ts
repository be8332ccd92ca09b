import assert from 'node:assert/strict';
import type { PersistentVolumeClaim } from '../../../api/index.js';
import { PodInfo } from '../../framework/node-info.js';
import { fakeCluster, newState, node, pod, StaticVolumeListers } from '../../../test/support/scheduler-fixtures.js';
import { ERR_REASON_RWOP_CONFLICT, volumeRestrictions } from './index.js';

const claim = (name: string, modes: string[]): PersistentVolumeClaim => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: 'default' },
  spec: { accessModes: modes, resources: { requests: { storage: '1Gi' } } },
});
const user = (name: string, claimName: string, nodeName?: string) =>
  pod(name, { ...(nodeName ? { nodeName } : {}), spec: { volumes: [{ name: 'd', persistentVolumeClaim: { claimName } }] } });

describe('VolumeRestrictions', () => {
  const listers = new StaticVolumeListers([claim('solo', ['ReadWriteOncePod']), claim('shared', ['ReadWriteOnce'])]);

  it('skips pods without ReadWriteOncePod claims', () => {
    const c = fakeCluster([node('a')], [user('other', 'shared', 'a')], [], [], listers);
    const plugin = volumeRestrictions({}, c.handle);
    assert.ok(plugin.preFilter(newState(), new PodInfo(user('p', 'shared'))).isSkip());
    assert.ok(plugin.preFilter(newState(), new PodInfo(pod('q'))).isSkip());
  });

  it('rejects every node while another scheduled pod uses the claim (Unschedulable: preemption may help)', () => {
    const c = fakeCluster([node('a'), node('b')], [user('holder', 'solo', 'a')], [], [], listers);
    const plugin = volumeRestrictions({}, c.handle);
    const p = new PodInfo(user('p', 'solo'));
    const state = newState();
    assert.ok(plugin.preFilter(state, p).isSuccess());
    for (const n of c.cache.list()) {
      const st = plugin.filter(state, p, n);
      assert.equal(st.code, 'Unschedulable');
      assert.deepEqual(st.reasons, [ERR_REASON_RWOP_CONFLICT]);
    }
    // Preemption's simulation: without the holder the pod fits.
    const holder = [...c.cache.get('a')!.pods.values()][0]!;
    plugin.removePod!(state, p, holder, c.cache.get('a')!);
    assert.ok(plugin.filter(state, p, c.cache.get('b')!).isSuccess());
  });

  it('admits the pod when no other pod uses the claim, and refuses a claim that does not exist', () => {
    const c = fakeCluster([node('a')], [], [], [], listers);
    const plugin = volumeRestrictions({}, c.handle);
    const state = newState();
    assert.ok(plugin.preFilter(state, new PodInfo(user('p', 'solo'))).isSuccess());
    assert.ok(plugin.filter(state, new PodInfo(user('p', 'solo')), c.cache.get('a')!).isSuccess());
    const missing = plugin.preFilter(newState(), new PodInfo(user('p', 'ghost')));
    assert.equal(missing.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(missing.reasons, ['persistentvolumeclaim "ghost" not found']);
  });
});
