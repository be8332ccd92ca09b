import { strict as assert } from 'node:assert';
import type { Pod } from '../api/index.js';
import { FakeClock } from '../lib/clock.js';
import { TerminationOrder } from './termination-order.js';

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', uid: 'u' },
  spec: {
    initContainers: [
      { name: 'side-a', image: 'x', restartPolicy: 'Always' },
      { name: 'setup', image: 'x' },
      { name: 'side-b', image: 'x', restartPolicy: 'Always' },
    ],
    containers: [
      { name: 'app-1', image: 'x' },
      { name: 'app-2', image: 'x' },
    ],
  },
} as Pod;

describe('TerminationOrder (kubelet terminationOrdering)', () => {
  it('stops the app containers at once, then the sidecars last to first', async () => {
    const clock = new FakeClock();
    const order = new TerminationOrder(pod, ['side-a', 'side-b', 'app-1', 'app-2']);
    assert.deepEqual(['app-1', 'app-2', 'side-a', 'side-b'].map((n) => order.waits(n)), [false, false, true, true]);
    const log: string[] = [];
    const stop = async (name: string): Promise<void> => {
      await order.waitForTurn(name, 30_000, clock);
      log.push(name);
      order.containerStopped(name);
    };
    const all = Promise.all([stop('side-a'), stop('side-b')]);
    await clock.advance(0);
    assert.deepEqual(log, [], 'the sidecars wait while app containers run');
    await stop('app-2');
    await clock.advance(0);
    assert.deepEqual(log, ['app-2']);
    await stop('app-1');
    await all;
    assert.deepEqual(log, ['app-2', 'app-1', 'side-b', 'side-a']);
  });

  it('waits only for containers that run, and no longer than the grace period', async () => {
    const clock = new FakeClock();
    const order = new TerminationOrder(pod, ['side-a', 'app-1']);
    let done = false;
    const wait = order.waitForTurn('side-a', 5_000, clock).then(() => (done = true));
    await clock.advance(4_999);
    assert.equal(done, false);
    await clock.advance(1);
    await wait;
    assert.equal(done, true, 'app-1 never stopped: side-a went at the end of its grace period');
    assert.equal(clock.pending, 0, 'no timer left behind');
  });
});
