import assert from 'node:assert/strict';
import { flushMicrotasks } from './clock.js';
import { Limiter, limiter } from './limit.js';

/** A task the test finishes by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('Limiter', () => {
  it('runs at most `limit` tasks at once, the rest in the order they came', async () => {
    const l = new Limiter(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const done = gates.map((g, i) => l.run(async () => {
      started.push(i);
      await g.promise;
      return i;
    }));
    assert.deepEqual(started, [0, 1], 'the first two start at once');
    assert.equal(l.active, 2);
    assert.ok(l.backlogged);
    gates[1]!.open();
    await flushMicrotasks();
    assert.deepEqual(started, [0, 1, 2]);
    gates[0]!.open();
    gates[2]!.open();
    gates[3]!.open();
    assert.deepEqual(await Promise.all(done), [0, 1, 2, 3]);
    assert.equal(l.active, 0);
    assert.ok(!l.busy && !l.backlogged);
  });

  it('frees the slot of a task that fails, and passes its error on', async () => {
    const l = new Limiter(1);
    await assert.rejects(l.run(() => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await l.run(() => Promise.resolve('next')), 'next');
  });

  it('refuses with tryAcquire when full, and a release given twice frees one slot only', async () => {
    const l = new Limiter(1);
    const release = l.tryAcquire();
    assert.ok(release);
    assert.equal(l.tryAcquire(), undefined);
    release();
    release();
    assert.equal(l.active, 0);
    const again = l.tryAcquire();
    assert.ok(again);
    assert.equal(l.tryAcquire(), undefined, 'the second release() did not free a slot that is held again');
    again();
  });

  it('hands a freed slot to the next waiter before calling onRelease, and idle() waits for the last', async () => {
    const seen: Array<{ active: number; backlogged: boolean }> = [];
    const l = new Limiter(1, () => seen.push({ active: l.active, backlogged: l.backlogged }));
    const first = l.tryAcquire()!;
    const second = l.acquire();
    let idle = false;
    void l.idle().then(() => (idle = true));
    first();
    assert.deepEqual(seen, [{ active: 1, backlogged: false }], 'the waiter holds the slot');
    (await second)();
    await flushMicrotasks();
    assert.deepEqual(seen[1], { active: 0, backlogged: false });
    assert.ok(idle);
  });

  it('wants at least one slot', () => {
    assert.throws(() => new Limiter(0), RangeError);
    assert.equal(new Limiter(Infinity).tryAcquire() !== undefined, true);
  });

  it('has a function form', async () => {
    const limit = limiter(1);
    let running = 0;
    let peak = 0;
    await Promise.all([1, 2, 3].map(() => limit(async () => {
      peak = Math.max(peak, ++running);
      await flushMicrotasks();
      running--;
    })));
    assert.equal(peak, 1);
  });
});
