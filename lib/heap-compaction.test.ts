import assert from 'node:assert/strict';
import { once } from 'node:events';
import { getHeapSpaceStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { FakeClock } from './clock.js';
import { CompactionFlag, compactThreadHeapNow, startHeapCompaction, startThreadCompaction } from './heap-compaction.js';

describe('heap compaction', () => {
  it('turns compaction on for a window once per interval, and off when cancelled mid-window', async () => {
    const clock = new FakeClock(0);
    const flags: [number, string][] = [];
    const h = startHeapCompaction({ intervalMs: 5000, windowMs: 1000, clock, flag: new CompactionFlag(undefined, (f) => flags.push([clock.now(), f])) });
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
    startHeapCompaction({ intervalMs: 0, clock, flag: new CompactionFlag(undefined, (f) => flags.push(f)) }).cancel();
    assert.equal(clock.pending, 0);
    const h = startHeapCompaction({ intervalMs: 400, clock, flag: new CompactionFlag(undefined, (f) => flags.push(`${clock.now()} ${f}`)) });
    await clock.advance(400);
    h.cancel();
    assert.deepEqual(flags, ['200 --compact-on-every-full-gc', '400 --no-compact-on-every-full-gc']);
  });
});

describe('the compaction flag', () => {
  it('stays on until its last holder lets go, across threads sharing the count', async () => {
    const flags: string[] = [];
    const window = new CompactionFlag(undefined, (f) => flags.push(`window ${f}`));
    const thread = new CompactionFlag(window.holders, (f) => flags.push(`thread ${f}`));
    window.hold();
    thread.hold();
    thread.release();
    assert.deepEqual(flags, ['window --compact-on-every-full-gc', 'thread --compact-on-every-full-gc'], 'the window still holds it');
    window.release();
    assert.equal(flags.at(-1), 'window --no-compact-on-every-full-gc');
    assert.equal(Atomics.load(window.holders, 0), 0);
    // A worker holding the same counter (real shared memory): the main thread's release leaves it on.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       Atomics.add(workerData, 0, 1);
       parentPort.postMessage('held');
       parentPort.once('message', () => { Atomics.sub(workerData, 0, 1); parentPort.postMessage('released'); });`,
      { eval: true, workerData: window.holders },
    );
    try {
      assert.equal(await once(worker, 'message').then(([m]) => m), 'held');
      flags.length = 0;
      window.hold();
      window.release();
      assert.deepEqual(flags, ['window --compact-on-every-full-gc'], 'not turned off while the worker holds it');
      worker.postMessage('release');
      assert.equal(await once(worker, 'message').then(([m]) => m), 'released');
      window.hold();
      window.release();
      assert.equal(flags.at(-1), 'window --no-compact-on-every-full-gc');
    } finally {
      await worker.terminate();
    }
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

  it('reports a check that threw and checks again at the next interval', async () => {
    const clock = new FakeClock(0);
    const errors: string[] = [];
    let checks = 0;
    const h = startThreadCompaction({
      intervalMs: 1000,
      clock,
      oldSpace: () => {
        if (++checks === 1) throw new Error('no statistics');
        return { size: 0, used: 0 };
      },
      compact: () => assert.fail('nothing to compact'),
      onError: (err) => errors.push(String(err)),
    });
    await clock.advance(1000);
    assert.deepEqual(errors, ['Error: no statistics']);
    await clock.advance(1000);
    assert.equal(checks, 2);
    h.cancel();
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
