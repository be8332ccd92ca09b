import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';
import { getHeapSpaceStatistics } from 'node:v8';
import { compactThreadHeapNow, startHeapCompaction, startThreadCompaction } from './heap-compaction.js';

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

describe('thread heap compaction', () => {
  it('compacts at a check only when the old space holds more than a quarter (and 8 MB) above its use', async () => {
    const clock = new FakeClock(0);
    const MB = 1024 * 1024;
    let space = { size: 100 * MB, used: 90 * MB };
    const at: number[] = [];
    const h = startThreadCompaction({
      intervalMs: 5000,
      clock,
      oldSpace: () => space,
      compact: () => {
        at.push(clock.now());
        space = { size: space.used, used: space.used };
      },
    });
    await clock.advance(5000);
    assert.deepEqual(at, [], '10 MB above 90 MB in use is under a quarter');
    space = { size: 40 * MB, used: 30 * MB };
    await clock.advance(5000);
    assert.deepEqual(at, [10_000], '10 MB above 30 MB: over a quarter and over 8 MB');
    await clock.advance(5000);
    assert.deepEqual(at, [10_000], 'compacted: nothing above its use');
    space = { size: 20 * MB, used: 14 * MB };
    await clock.advance(5000);
    assert.deepEqual(at, [10_000], '6 MB above 14 MB is under 8 MB');
    space = { size: 150 * MB, used: 100 * MB };
    await clock.advance(5000);
    assert.deepEqual(at, [10_000, 25_000]);
    space = { size: 150 * MB, used: 100 * MB };
    h.cancel();
    await clock.advance(60_000);
    assert.deepEqual(at, [10_000, 25_000], 'nothing after cancel');
    assert.equal(clock.pending, 0);
  });

  it('compacts the calling thread\'s heap for real: its old space ends near its use', () => {
    // Fragments the old space: many objects promoted, two of three then dropped.
    let keep: { n: number; s: string }[] = [];
    for (let i = 0; i < 300_000; i++) keep.push({ n: i, s: `x${i}` });
    keep = keep.filter((_, i) => i % 3 === 0);
    const before = getHeapSpaceStatistics().find((x) => x.space_name === 'old_space')!.space_size;
    compactThreadHeapNow();
    const old = getHeapSpaceStatistics().find((x) => x.space_name === 'old_space')!;
    assert.ok(old.space_size - old.space_used_size < Math.max(8 * 1024 * 1024, old.space_used_size * 0.25), `old space ${old.space_size} for ${old.space_used_size} in use`);
    assert.ok(old.space_size < before, `old space ${old.space_size} after, ${before} before`);
    assert.equal(keep.length, 100_000, 'the live objects are all there');
    assert.equal(keep[99_999]?.s, 'x299997');
  });
});
