import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';
import { startHeapCompaction } from './heap-compaction.js';

describe('heap compaction', () => {
  it('turns compaction on for a window once per interval, and off when cancelled mid-window', async () => {
    const clock = new FakeClock(0);
    const flags: [number, string][] = [];
    const h = startHeapCompaction({ intervalMs: 5000, windowMs: 1000, clock, setFlags: (f) => flags.push([clock.now(), f]) });
    await clock.advance(3999);
    assert.deepEqual(flags, []);
    await clock.advance(1);
    await clock.advance(1000);
    await clock.advance(5000);
    assert.deepEqual(flags, [
      [4000, '--compact-on-every-full-gc'],
      [5000, '--no-compact-on-every-full-gc'],
      [9000, '--compact-on-every-full-gc'],
      [10000, '--no-compact-on-every-full-gc'],
    ]);
    await clock.advance(4500);
    h.cancel();
    assert.deepEqual(flags.slice(4), [
      [14000, '--compact-on-every-full-gc'],
      [14500, '--no-compact-on-every-full-gc'],
    ]);
    await clock.advance(60_000);
    assert.equal(flags.length, 6, 'nothing after cancel');
    assert.equal(clock.pending, 0);
  });

  it('does nothing at interval 0, and keeps a window within half the interval', async () => {
    const clock = new FakeClock(0);
    const flags: string[] = [];
    startHeapCompaction({ intervalMs: 0, clock, setFlags: (f) => flags.push(f) }).cancel();
    assert.equal(clock.pending, 0);
    const h = startHeapCompaction({ intervalMs: 400, clock, setFlags: (f) => flags.push(`${clock.now()} ${f}`) });
    await clock.advance(400);
    h.cancel();
    assert.deepEqual(flags, ['200 --compact-on-every-full-gc', '400 --no-compact-on-every-full-gc']);
  });
});
