import assert from 'node:assert/strict';
import { FakeClock, flushMicrotasks } from '../lib/clock.js';
import { ExponentialRateLimiter, WorkQueue } from './workqueue.js';

describe('WorkQueue', () => {
  it('collapses duplicate adds of a waiting key', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
  });

  it('never hands a key to two workers at once, and re-queues it on done() if it was added meanwhile', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    assert.equal(first, 'a');
    q.add('a'); // while a worker holds it
    assert.equal(q.length, 0, 'not queued while processing');
    let second: string | undefined;
    void q.get().then((x) => (second = x));
    await flushMicrotasks();
    assert.equal(second, undefined, 'a second worker does not get it');
    q.done('a');
    await flushMicrotasks();
    assert.equal(second, 'a', 'queued again after done()');
  });

  it('wakes a waiting worker when an item arrives', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.add('x');
    assert.equal(await p, 'x');
  });

  it('delays addAfter until the clock reaches it, keeping the earliest of two delays', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 1000);
    q.addAfter('a', 500);
    q.addAfter('a', 2000);
    await clock.advance(499);
    assert.equal(q.length, 0);
    await clock.advance(1);
    assert.equal(q.length, 1);
    await clock.advance(5000);
    assert.equal(q.length, 1, 'the later delays were dropped');
  });

  it('backs off exponentially per item on rate-limited adds, and forget() resets it', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, rateLimiter: new ExponentialRateLimiter(10, 1000) });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = clock.now();
      q.addRateLimited('a');
      while (q.length === 0) await clock.advance(1);
      delays.push(clock.now() - start);
      const item = await q.get();
      q.done(item!);
    }
    assert.deepEqual(delays, [10, 20, 40, 80, 160]);
    assert.equal(q.rateLimiter.retries('a'), 5);
    q.forget('a');
    assert.equal(q.rateLimiter.retries('a'), 0);
    const other = new ExponentialRateLimiter(10, 50);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => other.when('b')), [10, 20, 40, 50, 50], 'capped');
  });

  it('resolves waiting workers with undefined on shutdown and ignores later adds', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.shutDown();
    assert.equal(await p, undefined);
    q.add('late');
    assert.equal(q.length, 0);
    assert.equal(await q.get(), undefined);
  });
});
