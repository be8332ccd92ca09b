import assert from 'node:assert/strict';
import { FakeClock, flushMicrotasks } from '../../lib/clock.js';
import { SchedulingQueue } from './queue.js';
import { pod } from '../../test/support/scheduler-fixtures.js';

describe('SchedulingQueue', () => {
  it('pops by priority, then by arrival', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue({ clock });
    q.add(pod('low-1', { priority: 1 }));
    await clock.advance(1);
    q.add(pod('high', { priority: 100 }));
    await clock.advance(1);
    q.add(pod('low-2', { priority: 1 }));
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await q.pop())!.pi.pod.metadata?.name);
    assert.deepEqual(order, ['high', 'low-1', 'low-2']);
  });

  it('wakes a waiting pop when a pod arrives, and returns undefined once closed', async () => {
    const q = new SchedulingQueue({ clock: new FakeClock() });
    const p = q.pop();
    q.add(pod('a'));
    assert.equal((await p)?.pi.pod.metadata?.name, 'a');
    const waiting = q.pop();
    q.close();
    assert.equal(await waiting, undefined);
  });

  it('keeps an unschedulable pod until an event its plugins registered for', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue({ clock, eventHelps: (qp, ev) => qp.unschedulablePlugins.has('NodeResourcesFit') && ev === 'NodeAdd' });
    q.add(pod('p'));
    const qp = (await q.pop())!;
    q.addUnschedulable(qp, ['NodeResourcesFit']);
    assert.equal(q.pending.unschedulable, 1);
    await clock.advance(4 * 60_000);
    assert.equal(q.pending.unschedulable, 1, 'still waiting after 4 minutes');
    assert.equal(q.onEvent('NodeTaintChange'), 0, 'an event that cannot help');
    assert.equal(q.onEvent('NodeAdd'), 1);
    assert.equal(q.pending.active + q.pending.backoff, 1);
  });

  it('tries a pod unschedulable for over 5 minutes again without an event (flushUnschedulablePodsLeftover, every 30 s)', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const q = new SchedulingQueue({ clock, eventHelps: () => false, onIncoming: (queue, event) => seen.push(`${queue}/${event}`) });
    q.add(pod('early'));
    q.addUnschedulable((await q.pop())!, ['NodeResourcesFit']);
    await clock.advance(60_000);
    q.add(pod('late'));
    q.addUnschedulable((await q.pop())!, ['NodeResourcesFit']);
    seen.length = 0;
    await clock.advance(4 * 60_000);
    assert.equal(q.pending.unschedulable, 2, 'both still waiting after 4 and 5 minutes');
    await clock.advance(60_000);
    assert.deepEqual(q.pending, { active: 1, backoff: 0, unschedulable: 1, gated: 0, inFlight: 0 }, 'the first, unschedulable for 6 minutes, went back');
    assert.deepEqual(seen, ['active/UnschedulableTimeout']);
    assert.equal((await q.pop())!.pi.pod.metadata?.name, 'early');
    await clock.advance(60_000);
    assert.equal(q.pending.unschedulable, 0, 'the second followed a minute later');
    q.close();
    assert.equal(clock.pending, 0, 'close stops the periodic flush');
  });

  it('looks only at the unschedulable pods an event may help: a binding costs nothing with 10,000 pods waiting for room', async () => {
    const clock = new FakeClock();
    // NodeResourcesFit is helped by nodes and by pods going away, not by pods being placed.
    const q = new SchedulingQueue({ clock, eventHelps: (qp, ev) => qp.unschedulablePlugins.has('NodeResourcesFit') && (ev === 'NodeAdd' || ev === 'AssignedPodDelete') });
    const pods = Array.from({ length: 10_000 }, (_, i) => pod(`p${i}`));
    for (const p of pods) q.add(p);
    for (let i = 0; i < 10_000; i++) q.addUnschedulable((await q.pop())!, ['NodeResourcesFit']);
    assert.equal(q.pending.unschedulable, 10_000);
    for (let i = 0; i < 1000; i++) assert.equal(q.onEvent('AssignedPodAdd'), 0);
    assert.equal(q.visits, 0, 'no unschedulable pod looked at for a thousand bindings');
    q.delete(pods[0]!);
    assert.equal(q.onEvent('AssignedPodDelete'), 9_999);
    assert.equal(q.visits, 9_999);
    assert.equal(q.onEvent('NodeAdd'), 0, 'each pod leaves every bucket it was in');
  });

  it('backs off 1 s, doubling up to 10 s, counting from the failure', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue({ clock });
    q.add(pod('p'));
    let qp = (await q.pop())!;
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const failed = clock.now();
      q.addBackoff(qp);
      let next: typeof qp | undefined;
      void q.pop().then((x) => (next = x));
      while (!next) await clock.advance(100);
      waits.push(clock.now() - failed);
      qp = next;
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 10000]);
  });

  it('sends a failed pod to backoff instead of the unschedulable set when an event came during its attempt', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue({ clock });
    q.add(pod('p'));
    const qp = (await q.pop())!;
    q.onEvent('AssignedPodDelete'); // e.g. room freed while the pod was being scheduled
    q.addUnschedulable(qp, ['NodeResourcesFit']);
    assert.equal(q.pending.unschedulable, 0);
    assert.equal(q.pending.backoff, 1);
    await clock.advance(1000);
    assert.equal(q.pending.active, 1, 'active once its 1 s backoff is over');
  });

  it('retries an unschedulable pod whose spec changes, but not for a status-only update', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue({ clock });
    const p = pod('p');
    q.add(p);
    const qp = (await q.pop())!;
    q.addUnschedulable(qp, ['TaintToleration']);
    q.update(p, { ...p, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False' }] } });
    assert.equal(q.pending.unschedulable, 1);
    q.update(p, { ...p, spec: { ...p.spec, tolerations: [{ operator: 'Exists' }] } });
    assert.equal(q.pending.unschedulable, 0);
  });

  it('reports each pod entering a queue with kube-scheduler\'s event labels (scheduler_queue_incoming_pods_total)', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const q = new SchedulingQueue({ clock, eventHelps: (_qp, ev) => ev === 'NodeAdd', onIncoming: (queue, event) => seen.push(`${queue}/${event}`) });
    q.add(pod('p'));
    q.addUnschedulable((await q.pop())!, ['NodeResourcesFit']);
    q.onEvent('NodeAdd'); // within the backoff: to backoff
    await clock.advance(1000);
    q.add(pod('g', { spec: { schedulingGates: [{ name: 'wait' }] } }));
    assert.deepEqual(seen, ['active/PodAdd', 'unschedulable/ScheduleAttemptFailure', 'backoff/NodeAdd', 'active/BackoffComplete', 'gated/PodAdd']);
  });

  it('holds gated pods until their scheduling gates are removed', async () => {
    const q = new SchedulingQueue({ clock: new FakeClock() });
    const p = pod('gated', { spec: { schedulingGates: [{ name: 'wait' }] } });
    q.add(p);
    assert.deepEqual([q.pending.active, q.pending.gated], [0, 1]);
    q.update(p, { ...p, spec: { ...p.spec, schedulingGates: [] } });
    assert.deepEqual([q.pending.active, q.pending.gated], [1, 0]);
  });

  it('forgets deleted pods wherever they wait, and drops a failure of a pod deleted during its attempt', async () => {
    const q = new SchedulingQueue({ clock: new FakeClock() });
    const a = pod('a');
    const b = pod('b');
    q.add(a);
    q.add(b);
    const qa = (await q.pop())!;
    q.delete(b);
    q.delete(a);
    q.addUnschedulable(qa, ['X']);
    await flushMicrotasks();
    assert.deepEqual(q.pending, { active: 0, backoff: 0, unschedulable: 0, gated: 0, inFlight: 0 });
  });
});
