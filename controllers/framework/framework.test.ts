import assert from 'node:assert/strict';
import { FakeClock, flushMicrotasks } from '../../lib/clock.js';
import { slowStartBatch, slowStartBatchSizes } from './batch.js';
import { Controller, TerminalError, type SyncResult } from './controller.js';
import { ControllerExpectations, UIDTrackingExpectations } from './expectations.js';

describe('controller framework', () => {
  describe('expectations', () => {
    it('are satisfied with no record, and once every expected event is observed', () => {
      const e = new ControllerExpectations(new FakeClock());
      assert.equal(e.satisfied('ns/a'), true);
      e.expectCreations('ns/a', 2);
      assert.equal(e.satisfied('ns/a'), false);
      e.creationObserved('ns/a');
      assert.equal(e.satisfied('ns/a'), false);
      e.creationObserved('ns/a');
      assert.equal(e.satisfied('ns/a'), true);
    });

    it('expire after five minutes so a lost event cannot wedge a controller', async () => {
      const clock = new FakeClock();
      const e = new ControllerExpectations(clock);
      e.expectCreations('k', 1);
      await clock.advance(5 * 60_000);
      assert.equal(e.satisfied('k'), false);
      await clock.advance(1);
      assert.equal(e.satisfied('k'), true);
    });

    it('count a deletion once even when it is seen twice (deletionTimestamp, then gone)', () => {
      const e = new UIDTrackingExpectations(new FakeClock());
      e.expectDeletions('rs', ['ns/p1', 'ns/p2']);
      e.deletionObserved('rs', 'ns/p1');
      e.deletionObserved('rs', 'ns/p1');
      assert.equal(e.satisfied('rs'), false);
      assert.deepEqual(e.pending('rs'), { add: 0, del: 1 });
      e.deletionObserved('rs', 'ns/other');
      assert.equal(e.satisfied('rs'), false);
      e.deletionObserved('rs', 'ns/p2');
      assert.equal(e.satisfied('rs'), true);
    });
  });

  describe('slowStartBatch', () => {
    it('doubles the batch size', () => {
      assert.deepEqual(slowStartBatchSizes(10, 1), [1, 2, 4, 3]);
      assert.deepEqual(slowStartBatchSizes(1, 1), [1]);
      assert.deepEqual(slowStartBatchSizes(0, 1), []);
    });

    it('stops after the first batch with a failure', async () => {
      let calls = 0;
      const r = await slowStartBatch(100, 1, async () => {
        calls++;
        if (calls > 4) throw new Error('quota exceeded');
      });
      // batches 1, 2 succeed (3 calls); batch of 4 has 1 success and 3 failures; nothing after.
      assert.equal(calls, 7);
      assert.equal(r.successes, 4);
      assert.match(String(r.error), /quota exceeded/);
    });

    it('reports all successes', async () => {
      const r = await slowStartBatch(9, 1, async () => undefined);
      assert.deepEqual(r, { successes: 9 });
    });
  });

  describe('Controller', () => {
    class Probe extends Controller {
      protected readonly informers = [];
      readonly calls: string[] = [];
      active = 0;
      maxActive = 0;
      behaviour: (key: string, n: number) => Promise<SyncResult | void> = async () => undefined;
      constructor(clock: FakeClock, workers = 1) {
        super({ name: 'probe-controller', clock, workers });
      }
      protected async sync(key: string): Promise<SyncResult | void> {
        this.calls.push(key);
        this.active++;
        this.maxActive = Math.max(this.maxActive, this.active);
        try {
          return await this.behaviour(key, this.calls.filter((k) => k === key).length);
        } finally {
          this.active--;
        }
      }
    }

    it('retries a failed sync with backoff on the injected clock, then forgets the failures', async () => {
      const clock = new FakeClock();
      const c = new Probe(clock);
      c.behaviour = async (_k, n) => {
        if (n <= 2) throw new Error('boom');
      };
      const ac = new AbortController();
      const running = c.run(ac.signal);
      c.queue.add('ns/a');
      await flushMicrotasks();
      assert.equal(c.calls.length, 1);
      await clock.advance(4);
      assert.equal(c.calls.length, 1);
      await clock.advance(1); // 5 ms
      assert.equal(c.calls.length, 2);
      await clock.advance(10); // 10 ms
      assert.equal(c.calls.length, 3);
      assert.equal(c.queue.rateLimiter.retries('ns/a'), 0);
      ac.abort();
      await running;
    });

    it('does not retry a TerminalError, and honours requeueAfter', async () => {
      const clock = new FakeClock();
      const c = new Probe(clock);
      c.behaviour = async (key, n) => {
        if (key === 'bad') throw new TerminalError('invalid');
        if (n === 1) return { requeueAfterMs: 1000 };
      };
      const ac = new AbortController();
      const running = c.run(ac.signal);
      c.queue.add('bad');
      c.queue.add('good');
      await flushMicrotasks();
      await flushMicrotasks();
      await clock.advance(999);
      assert.deepEqual(c.calls, ['bad', 'good']);
      await clock.advance(1);
      assert.deepEqual(c.calls, ['bad', 'good', 'good']);
      await clock.advance(60_000);
      assert.deepEqual(c.calls, ['bad', 'good', 'good']);
      ac.abort();
      await running;
    });

    it('never syncs one key on two workers at once; an add during a sync runs again after it', async () => {
      const clock = new FakeClock();
      const c = new Probe(clock, 4);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      c.behaviour = async (_k, n) => {
        if (n === 1) await gate;
      };
      const ac = new AbortController();
      const running = c.run(ac.signal);
      c.queue.add('k');
      await flushMicrotasks();
      c.queue.add('k');
      c.queue.add('k');
      await flushMicrotasks();
      assert.equal(c.calls.length, 1);
      release();
      await flushMicrotasks();
      await flushMicrotasks();
      assert.equal(c.calls.length, 2);
      assert.equal(c.maxActive, 1);
      ac.abort();
      await running;
    });
  });
});
