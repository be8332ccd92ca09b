import assert from 'node:assert/strict';
import { PodInfo } from '../../framework/node-info.js';
import { newState, node, nodeInfo, pod } from '../../../test/support/scheduler-fixtures.js';
import { ERR_REASON, nodeName } from './index.js';

describe('NodeName', () => {
  const plugin = nodeName();
  it('admits pods without spec.nodeName anywhere, and pods naming this node', () => {
    assert.ok(plugin.filter(newState(), new PodInfo(pod('p')), nodeInfo(node('a'))).isSuccess());
    assert.ok(plugin.filter(newState(), new PodInfo(pod('p', { nodeName: 'a' })), nodeInfo(node('a'))).isSuccess());
  });
  it('rejects other nodes for a pod naming its node', () => {
    const st = plugin.filter(newState(), new PodInfo(pod('p', { nodeName: 'a' })), nodeInfo(node('b')));
    assert.equal(st.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(st.reasons, [ERR_REASON]);
  });
});
