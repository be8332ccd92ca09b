import assert from 'node:assert/strict';
import type { Taint, Toleration } from '../../../api/index.js';
import { PodInfo } from '../../framework/node-info.js';
import { newState, node, nodeInfo, pod } from '../../../test/support/scheduler-fixtures.js';
import { tolerates } from '../helpers.js';
import { taintToleration } from './index.js';

describe('TaintToleration', () => {
  const plugin = taintToleration();
  const gpu: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  const tainted = (...taints: Taint[]) => nodeInfo(node('n', { spec: { taints } }));
  const withTolerations = (tolerations: Toleration[]) => new PodInfo(pod('p', { spec: { tolerations } }));

  it('rejects a node with an untolerated NoSchedule or NoExecute taint, naming the taint', () => {
    const st = plugin.filter(newState(), new PodInfo(pod('p')), tainted(gpu));
    assert.equal(st.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(st.reasons, ['node(s) had untolerated taint {dedicated: gpu}']);
    assert.ok(!plugin.filter(newState(), new PodInfo(pod('p')), tainted({ key: 'k', effect: 'NoExecute' })).isSuccess());
  });

  it('admits tolerated taints and ignores PreferNoSchedule when filtering', () => {
    assert.ok(plugin.filter(newState(), withTolerations([{ key: 'dedicated', operator: 'Equal', value: 'gpu' }]), tainted(gpu)).isSuccess());
    assert.ok(plugin.filter(newState(), withTolerations([{ operator: 'Exists' }]), tainted(gpu)).isSuccess());
    assert.ok(plugin.filter(newState(), new PodInfo(pod('p')), tainted({ key: 'soft', effect: 'PreferNoSchedule' })).isSuccess());
  });

  it('matches tolerations as Kubernetes does (effect, key, operator, value)', () => {
    assert.equal(tolerates({ key: 'dedicated', operator: 'Equal', value: 'cpu' }, gpu), false);
    assert.equal(tolerates({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, gpu), false);
    assert.equal(tolerates({ key: 'dedicated', operator: 'Exists' }, gpu), true);
    assert.equal(tolerates({ key: 'other', operator: 'Exists' }, gpu), false);
  });

  it('scores nodes with fewer untolerated PreferNoSchedule taints higher', () => {
    const p = new PodInfo(pod('p'));
    const state = newState();
    const nodes = [tainted(), tainted({ key: 'a', effect: 'PreferNoSchedule' }), tainted({ key: 'a', effect: 'PreferNoSchedule' }, { key: 'b', effect: 'PreferNoSchedule' })];
    assert.ok(plugin.preScore(state, p, nodes).isSuccess());
    const scores = nodes.map((n, i) => ({ name: String(i), score: plugin.score(state, p, n) }));
    plugin.normalizeScores!(state, p, scores);
    assert.deepEqual(scores.map((s) => s.score), [100, 50, 0]);
  });
});
