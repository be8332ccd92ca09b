import assert from 'node:assert/strict';
import type { Pod } from '../../../api/index.js';
import { PodInfo } from '../../framework/node-info.js';
import { newState, node, nodeInfo, pod } from '../../../test/support/scheduler-fixtures.js';
import { ERR_REASON_POD, nodeAffinity } from './index.js';

describe('NodeAffinity', () => {
  const plugin = nodeAffinity();
  const ssd = nodeInfo(node('ssd', { labels: { disk: 'ssd', gen: '5' } }));
  const hdd = nodeInfo(node('hdd', { labels: { disk: 'hdd', gen: '3' } }));
  const run = (spec: Partial<Pod['spec']>, n = ssd) => {
    const p = new PodInfo(pod('p', { spec }));
    const state = newState();
    const pre = plugin.preFilter(state, p);
    return pre.isSkip() ? pre : plugin.filter(state, p, n);
  };

  it('skips pods without nodeSelector or required affinity', () => {
    assert.ok(run({}).isSkip());
  });

  it('matches nodeSelector, and rejects a node that lacks the labels', () => {
    assert.ok(run({ nodeSelector: { disk: 'ssd' } }).isSuccess());
    const st = run({ nodeSelector: { disk: 'ssd' } }, hdd);
    assert.equal(st.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(st.reasons, [ERR_REASON_POD]);
  });

  it('ORs required terms, ANDs expressions within a term, and supports Gt and matchFields', () => {
    const req = (terms: NonNullable<NonNullable<NonNullable<Pod['spec']['affinity']>['nodeAffinity']>['requiredDuringSchedulingIgnoredDuringExecution']>['nodeSelectorTerms']) => ({
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } },
    });
    const terms = [
      { matchExpressions: [{ key: 'disk', operator: 'In' as const, values: ['ssd'] }, { key: 'gen', operator: 'Gt' as const, values: ['4'] }] },
      { matchFields: [{ key: 'metadata.name', operator: 'In' as const, values: ['other'] }] },
    ];
    assert.ok(run(req(terms)).isSuccess());
    assert.ok(!run(req(terms), hdd).isSuccess());
    assert.ok(run(req([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['hdd'] }] }]), hdd).isSuccess());
    assert.ok(!run(req([{}])).isSuccess(), 'an empty term matches nothing');
  });

  it('scores by the weights of matching preferred terms, scaled to 100', () => {
    const p = new PodInfo(
      pod('p', {
        spec: {
          affinity: {
            nodeAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
                { weight: 30, preference: { matchExpressions: [{ key: 'gen', operator: 'Exists' }] } },
              ],
            },
          },
        },
      }),
    );
    const state = newState();
    assert.ok(plugin.preScore(state, p, [ssd, hdd]).isSuccess());
    const scores = [ssd, hdd].map((n) => ({ name: n.name, score: plugin.score(state, p, n) }));
    plugin.normalizeScores!(state, p, scores);
    assert.deepEqual(scores.map((s) => s.score), [100, 75]);
    assert.ok(plugin.preScore(newState(), new PodInfo(pod('q')), [ssd]).isSkip());
  });
});
