import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AsyncQueue } from './async-queue.js';

describe('AsyncQueue', () => {
  it('delivers pushed items in order, then ends on close', async () => {
    const q = new AsyncQueue<number>();
    for (const n of [1, 2, 3]) q.push(n);
    q.close();
    const got: number[] = [];
    for await (const n of q) got.push(n);
    assert.deepEqual(got, [1, 2, 3]);
  });

  it('keeps no item once read (a watch queue held its read changes until a compaction past 1,024)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const q = new AsyncQueue<{ payload: number[] }>();
    const refs: Array<WeakRef<object>> = [];
    const push = (): void => {
      for (let i = 0; i < 10; i++) {
        const item = { payload: new Array<number>(1000).fill(i) };
        refs.push(new WeakRef(item));
        q.push(item);
      }
    };
    push();
    const it = q[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) assert.equal((await it.next()).value?.payload[0], i);
    await new Promise((resolve) => setImmediate(resolve)); // WeakRef targets stay alive until the current job ends
    gc();
    assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0, 'read items still referenced');
    q.close();
  });
});
