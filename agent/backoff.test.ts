import { strict as assert } from 'node:assert';
import { FakeClock } from '../lib/clock.js';
import { Backoff } from './backoff.js';

describe('agent back-off', () => {
  it('lets the first attempt through, then doubles from 10 s up to 5 min', async () => {
    const clock = new FakeClock();
    const b = new Backoff(clock);
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
  });

  it('counts from when the attempt ended, and starts over after a long quiet spell', async () => {
    const clock = new FakeClock();
    const b = new Backoff(clock);
    b.next('k');
    await clock.advance(8_000);
    assert.equal(b.check('k', clock.now())?.remainingMs, 10_000, 'exit seen now: the full delay from now');
    await clock.advance(11 * 60_000);
    assert.equal(b.next('k'), 10_000);
    b.forget('k');
    assert.equal(b.check('k'), undefined);
  });
});
