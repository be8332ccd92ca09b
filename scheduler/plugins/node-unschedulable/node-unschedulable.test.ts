import assert from 'node:assert/strict';
import { PodInfo } from '../../framework/node-info.js';
import { newState, node, nodeInfo, pod } from '../../../test/support/scheduler-fixtures.js';
import { ERR_REASON_UNSCHEDULABLE, nodeUnschedulable } from './index.js';

describe('NodeUnschedulable', () => {
  const plugin = nodeUnschedulable();
  const cordoned = nodeInfo(node('n', { spec: { unschedulable: true } }));

  it('admits any pod to a schedulable node', () => {
    assert.ok(plugin.filter(newState(), new PodInfo(pod('p')), nodeInfo(node('n'))).isSuccess());
  });

  it('rejects a cordoned node, unresolvably', () => {
    const st = plugin.filter(newState(), new PodInfo(pod('p')), cordoned);
    assert.equal(st.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(st.reasons, [ERR_REASON_UNSCHEDULABLE]);
  });

  it('admits a pod that tolerates the unschedulable taint to a cordoned node', () => {
    const p = pod('p', { spec: { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] } });
    assert.ok(plugin.filter(newState(), new PodInfo(p), cordoned).isSuccess());
  });
});
