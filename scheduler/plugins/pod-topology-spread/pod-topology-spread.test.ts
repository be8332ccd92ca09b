import assert from 'node:assert/strict';
import type { Node, Pod, TopologySpreadConstraint } from '../../../api/index.js';
import { PodInfo } from '../../framework/node-info.js';
import { fakeCluster, newState, node, pod } from '../../../test/support/scheduler-fixtures.js';
import { ERR_REASON_CONSTRAINTS_NOT_MATCH, ERR_REASON_NODE_LABEL_NOT_MATCH, podTopologySpread } from './index.js';

const ZONE = 'topology.kubernetes.io/zone';
const zoned = (name: string, zone: string): Node => node(name, { labels: { [ZONE]: zone } });
const constraint = (when: TopologySpreadConstraint['whenUnsatisfiable'], maxSkew = 1, extra: Partial<TopologySpreadConstraint> = {}): TopologySpreadConstraint => ({
  maxSkew,
  topologyKey: ZONE,
  whenUnsatisfiable: when,
  labelSelector: { matchLabels: { app: 'web' } },
  ...extra,
});
const web = (name: string, nodeName?: string, spec: Partial<Pod['spec']> = {}): Pod => pod(name, { labels: { app: 'web' }, ...(nodeName ? { nodeName } : {}), spec });

describe('PodTopologySpread', () => {
  // zone a: 2 matching pods, zone b: 1, zone c: 0; node "bare" has no zone label.
  const nodes = [zoned('a1', 'a'), zoned('a2', 'a'), zoned('b1', 'b'), zoned('c1', 'c'), node('bare')];
  const existing = [web('w1', 'a1'), web('w2', 'a2'), web('w3', 'b1'), pod('other', { nodeName: 'c1', labels: { app: 'db' } })];
  const { handle, cache } = fakeCluster(nodes, existing);
  const plugin = podTopologySpread({}, handle);

  const filter = (p: Pod, nodeName: string) => {
    const pi = new PodInfo(p);
    const state = newState();
    const pre = plugin.preFilter(state, pi);
    return pre.isSkip() ? pre : plugin.filter(state, pi, cache.get(nodeName)!);
  };

  it('skips pods without DoNotSchedule constraints', () => {
    assert.ok(filter(web('p'), 'a1').isSkip());
  });

  it('admits nodes where the skew stays within maxSkew', () => {
    const p = web('p', undefined, { topologySpreadConstraints: [constraint('DoNotSchedule')] });
    assert.ok(filter(p, 'c1').isSuccess());
    const loose = web('p', undefined, { topologySpreadConstraints: [constraint('DoNotSchedule', 2)] });
    assert.ok(filter(loose, 'b1').isSuccess(), 'b: 1 + 1 - 0 <= 2');
  });

  it('rejects nodes where the skew would exceed maxSkew, and nodes without the topology label', () => {
    const p = web('p', undefined, { topologySpreadConstraints: [constraint('DoNotSchedule')] });
    const st = filter(p, 'a1');
    assert.equal(st.code, 'Unschedulable');
    assert.deepEqual(st.reasons, [ERR_REASON_CONSTRAINTS_NOT_MATCH]);
    const bare = filter(p, 'bare');
    assert.equal(bare.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(bare.reasons, [ERR_REASON_NODE_LABEL_NOT_MATCH]);
  });

  it('treats the minimum as 0 while there are fewer domains than minDomains', () => {
    const p = web('p', undefined, { topologySpreadConstraints: [constraint('DoNotSchedule', 1, { minDomains: 5 })] });
    assert.ok(!filter(p, 'b1').isSuccess(), 'b: 1+1-0 > 1');
    assert.ok(filter(p, 'c1').isSuccess());
  });

  it('updates counts when preemption simulates removing a pod', () => {
    const p = new PodInfo(web('p', undefined, { topologySpreadConstraints: [constraint('DoNotSchedule', 1)] }));
    const state = newState();
    plugin.preFilter(state, p);
    const a1 = cache.get('a1')!.clone();
    assert.ok(!plugin.filter(state, p, a1).isSuccess());
    const [victim] = [...a1.pods.values()];
    a1.removePod(victim!.key);
    plugin.removePod!(state, p, victim!, a1);
    const a2 = cache.get('a2')!.clone();
    const [victim2] = [...a2.pods.values()];
    plugin.removePod!(state, p, victim2!, a2);
    assert.ok(plugin.filter(state, p, a1).isSuccess(), 'zone a down to 0');
  });

  it('scores ScheduleAnyway: fewer matching pods in the domain is better', () => {
    const p = new PodInfo(web('p', undefined, { topologySpreadConstraints: [constraint('ScheduleAnyway')] }));
    const feasible = ['a1', 'b1', 'c1', 'bare'].map((n) => cache.get(n)!);
    const state = newState();
    assert.ok(plugin.preScore(state, p, feasible).isSuccess());
    const scores = feasible.map((n) => ({ name: n.name, score: plugin.score(state, p, n) }));
    plugin.normalizeScores!(state, p, scores);
    const by = Object.fromEntries(scores.map((s) => [s.name, s.score]));
    assert.ok(by.c1! > by.b1! && by.b1! > by.a1!, JSON.stringify(by));
    assert.equal(by.bare, 0);
    assert.ok(plugin.preScore(newState(), new PodInfo(web('q')), feasible).isSkip());
  });
});
