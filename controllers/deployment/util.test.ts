import assert from 'node:assert/strict';
import type { Deployment, ReplicaSet } from '../framework/types.js';
import * as u from './util.js';

function dep(replicas: number, surge: number | string, unavailable: number | string, extra: Partial<Deployment['spec']> = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'ns', generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'd' } },
      template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } },
      ...extra,
    },
  };
}

let seq = 0;
function rs(name: string, replicas: number, status: { replicas?: number; available?: number } = {}, annotations: Record<string, string> = {}): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'ns', creationTimestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, seq++)).toISOString().replace('.000Z', 'Z'), annotations },
    spec: { replicas, selector: { matchLabels: { app: 'd' } } },
    status: { replicas: status.replicas ?? replicas, availableReplicas: status.available ?? replicas, readyReplicas: status.available ?? replicas },
  };
}

describe('deployment util', () => {
  it('hashes templates stably, ignoring key order, and differently per collision count', () => {
    const t = dep(1, 1, 0).spec.template;
    const reordered = { spec: { containers: [{ image: 'x', name: 'c' }] }, metadata: { labels: { app: 'd' } } };
    assert.equal(u.computeHash(t), u.computeHash(reordered as typeof t));
    assert.notEqual(u.computeHash(t), u.computeHash(t, 1));
    assert.notEqual(u.computeHash(t), u.computeHash({ ...t, spec: { containers: [{ name: 'c', image: 'y' }] } }));
    assert.match(u.computeHash(t), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.equal(u.safeEncodeString('0123456789'), '456789bcdf'); // as Go's rand.SafeEncodeString maps digits ("5d59d67564")
  });

  it('compares templates ignoring the pod-template-hash label', () => {
    const t = dep(1, 1, 0).spec.template;
    const withHash = { ...t, metadata: { labels: { app: 'd', [u.POD_TEMPLATE_HASH]: 'abc' } } };
    assert.ok(u.equalIgnoreHash(t, withHash));
    assert.ok(!u.equalIgnoreHash(t, { ...withHash, metadata: { labels: { app: 'e' } } }));
  });

  it('resolves maxSurge up and maxUnavailable down, never both zero', () => {
    assert.deepEqual(u.resolveFenceposts('25%', '25%', 10), { surge: 3, unavailable: 2 });
    assert.deepEqual(u.resolveFenceposts(0, 0, 10), { surge: 0, unavailable: 1 });
    assert.deepEqual(u.resolveFenceposts('0%', '10%', 5), { surge: 0, unavailable: 1 });
    assert.equal(u.maxUnavailable(dep(2, 0, 5)), 2, 'capped at replicas');
    assert.equal(u.maxSurge(dep(2, 1, 0, { strategy: { type: 'Recreate' } })), 0);
    assert.throws(() => u.scaledValue('x%', 1, true), /invalid value/);
  });

  it('grows the new ReplicaSet only within maxSurge, counting pods not yet deleted', () => {
    const d = dep(4, 1, 1);
    const oldRS = rs('old', 4);
    const newRS = rs('new', 0);
    assert.equal(u.newRSNewReplicas(d, [oldRS, newRS], newRS), 1);
    // The old set was scaled to 2 but still has 4 pods: no room yet.
    const shrinking = rs('old', 2, { replicas: 4, available: 4 });
    assert.equal(u.newRSNewReplicas(d, [shrinking, rs('new', 1)], rs('new', 1)), 1);
    assert.equal(u.newRSNewReplicas(d, [rs('old', 2), rs('new', 1)], rs('new', 1)), 3);
    assert.equal(u.newRSNewReplicas(dep(4, 1, 1, { strategy: { type: 'Recreate' } }), [], newRS), 4);
  });

  it('shrinks old ReplicaSets only as far as maxUnavailable allows', () => {
    const d = dep(4, 1, 1);
    const newRS = rs('new', 1, { available: 0 });
    const oldRS = rs('old', 4);
    // 5 pods, min available 3, 1 new pod unavailable: one old pod may go.
    assert.equal(u.maxScaledDown(d, [oldRS, newRS], newRS), 1);
    assert.deepEqual([...u.rollingScaleDowns(d, [oldRS, newRS], [oldRS])], [['old', 3]]);
    // A status not updated after a scale-down does not count pods that are about to go.
    const stale = rs('old', 3, { replicas: 4, available: 4 });
    assert.deepEqual([...u.rollingScaleDowns(d, [stale, newRS], [stale])], []);
    // Unhealthy old pods go first, oldest set first.
    const sick = rs('sick', 2, { available: 0 });
    assert.deepEqual([...u.unhealthyScaleDowns([oldRS, sick], 5)], [['sick', 0]]);
  });

  it('simulated rollouts respect both bounds at every step', () => {
    for (const [replicas, surge, unavailable] of [
      [4, 1, 1],
      [3, 2, 0],
      [3, 0, 1],
      [10, '25%', '25%'],
      [1, 1, 0],
    ] as const) {
      const d = dep(replicas, surge, unavailable);
      const maxTotal = replicas + u.maxSurge(d);
      const minAvail = replicas - u.maxUnavailable(d);
      let oldRS = rs('old', replicas);
      let newRS = rs('new', 0);
      // Pods appear and become available one step after a set grows; they go at once when it shrinks.
      const settle = (x: ReplicaSet): ReplicaSet => ({ ...x, status: { replicas: x.spec.replicas ?? 0, availableReplicas: x.spec.replicas ?? 0, readyReplicas: x.spec.replicas ?? 0 } });
      for (let step = 0; step < 50 && !(newRS.spec.replicas === replicas && oldRS.spec.replicas === 0); step++) {
        const size = u.newRSNewReplicas(d, [oldRS, newRS], newRS);
        newRS = { ...newRS, spec: { ...newRS.spec, replicas: size } };
        const max = u.maxScaledDown(d, [oldRS, newRS], newRS);
        if (max > 0) {
          const down = u.rollingScaleDowns(d, [oldRS, newRS], [oldRS]).get('old');
          if (down !== undefined) oldRS = { ...oldRS, spec: { ...oldRS.spec, replicas: down }, status: { ...oldRS.status!, replicas: down, availableReplicas: Math.min(down, oldRS.status?.availableReplicas ?? 0) } };
        }
        const pods = Math.max(oldRS.spec.replicas ?? 0, oldRS.status?.replicas ?? 0) + (newRS.spec.replicas ?? 0);
        assert.ok(pods <= maxTotal, `${String(surge)}/${String(unavailable)} step ${step}: ${pods} pods`);
        const available = (oldRS.status?.availableReplicas ?? 0) + (newRS.status?.availableReplicas ?? 0);
        assert.ok(available >= minAvail, `${String(surge)}/${String(unavailable)} step ${step}: ${available} available`);
        newRS = settle(newRS);
        oldRS = settle(oldRS);
      }
      assert.equal(newRS.spec.replicas, replicas);
      assert.equal(oldRS.spec.replicas, 0);
    }
  });

  it('scales proportionally, leftovers to the largest set', () => {
    const d = dep(20, 3, 2, {});
    const oldRS = rs('old', 8, {}, { [u.MAX_REPLICAS]: '13' });
    const newRS = rs('new', 5, { available: 0 }, { [u.MAX_REPLICAS]: '13' });
    const { sizes, operation } = u.proportionalScale(d, [oldRS, newRS]);
    assert.equal(operation, 'up');
    assert.equal(sizes.get('old'), 14);
    assert.equal(sizes.get('new'), 9);
    const down = u.proportionalScale(dep(5, 3, 2), [oldRS, newRS]);
    assert.equal(down.operation, 'down');
    assert.equal((down.sizes.get('old') ?? 0) + (down.sizes.get('new') ?? 0), 8);
  });

  it('moves revisions forward and records the old one in revision-history', () => {
    const d = dep(2, 1, 0);
    d.metadata.annotations = { 'kubernetes.io/change-cause': 'undo', [u.REVISION]: '7' };
    const set = rs('x', 2, {}, { [u.REVISION]: '1' });
    assert.ok(u.setNewReplicaSetAnnotations(d, set, 3, true));
    assert.equal(set.metadata.annotations?.[u.REVISION], '3');
    assert.equal(set.metadata.annotations?.[u.REVISION_HISTORY], '1');
    assert.equal(set.metadata.annotations?.['kubernetes.io/change-cause'], 'undo');
    assert.ok(u.setNewReplicaSetAnnotations(d, set, 5, true));
    assert.equal(set.metadata.annotations?.[u.REVISION_HISTORY], '1,3');
    assert.ok(!u.setNewReplicaSetAnnotations(d, set, 5, true));
    assert.equal(u.maxRevision([set, rs('y', 0, {}, { [u.REVISION]: '2' })]), 5);
  });

  it('keeps lastTransitionTime when a condition keeps its status, and leaves an unchanged one alone', () => {
    const s = { conditions: [u.newCondition('Progressing', 'True', u.Reason.NewReplicaSetCreated, 'a', 1000_000)] };
    u.setCondition(s, u.newCondition('Progressing', 'True', u.Reason.NewReplicaSetCreated, 'b', 2000_000));
    assert.equal(s.conditions[0]?.message, 'a');
    u.setCondition(s, u.newCondition('Progressing', 'True', u.Reason.ReplicaSetUpdated, 'c', 3000_000));
    assert.equal(s.conditions[0]?.lastTransitionTime, '1970-01-01T00:16:40Z');
    assert.equal(s.conditions[0]?.lastUpdateTime, '1970-01-01T00:50:00Z');
    u.setCondition(s, u.newCondition('Progressing', 'False', u.Reason.ProgressDeadlineExceeded, 'd', 4000_000));
    assert.equal(s.conditions[0]?.lastTransitionTime, '1970-01-01T01:06:40Z');
  });

  it('times out a rollout whose Progressing condition has not moved for progressDeadlineSeconds', () => {
    const d = dep(2, 1, 0, { progressDeadlineSeconds: 10 });
    const s = { conditions: [u.newCondition('Progressing', 'True', u.Reason.ReplicaSetUpdated, '', 1000_000)] };
    assert.equal(u.deploymentTimedOut(d, s, 1010_000), false);
    assert.equal(u.deploymentTimedOut(d, s, 1010_001), true);
    assert.equal(u.deploymentTimedOut(dep(2, 1, 0, { progressDeadlineSeconds: u.NO_DEADLINE }), s, 9e12), false);
    const done = { conditions: [u.newCondition('Progressing', 'True', u.Reason.NewReplicaSetAvailable, '', 0)] };
    assert.equal(u.deploymentTimedOut(d, done, 9e12), false);
  });

  it('computes status and the Available condition', () => {
    const d = dep(4, 1, 1);
    const s = u.calculateStatus(d, [rs('old', 2), rs('new', 2, { available: 1 })], rs('new', 2, { available: 1 }), 0);
    assert.deepEqual([s.replicas, s.updatedReplicas, s.availableReplicas, s.unavailableReplicas], [4, 2, 3, 1]);
    assert.equal(u.getCondition(s, 'Available')?.reason, u.Reason.MinimumReplicasAvailable);
    const low = u.calculateStatus(d, [rs('new', 4, { available: 2 })], undefined, 0);
    assert.equal(u.getCondition(low, 'Available')?.status, 'False');
    assert.equal(u.getCondition(low, 'Available')?.reason, u.Reason.MinimumReplicasUnavailable);
  });

  it('cleans up only empty old ReplicaSets beyond the history limit, oldest revisions first', () => {
    const d = dep(1, 1, 0, { revisionHistoryLimit: 1 });
    const r1 = rs('r1', 0, {}, { [u.REVISION]: '1' });
    const r2 = rs('r2', 1, {}, { [u.REVISION]: '2' });
    const r3 = rs('r3', 0, {}, { [u.REVISION]: '3' });
    assert.deepEqual(u.replicaSetsToCleanUp(d, [r3, r2, r1]).map((x) => x.metadata.name), ['r1']);
    assert.deepEqual(u.replicaSetsToCleanUp(dep(1, 1, 0), [r1, r2, r3]), []);
  });
});
