import assert from 'node:assert/strict';
import { FakeClock, every, flushMicrotasks, realClock, sleepUnlessAborted, type Clock } from './clock.js';

describe('clock', () => {
  it('fires fake timers in order as time advances', async () => {
    const clock = new FakeClock(0);
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    const h = clock.setTimer(15, () => fired.push('cancelled'));
    h.cancel();
    await clock.advance(19);
    assert.deepEqual(fired, ['a']);
    await clock.advance(1);
    assert.deepEqual(fired, ['a', 'b']);
    assert.equal(clock.now(), 20);
    assert.equal(clock.pending, 0);
  });

  it('sleepUnlessAborted: resolves after the time, or early and quietly on abort', async () => {
    const clock = new FakeClock(0);
    const ac = new AbortController();
    let woke = false;
    const sleeping = sleepUnlessAborted(clock, 1000, ac.signal).then(() => (woke = true));
    await clock.advance(999);
    assert.equal(woke, false);
    await clock.advance(1);
    await sleeping;
    const early = sleepUnlessAborted(clock, 1000, ac.signal);
    ac.abort(new Error('stopping'));
    await early;
    assert.equal(clock.now(), 1000, 'the abort ended it, not time');
  });

  it('sleepUnlessAborted: passes on a failure that is not the abort', async () => {
    const broken: Clock = { now: () => 0, setTimer: () => ({ cancel: () => undefined }), sleep: () => Promise.reject(new Error('clock broke')) };
    await assert.rejects(sleepUnlessAborted(broken, 10, new AbortController().signal), /clock broke/);
  });
});

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

describe('realClock.setTimer', () => {
  it('waits past setTimeout\'s 2^31-1 ms limit instead of firing at once (a year-long certificate deadline)', async () => {
    let fired = false;
    const long = realClock.setTimer(2 ** 31 + 1000, () => (fired = true));
    // A short timer set after it fires first; the long one must not have fired by then.
    await new Promise<void>((resolve) => realClock.setTimer(30, resolve));
    long.cancel();
    assert.equal(fired, false);
  });
});
