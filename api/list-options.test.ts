import { strict as assert } from 'node:assert';
import { ApiError } from './errors.js';
import { listOptionsQuery, parseListOptions, type ListOptions } from './list-options.js';

describe('list options', () => {
  it('reads what a query gives: empty values are absent, booleans are true or 1, numbers are integers', () => {
    const q = new URLSearchParams('labelSelector=app%3Dweb&fieldSelector=&limit=5&continue=abc&resourceVersion=0&watch=1&allowWatchBookmarks=true&sendInitialEvents=false&timeoutSeconds=30');
    assert.deepEqual(parseListOptions(q), { labelSelector: 'app=web', limit: 5, continue: 'abc', resourceVersion: '0', watch: true, allowWatchBookmarks: true, timeoutSeconds: 30 });
    assert.deepEqual(parseListOptions(new URLSearchParams('')), {});
    for (const bad of ['limit=ten', 'limit=1.5', 'timeoutSeconds=x']) {
      assert.throws(() => parseListOptions(new URLSearchParams(bad)), (e: unknown) => e instanceof ApiError && e.code === 400 && /is not an integer/.test(e.message), bad);
    }
  });

  it('writes them as the query that reads back the same (false booleans left out)', () => {
    const o: ListOptions = { labelSelector: 'a in (b,c)', fieldSelector: 'spec.nodeName=n', limit: 500, continue: 't', resourceVersion: '12', resourceVersionMatch: 'NotOlderThan', timeoutSeconds: 0, watch: true, allowWatchBookmarks: false, sendInitialEvents: true };
    const query = listOptionsQuery(o);
    assert.equal(query.allowWatchBookmarks, undefined);
    const { allowWatchBookmarks: _dropped, ...rest } = o;
    assert.deepEqual(parseListOptions(new URLSearchParams(query)), rest);
  });
});
