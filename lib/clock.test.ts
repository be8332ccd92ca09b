import { strict as assert } from 'node:assert';
import { FakeClock, every, flushMicrotasks } from './clock.js';

describe('clock: every()', () => {
  it('calls now, then `ms` after each call settles, until cancelled (by the fake clock)', async () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    const h = every(clock, 1000, () => void calls.push(clock.now()), (err) => assert.fail(String(err)));
    await flushMicrotasks();
    const t0 = calls[0]!;
    await clock.advance(999);
    assert.equal(calls.length, 1);
    await clock.advance(1);
    await clock.advance(1000);
    assert.deepEqual(calls, [t0, t0 + 1000, t0 + 2000]);
    h.cancel();
    await clock.advance(5000);
    assert.equal(calls.length, 3);
    assert.equal(clock.pending, 0);
  });

  it('waits for a slow call before counting the next period; a failure goes to onError and the rhythm goes on', async () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    let release: (() => void) | undefined;
    let calls = 0;
    const h = every(
      clock,
      100,
      async () => {
        calls++;
        if (calls === 1) await new Promise<void>((r) => (release = r));
        if (calls === 2) throw new Error('boom');
      },
      (err) => errors.push(err),
    );
    await clock.advance(500);
    assert.equal(calls, 1, 'no second call while the first is running');
    release?.();
    await flushMicrotasks();
    await clock.advance(100);
    assert.equal(calls, 2);
    assert.match(String(errors[0]), /boom/);
    await clock.advance(100);
    assert.equal(calls, 3);
    h.cancel();
  });

  it('with delayFirst, the first call comes after one period', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const h = every(clock, 50, () => void calls++, (err) => assert.fail(String(err)), { delayFirst: true });
    await flushMicrotasks();
    assert.equal(calls, 0);
    await clock.advance(50);
    assert.equal(calls, 1);
    h.cancel();
  });
});
