import { strict as assert } from 'node:assert';
import type { Pod } from '../api/index.js';
import { FakeClock, flushMicrotasks } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import type { PodState } from './pod-state.js';
import { PodWorker, type PodPasses } from './pod-worker.js';

const pod = (rv: string, deleting = false): Pod =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u1', resourceVersion: rv, ...(deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) }, spec: { containers: [{ name: 'c', image: 'i' }] } }) as Pod;

/** Passes that record themselves; each can be made to fail or to hang until released. */
class RecordingPasses implements PodPasses {
  calls: string[] = [];
  settled = false;
  fail = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  private async run(name: string, state: PodState): Promise<void> {
    this.calls.push(`${name}@${state.pod.metadata.resourceVersion}${state.removed ? ' removed' : ''}`);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await this.gate;
      if (this.fail.has(name)) throw new Error(`${name} failed`);
    } finally {
      this.inFlight--;
    }
  }

  async syncPod(state: PodState): Promise<boolean> {
    await this.run('sync', state);
    return this.settled;
  }

  syncTerminatingPod(state: PodState): Promise<void> {
    return this.run('terminating', state);
  }

  syncTerminatedPod(state: PodState): Promise<void> {
    return this.run('terminated', state);
  }
}

describe('PodWorker (lifecycle state machine, kubelet pod_workers.go)', () => {
  const log = logger('agent-test');
  let clock: FakeClock;
  let passes: RecordingPasses;
  let finished: string[];
  const worker = (p = pod('1')): PodWorker => new PodWorker(p, { clock, log, syncIntervalMs: 1000 }, passes, (uid) => finished.push(uid));
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await flushMicrotasks();
  };

  beforeEach(() => {
    clock = new FakeClock();
    passes = new RecordingPasses();
    finished = [];
  });

  it('syncs on a kick, then every sync period of the clock while changing, every 10 once settled', async () => {
    const w = worker();
    w.kick();
    await settle();
    assert.deepEqual(passes.calls, ['sync@1']);
    await clock.advance(999);
    assert.equal(passes.calls.length, 1);
    await clock.advance(1);
    await settle();
    assert.equal(passes.calls.length, 2);
    passes.settled = true;
    await clock.advance(1000);
    await settle();
    assert.equal(passes.calls.length, 3, 'this pass settles');
    await clock.advance(9_999);
    assert.equal(passes.calls.length, 3);
    await clock.advance(1);
    await settle();
    assert.equal(passes.calls.length, 4);
    await w.stop();
  });

  it('runs one pass at a time; kicks during a pass make one more pass after it, with the newest pod', async () => {
    const w = worker();
    passes.hold();
    w.kick();
    await settle();
    w.update(pod('2'));
    w.kick();
    w.update(pod('3'));
    passes.release();
    await settle();
    assert.deepEqual(passes.calls, ['sync@1', 'sync@3']);
    assert.equal(passes.maxInFlight, 1);
    await w.stop();
  });

  it('the echo of its own write (same resourceVersion) asks for no pass', async () => {
    const w = worker();
    w.kick();
    await settle();
    w.update(pod('1'));
    await settle();
    assert.deepEqual(passes.calls, ['sync@1']);
    await w.stop();
  });

  it('a deletion goes SyncPod -> TerminatingPod -> TerminatedPod in one pass, then the worker ends', async () => {
    const w = worker();
    w.kick();
    await settle();
    w.update(pod('2', true));
    await settle();
    assert.deepEqual(passes.calls, ['sync@1', 'terminating@2', 'terminated@2']);
    assert.equal(w.phase, 'TerminatedPod');
    assert.deepEqual(finished, ['u1']);
    w.kick();
    await clock.advance(60_000);
    await settle();
    assert.equal(passes.calls.length, 3, 'a finished worker does nothing more');
    assert.equal(clock.pending, 0);
  });

  it('a failed step stays where it is and is retried on the next pass (no step done twice after it succeeded)', async () => {
    const w = worker(pod('1', true));
    passes.fail.add('terminated');
    w.kick();
    await settle();
    assert.deepEqual(passes.calls, ['terminating@1', 'terminated@1']);
    assert.equal(w.phase, 'TerminatedPod');
    passes.fail.clear();
    await clock.advance(1000);
    await settle();
    assert.deepEqual(passes.calls, ['terminating@1', 'terminated@1', 'terminated@1']);
    assert.deepEqual(finished, ['u1']);
  });

  it('a pod gone from the API (removed) is torn down with nothing written back', async () => {
    const w = worker();
    w.remove();
    await settle();
    assert.deepEqual(passes.calls, ['terminating@1 removed', 'terminated@1 removed']);
    assert.deepEqual(finished, ['u1']);
  });

  it('stop() waits for the pass in flight and ends the resyncs', async () => {
    const w = worker();
    passes.hold();
    w.kick();
    await settle();
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false);
    passes.release();
    await stopping;
    await clock.advance(60_000);
    await settle();
    assert.deepEqual(passes.calls, ['sync@1']);
  });
});
