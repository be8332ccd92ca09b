import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/clock.js';
import { rfc3339 } from '../framework/pods.js';
import { PodTally } from '../framework/pod-tally.js';
import type { Pod, ReplicaSet } from '../framework/types.js';
import { replicaSetStanding } from './replicaset-controller.js';

const rsOf = (uid: string, minReadySeconds = 0): ReplicaSet => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name: uid, namespace: 'ns', uid },
  spec: { replicas: 1, minReadySeconds, selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a', tier: 't' } }, spec: { containers: [] } } },
});

const podOf = (name: string, owner: string, o: { ready?: boolean; since?: number; labels?: Record<string, string>; phase?: 'Running' | 'Succeeded' } = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'ns',
    uid: `uid-${name}`,
    labels: o.labels ?? { app: 'a', tier: 't' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: owner, controller: true }],
  },
  spec: { containers: [] },
  status: {
    phase: o.phase ?? 'Running',
    ...(o.ready !== undefined ? { conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: rfc3339(o.since ?? 0) }] } : {}),
  },
});

/** A tally over ReplicaSets as the controller keeps one, with the pods held in a map as the informer's index would. */
function setup(clock: FakeClock, sets: ReplicaSet[]) {
  const owners = new Map(sets.map((s) => [s.metadata.uid!, s]));
  const pods = new Map<string, Pod>();
  const timers: string[] = [];
  const tally = new PodTally<ReplicaSet>({
    clock,
    buckets: 5,
    keyed: 1 << 4,
    ownerOf: (p) => owners.get(p.metadata.ownerReferences?.[0]?.uid ?? ''),
    uidOf: (rs) => rs.metadata.uid!,
    standing: replicaSetStanding,
    podsOf: (uid) => [...pods.values()].filter((p) => p.metadata.ownerReferences?.[0]?.uid === uid),
    onTimer: (rs) => timers.push(rs.metadata.uid!),
  });
  const put = (p: Pod): void => {
    pods.set(p.metadata.name!, p);
    tally.observe(p);
  };
  const del = (p: Pod): void => {
    pods.delete(p.metadata.name!);
    tally.forgetPod(p);
  };
  const counts = (uid: string) => ({ replicas: tally.count(uid, 0), labeled: tally.count(uid, 1), ready: tally.count(uid, 2), available: tally.count(uid, 3), mismatched: tally.count(uid, 4) });
  return { tally, owners, pods, put, del, counts, timers };
}

describe('replica set pod tally', () => {
  it('keeps counts per owner from events: one pod looked at per event, whatever the size of the set', () => {
    const clock = new FakeClock();
    const t = setup(clock, [rsOf('big'), rsOf('other')]);
    for (let i = 0; i < 10_000; i++) t.put(podOf(`p${i}`, 'big', { ready: i % 2 === 0, since: clock.now() }));
    t.put(podOf('o1', 'other', { ready: true }));
    assert.deepEqual(t.counts('big'), { replicas: 10_000, labeled: 10_000, ready: 5_000, available: 5_000, mismatched: 0 });
    const before = t.tally.visits;
    t.put(podOf('p1', 'big', { ready: true, since: clock.now() })); // a status change
    assert.equal(t.tally.visits - before, 1);
    assert.equal(t.counts('big').ready, 5_001);
    t.del(t.pods.get('p0')!);
    assert.equal(t.tally.visits - before, 1, 'a delete looks at no pod');
    assert.deepEqual(t.counts('big'), { replicas: 9_999, labeled: 9_999, ready: 5_000, available: 5_000, mismatched: 0 });
    assert.equal(t.counts('other').replicas, 1);
  });

  it('counts a pod available minReadySeconds after Ready, on one timer, not a rescan', async () => {
    const clock = new FakeClock();
    const t = setup(clock, [rsOf('rs', 10)]);
    t.put(podOf('a', 'rs', { ready: true, since: clock.now() }));
    t.put(podOf('b', 'rs', { ready: true, since: clock.now() - 4000 }));
    assert.deepEqual([t.counts('rs').ready, t.counts('rs').available], [2, 0]);
    await clock.advance(6000);
    assert.deepEqual([t.counts('rs').ready, t.counts('rs').available], [2, 1]);
    assert.deepEqual(t.timers, ['rs']);
    const visits = t.tally.visits;
    await clock.advance(4000);
    assert.deepEqual([t.counts('rs').ready, t.counts('rs').available], [2, 2]);
    assert.equal(t.tally.visits - visits, 1, 'only the pod whose time came');
    // A pod that stops being ready before its time never becomes available: its timer is cancelled.
    t.put(podOf('c', 'rs', { ready: true, since: clock.now() }));
    t.put(podOf('c', 'rs', { ready: false, since: clock.now() }));
    await clock.advance(20_000);
    assert.deepEqual([t.counts('rs').ready, t.counts('rs').available], [2, 2]);
    assert.deepEqual(t.timers, ['rs', 'rs']);
  });

  it('keeps the keys of owned pods whose labels stop matching, and leaves finished pods uncounted', () => {
    const clock = new FakeClock();
    const t = setup(clock, [rsOf('rs')]);
    t.put(podOf('a', 'rs', { ready: true }));
    t.put(podOf('b', 'rs', { labels: { app: 'a' } }));
    t.put(podOf('c', 'rs', { phase: 'Succeeded' }));
    assert.deepEqual(t.counts('rs'), { replicas: 2, labeled: 1, ready: 1, available: 1, mismatched: 0 });
    t.put(podOf('a', 'rs', { ready: true, labels: { app: 'b' } }));
    assert.deepEqual(t.counts('rs'), { replicas: 1, labeled: 0, ready: 0, available: 0, mismatched: 1 });
    assert.deepEqual([...t.tally.keys('rs', 4)], ['ns/a']);
    t.del(t.pods.get('a')!);
    assert.deepEqual([...t.tally.keys('rs', 4)], []);
  });

  it('recounts an owner whose pods came before it, and when what it counts by changes', () => {
    const clock = new FakeClock();
    const t = setup(clock, []);
    t.put(podOf('a', 'rs', { ready: true, since: clock.now() }));
    t.put(podOf('b', 'rs', { ready: true, since: clock.now() }));
    assert.equal(t.counts('rs').replicas, 0, 'no owner yet');
    t.owners.set('rs', rsOf('rs'));
    t.tally.recount(rsOf('rs'));
    assert.deepEqual(t.counts('rs'), { replicas: 2, labeled: 2, ready: 2, available: 2, mismatched: 0 });
    const slow = rsOf('rs', 30);
    t.owners.set('rs', slow);
    t.tally.recount(slow);
    assert.deepEqual(t.counts('rs'), { replicas: 2, labeled: 2, ready: 2, available: 0, mismatched: 0 });
    // Later events subtract what the recount added, never what an earlier owner version did.
    t.del(t.pods.get('a')!);
    assert.deepEqual(t.counts('rs'), { replicas: 1, labeled: 1, ready: 1, available: 0, mismatched: 0 });
    t.tally.forgetOwner('rs');
    t.del(t.pods.get('b')!);
    assert.equal(t.counts('rs').replicas, 0);
  });
});
