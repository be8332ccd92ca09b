import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MonitorPool, procStartTime } from './monitor-pool.js';
import { pollUntil } from '../../test/support/runtime/registry.js';

describe('MonitorPool', function () {
  this.timeout(30_000);
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ketch-monitors-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives one monitor process up to its capacity, then the next; a full one exits once it has no container', async () => {
    const pool = new MonitorPool(root, 2);
    pool.warm();
    const [a, b, c] = [await pool.take(), await pool.take(), await pool.take()];
    assert.equal(a.pid, b.pid);
    assert.notEqual(c.pid, a.pid);
    assert.equal(procStartTime(c.pid), c.startTime);
    // The first is full, but gets EOF only once its slots are run or released; it was never given a container, so it ends.
    a.release();
    b.release();
    await pollUntil('the full monitor to exit', async () => (procStartTime(a.pid) === a.startTime ? undefined : true));
    c.release();
    await pool.close();
    await pollUntil('the last monitor to exit', async () => (procStartTime(c.pid) === c.startTime ? undefined : true));
  });

  it('a slot taken from a monitor that filled up before the slot was run still reaches that monitor', async () => {
    const pool = new MonitorPool(root, 1);
    const a = await pool.take();
    const b = await pool.take(); // a's monitor is full now: it is retired while a is still pending
    assert.notEqual(b.pid, a.pid);
    assert.match(await a.run(join(root, 'no-such-container'), 10_000), /^failed monitor: .*ENOENT/);
    await pollUntil('the retired monitor to exit after its last slot', async () => (procStartTime(a.pid) === a.startTime ? undefined : true));
    b.release();
    await pool.close();
    await pollUntil('the last monitor to exit', async () => (procStartTime(b.pid) === b.startTime ? undefined : true));
  });

  it('answers a container directory it cannot use with "failed", and keeps serving', async () => {
    const pool = new MonitorPool(root, 4);
    const slot = await pool.take();
    assert.match(await slot.run(join(root, 'no-such-container'), 10_000), /^failed monitor: .*ENOENT/);
    const again = await pool.take();
    assert.equal(again.pid, slot.pid);
    assert.match(await again.run(join(root, 'nor-this-one'), 10_000), /^failed /);
    await pool.close();
  });
});
