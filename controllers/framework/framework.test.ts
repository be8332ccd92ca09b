import assert from 'node:assert/strict';
import { FakeClock, flushMicrotasks } from '../../lib/clock.js';
import { slowStartBatch } from './batch.js';
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
    /** Calls that finish only when the test says so, recording the most in flight at once. */
    const manual = () => {
      const pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
      let inFlight = 0;
      const o = {
        pending,
        maxInFlight: 0,
        calls: 0,
        fn: () =>
          new Promise<void>((resolve, reject) => {
            o.calls++;
            o.maxInFlight = Math.max(o.maxInFlight, ++inFlight);
            const done = (): number => inFlight--;
            pending.push({ resolve: () => (done(), resolve()), reject: (e) => (done(), reject(e)) });
          }),
      };
      return o;
    };

    it('doubles what is in flight with each round of successes: 1, 2, 4, 8', async () => {
      const m = manual();
      const run = slowStartBatch(100, 1, m.fn);
      const rounds: number[] = [];
      for (let i = 0; i < 4; i++) {
        await flushMicrotasks();
        rounds.push(m.pending.length);
        for (const p of m.pending.splice(0)) p.resolve();
      }
      assert.deepEqual(rounds, [1, 2, 4, 8]);
      for (;;) {
        await flushMicrotasks();
        if (!m.pending.length) break;
        for (const p of m.pending.splice(0)) p.resolve();
      }
      assert.deepEqual(await run, { successes: 100 });
      assert.equal(m.calls, 100);
    });

    it('starts the next call as soon as one succeeds, without waiting for the rest of its round', async () => {
      const m = manual();
      const run = slowStartBatch(10, 1, m.fn);
      await flushMicrotasks();
      m.pending.shift()!.resolve(); // 1 done: 2 in flight
      await flushMicrotasks();
      assert.equal(m.pending.length, 2);
      m.pending.shift()!.resolve(); // one of the two done, the other still slow: 3 in flight, not 1
      await flushMicrotasks();
      assert.equal(m.pending.length, 3);
      while (m.pending.length) {
        m.pending.shift()!.resolve();
        await flushMicrotasks();
      }
      assert.deepEqual(await run, { successes: 10 });
    });

    it('never has more than maxInFlight calls in flight', async () => {
      let inFlight = 0;
      let most = 0;
      const r = await slowStartBatch(200, 1, async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((res) => setImmediate(res));
        inFlight--;
      }, 16);
      assert.deepEqual(r, { successes: 200 });
      assert.equal(most, 16);
    });

    it('starts nothing after the first failure, and reports it with the successes', async () => {
      const m = manual();
      const run = slowStartBatch(100, 1, m.fn);
      await flushMicrotasks();
      m.pending.shift()!.resolve();
      await flushMicrotasks();
      m.pending.shift()!.resolve(); // 2 successes, 3 in flight
      await flushMicrotasks();
      const started = m.calls;
      m.pending.shift()!.reject(new Error('quota exceeded'));
      await flushMicrotasks();
      assert.equal(m.calls, started, 'no call starts after a failure');
      for (const p of m.pending.splice(0)) p.resolve(); // those already in flight finish
      const r = await run;
      assert.equal(r.successes, started - 1);
      assert.match(String(r.error), /quota exceeded/);
    });

    it('reports all successes, and none for no calls', async () => {
      assert.deepEqual(await slowStartBatch(9, 1, async () => undefined), { successes: 9 });
      assert.deepEqual(await slowStartBatch(0, 1, async () => undefined), { successes: 0 });
      const r = await slowStartBatch(3, 1, () => {
        throw new Error('sync throw');
      });
      assert.equal(r.successes, 0);
      assert.match(String(r.error), /sync throw/);
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
