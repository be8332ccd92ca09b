import assert from 'node:assert/strict';
import type { Pod, PodAffinityTerm } from '../../../api/index.js';
import { PodInfo } from '../../framework/node-info.js';
import { fakeCluster, newState, node, pod } from '../../../test/support/scheduler-fixtures.js';
import { ERR_REASON_AFFINITY, ERR_REASON_ANTI_AFFINITY, ERR_REASON_EXISTING_ANTI_AFFINITY, interPodAffinity } from './index.js';

const ZONE = 'zone';
const term = (app: string, topologyKey = ZONE, namespaces?: string[]): PodAffinityTerm => ({
  topologyKey,
  labelSelector: { matchLabels: { app } },
  ...(namespaces ? { namespaces } : {}),
});
const affinity = (terms: PodAffinityTerm[]): Partial<Pod['spec']> => ({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } } });
const anti = (terms: PodAffinityTerm[]): Partial<Pod['spec']> => ({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } } });

describe('InterPodAffinity', () => {
  const nodes = [node('a1', { labels: { [ZONE]: 'a' } }), node('a2', { labels: { [ZONE]: 'a' } }), node('b1', { labels: { [ZONE]: 'b' } }), node('nolabel')];
  const existing = [
    pod('db', { labels: { app: 'db' }, nodeName: 'a1' }),
    pod('loner', { labels: { app: 'loner' }, nodeName: 'b1', spec: anti([term('web')]) }),
    pod('other-ns-db', { labels: { app: 'db' }, nodeName: 'b1', namespace: 'elsewhere' }),
  ];
  const { handle, cache } = fakeCluster(nodes, existing);
  const plugin = interPodAffinity({}, handle);
  const filter = (p: Pod, nodeName: string) => {
    const pi = new PodInfo(p);
    const state = newState();
    const pre = plugin.preFilter(state, pi);
    return pre.isSkip() ? pre : plugin.filter(state, pi, cache.get(nodeName)!);
  };

  it('admits nodes in the domain of a pod the affinity selects (same namespace only)', () => {
    const p = pod('cache', { labels: { app: 'cache' }, spec: affinity([term('db')]) });
    assert.ok(filter(p, 'a1').isSuccess());
    assert.ok(filter(p, 'a2').isSuccess(), 'same zone');
  });

  it('rejects nodes outside the domain, and nodes without the topology label', () => {
    const p = pod('cache', { labels: { app: 'cache' }, spec: affinity([term('db')]) });
    const st = filter(p, 'b1');
    assert.equal(st.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(st.reasons, [ERR_REASON_AFFINITY]);
    assert.ok(!filter(p, 'nolabel').isSuccess());
  });

  it('lets the first pod of a self-affine group go anywhere', () => {
    const p = pod('first', { labels: { app: 'new' }, spec: affinity([term('new')]) });
    assert.ok(filter(p, 'b1').isSuccess());
  });

  it('rejects nodes in a domain with pods its anti-affinity selects', () => {
    const p = pod('db2', { labels: { app: 'x' }, spec: anti([term('db')]) });
    const st = filter(p, 'a2');
    assert.equal(st.code, 'Unschedulable');
    assert.deepEqual(st.reasons, [ERR_REASON_ANTI_AFFINITY]);
    assert.ok(filter(p, 'b1').isSuccess(), 'the other namespace does not count');
  });

  it("rejects nodes where an existing pod's anti-affinity selects the new pod", () => {
    const st = filter(pod('web', { labels: { app: 'web' } }), 'b1');
    assert.equal(st.code, 'Unschedulable');
    assert.deepEqual(st.reasons, [ERR_REASON_EXISTING_ANTI_AFFINITY]);
    assert.ok(filter(pod('web', { labels: { app: 'web' } }), 'a1').isSuccess());
  });

  it('forgets a removed pod when preemption simulates evicting it', () => {
    const p = new PodInfo(pod('db2', { labels: { app: 'x' }, spec: anti([term('db')]) }));
    const state = newState();
    plugin.preFilter(state, p);
    const a1 = cache.get('a1')!.clone();
    const victim = [...a1.pods.values()][0]!;
    a1.removePod(victim.key);
    plugin.removePod!(state, p, victim, a1);
    assert.ok(plugin.filter(state, p, a1).isSuccess());
  });

  it('scores preferred affinity up and preferred anti-affinity down', () => {
    const p = new PodInfo(
      pod('p', {
        spec: {
          affinity: {
            podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term('db') }] },
            podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 20, podAffinityTerm: term('loner') }] },
          },
        },
      }),
    );
    const feasible = ['a1', 'b1', 'nolabel'].map((n) => cache.get(n)!);
    const state = newState();
    assert.ok(plugin.preScore(state, p, feasible).isSuccess());
    const scores = feasible.map((n) => ({ name: n.name, score: plugin.score(state, p, n) }));
    plugin.normalizeScores!(state, p, scores);
    assert.deepEqual(scores.map((s) => s.score), [100, 0, 28]); // 50, -20, 0 -> min-max scaled
  });
});
