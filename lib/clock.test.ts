import assert from 'node:assert/strict';
import { FakeClock, sleepUnlessAborted, type Clock } from './clock.js';

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
