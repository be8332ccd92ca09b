import assert from 'node:assert/strict';
import { PodInfo } from '../../framework/node-info.js';
import { fakeCluster, newState, pod } from '../../../test/support/scheduler-fixtures.js';
import { defaultBinder } from './index.js';

describe('DefaultBinder', () => {
  it('binds through the API', async () => {
    const { handle, calls } = fakeCluster([]);
    const st = await defaultBinder({}, handle).bind(newState(), new PodInfo(pod('p')), 'n1');
    assert.ok(st.isSuccess());
    assert.deepEqual(calls.bound, [{ pod: 'p', node: 'n1' }]);
  });
  it('turns a failed write into an Error status', async () => {
    const { handle } = fakeCluster([]);
    const failing = { ...handle, api: { ...handle.api, bind: () => Promise.reject(new Error('pods "p" not found')) } };
    const st = await defaultBinder({}, failing).bind(newState(), new PodInfo(pod('p')), 'n1');
    assert.equal(st.code, 'Error');
    assert.match(st.message, /not found/);
  });
});
