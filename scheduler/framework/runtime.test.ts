import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/clock.js';
import { IN_TREE_PLUGINS } from '../plugins/registry.js';
import { SchedulerCache } from './cache.js';
import { PodInfo } from './node-info.js';
import { Nominator } from './nominator.js';
import { Framework, numFeasibleNodesToFind } from './runtime.js';
import { fakeApi, node, pod, StaticVolumeListers } from '../../test/support/scheduler-fixtures.js';
import { CycleState, Status, type FilterPlugin, type PluginFactory, type ReservePlugin, type ScorePlugin } from './types.js';
import type { Profile } from '../config.js';

function setup(nodes = 3, profile: Profile = {}, extra: Record<string, PluginFactory> = {}, random: () => number = () => 0.99) {
  const cache = new SchedulerCache();
  for (let i = 0; i < nodes; i++) cache.addNode(node(`n${i}`));
  const nominator = new Nominator();
  const api = fakeApi({ bound: [], evicted: [], nominated: [], volumes: [], claims: [] });
  const fwk = new Framework(profile, {}, { ...IN_TREE_PLUGINS, ...extra }, { snapshot: cache, volumes: new StaticVolumeListers(), clock: new FakeClock(), random, api, nominator });
  return { cache, fwk, nominator };
}

describe('Framework', () => {
  it('looks for fewer feasible nodes in large clusters (percentageOfNodesToScore)', () => {
    assert.equal(numFeasibleNodesToFind(0, 50), 50);
    assert.equal(numFeasibleNodesToFind(0, 1000), 420); // 50 - 1000/125 = 42%
    assert.equal(numFeasibleNodesToFind(0, 5000), 500); // 10%
    assert.equal(numFeasibleNodesToFind(0, 1100), 462); // 50 - 1100/125 in integers = 42%, as Go computes it
    assert.equal(numFeasibleNodesToFind(0, 100_000), 5000); // floor of 5%
    assert.equal(numFeasibleNodesToFind(1, 5000), 100); // at least 100
    assert.equal(numFeasibleNodesToFind(100, 5000), 5000);
  });

  it('filters only a share of a large cluster, starting where the last search stopped', () => {
    const { fwk } = setup(1000, { percentageOfNodesToScore: 10 });
    const r1 = fwk.schedule(new CycleState(), new PodInfo(pod('a')));
    const r2 = fwk.schedule(new CycleState(), new PodInfo(pod('b')));
    assert.ok('node' in r1 && 'node' in r2);
    assert.equal(r1.evaluated, 100);
    assert.equal(r2.evaluated, 100);
    // The second search started at node 100, so it picked among n100..n199.
    const idx = Number(r2.node.slice(1));
    assert.ok(idx >= 100 && idx < 200, r2.node);
  });

  it('breaks a tie among equal nodes with one draw, uniformly: near 1 the first, 0 the last', () => {
    const draws: number[] = [];
    let next = 0;
    const { fwk } = setup(4, {}, {}, () => {
      draws.push(next);
      return next;
    });
    const pick = (r: number, name: string): string => {
      next = r;
      const got = fwk.schedule(new CycleState(), new PodInfo(pod(name)));
      assert.ok('node' in got, JSON.stringify(got));
      return got.node;
    };
    // Four empty nodes score alike: each quarter of the draw picks one of them.
    assert.equal(pick(0.99, 'a'), 'n0');
    assert.equal(pick(0.74, 'b'), 'n1');
    assert.equal(pick(0.25, 'c'), 'n2');
    assert.equal(pick(0, 'd'), 'n3');
    assert.equal(draws.length, 4, 'one draw per pod');
  });

  it('picks the highest weighted score and collects per-node statuses when nothing fits', () => {
    const { fwk, cache } = setup(3);
    cache.addPod(pod('busy', { cpu: '3', nodeName: 'n0' }));
    cache.addPod(pod('busier', { cpu: '2', nodeName: 'n1' }));
    const r = fwk.schedule(new CycleState(), new PodInfo(pod('p', { cpu: '1' })));
    assert.ok('node' in r && r.node === 'n2', JSON.stringify(r));
    const none = fwk.schedule(new CycleState(), new PodInfo(pod('q', { cpu: '8' })));
    assert.ok('fitError' in none);
    assert.equal(none.fitError.message, '0/3 nodes are available: 3 Insufficient cpu.');
    assert.deepEqual([...none.fitError.unschedulablePlugins], ['NodeResourcesFit']);
  });

  it('counts pods nominated to a node against lower- or equal-priority pods', () => {
    const { fwk, nominator } = setup(1);
    nominator.set(pod('vip', { cpu: '3', priority: 100 }), 'n0');
    const low = fwk.schedule(new CycleState(), new PodInfo(pod('low', { cpu: '2', priority: 1 })));
    assert.ok('fitError' in low);
    const high = fwk.schedule(new CycleState(), new PodInfo(pod('higher', { cpu: '2', priority: 1000 })));
    assert.ok('node' in high);
  });

  it('applies configured score weights, enabled and disabled plugins', () => {
    const prefer = (name: string): PluginFactory => () => ({ name: `Prefer-${name}`, score: (_s, _p, n) => (n.name === name ? 100 : 0) }) as ScorePlugin;
    const profile: Profile = {
      plugins: { score: { disabled: [{ name: '*' }], enabled: [{ name: 'Prefer-n0', weight: 1 }, { name: 'Prefer-n1', weight: 5 }] } },
    };
    const { fwk } = setup(3, profile, { 'Prefer-n0': prefer('n0'), 'Prefer-n1': prefer('n1') });
    const r = fwk.schedule(new CycleState(), new PodInfo(pod('p')));
    assert.ok('node' in r && r.node === 'n1');
    assert.deepEqual(fwk.profile.points.score, [
      { name: 'Prefer-n0', weight: 1 },
      { name: 'Prefer-n1', weight: 5 },
    ]);
  });

  it('runs a custom filter, and reserve/unreserve in order', () => {
    const log: string[] = [];
    const onlyN2: PluginFactory = () => ({ name: 'OnlyN2', filter: (_s, _p, n) => (n.name === 'n2' ? Status.success() : Status.unschedulable('not n2')) }) as FilterPlugin;
    const res = (name: string, ok: boolean): PluginFactory => () =>
      ({ name, reserve: () => (log.push(`reserve ${name}`), ok ? Status.success() : Status.unschedulable('no')), unreserve: () => void log.push(`unreserve ${name}`) }) as ReservePlugin;
    const { fwk } = setup(3, { plugins: { multiPoint: { enabled: [{ name: 'OnlyN2' }, { name: 'R1' }, { name: 'R2' }] } } }, { OnlyN2: onlyN2, R1: res('R1', true), R2: res('R2', false) });
    const pi = new PodInfo(pod('p'));
    const r = fwk.schedule(new CycleState(), pi);
    assert.ok('node' in r && r.node === 'n2');
    const st = fwk.runReserve(new CycleState(), pi, 'n2');
    assert.equal(st.plugin, 'R2');
    assert.deepEqual(log, ['reserve R1', 'reserve R2', 'unreserve R2', 'unreserve R1']);
  });

  it('rejects unknown plugins and profiles without a binder', () => {
    assert.throws(() => setup(1, { plugins: { filter: { enabled: [{ name: 'Nope' }] } } }), /unknown plugin "Nope"/);
    assert.throws(() => setup(1, { plugins: { bind: { disabled: [{ name: '*' }] } } }), /no bind plugin/);
  });
});
