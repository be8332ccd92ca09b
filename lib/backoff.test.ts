import assert from 'node:assert/strict';
import { Backoff, exponentialDelay } from './backoff.js';
import { FakeClock } from './clock.js';

describe('back-off', () => {
  it('doubles from the initial delay up to the cap', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => exponentialDelay(n, 1000, 10_000)), [1000, 2000, 4000, 8000, 10_000]);
    assert.equal(exponentialDelay(5000, 5, 60_000), 60_000, 'no overflow to Infinity or NaN');
    assert.equal(exponentialDelay(5000, 0, 60_000), 0);
    assert.equal(exponentialDelay(-1, 100, 1000), 100);
  });

  it('lets the first attempt through, then doubles from 10 s up to 5 min (kubelet)', async () => {
    const clock = new FakeClock();
    const b = new Backoff(clock, 10_000, 300_000);
    assert.equal(b.check('k'), undefined);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      delays.push(b.next('k'));
      assert.ok(b.check('k'), 'backing off right after an attempt');
      await clock.advance(delays[i]! - 1);
      assert.ok(b.check('k'), 'still backing off 1 ms before the end');
      await clock.advance(1);
      assert.equal(b.check('k'), undefined);
    }
    assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    assert.equal(b.attempts('k'), 7);
  });

  it('counts from when the attempt ended, starts over after a quiet spell, and forgets by prefix', async () => {
    const clock = new FakeClock();
    const b = new Backoff(clock, 10_000, 300_000);
    b.next('pod/a');
    b.next('pod/b');
    await clock.advance(8_000);
    assert.equal(b.check('pod/a', clock.now())?.remainingMs, 10_000, 'exit seen now: the full delay from now');
    assert.equal(b.next('pod/a'), 20_000);
    await clock.advance(11 * 60_000);
    assert.equal(b.next('pod/a'), 10_000, 'quiet for over twice the cap');
    b.forget('pod/');
    assert.equal(b.check('pod/a'), undefined);
    assert.equal(b.attempts('pod/b'), 0);
  });

  it('never starts over with resetAfterMs Infinity, until reset()', async () => {
    const clock = new FakeClock();
    const b = new Backoff(clock, 5, 1000, { resetAfterMs: Infinity });
    assert.deepEqual([b.next('x'), b.next('x'), b.next('x')], [5, 10, 20]);
    await clock.advance(86_400_000);
    assert.equal(b.next('x'), 40);
    b.reset('x');
    assert.equal(b.attempts('x'), 0);
    assert.equal(b.next('x'), 5);
  });
});
