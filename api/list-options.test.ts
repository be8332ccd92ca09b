import { strict as assert } from 'node:assert';
import { ApiError } from './errors.js';
import { listOptionsQuery, parseListOptions, type ListOptions } from './list-options.js';

describe('list options', () => {
  it('reads what a query gives as kube converts it: empty strings are absent, booleans false only when 0 or false, integers by Go\'s ParseInt', () => {
    const q = new URLSearchParams('labelSelector=app%3Dweb&fieldSelector=&limit=5&continue=abc&resourceVersion=0&watch=1&allowWatchBookmarks=True&sendInitialEvents=FALSE&timeoutSeconds=%2B30');
    assert.deepEqual(parseListOptions(q), { labelSelector: 'app=web', limit: 5, continue: 'abc', resourceVersion: '0', watch: true, allowWatchBookmarks: true, timeoutSeconds: 30 });
    assert.deepEqual(parseListOptions(new URLSearchParams('')), {});
    // The Python client's watch=True, and a bare ?watch, are watches; watch=0 and watch=False are not.
    for (const [query, watch] of [['watch=True', true], ['watch', true], ['watch=', true], ['watch=yes', true], ['watch=0', false], ['watch=False', false]] as const) {
      assert.equal(parseListOptions(new URLSearchParams(query)).watch ?? false, watch, query);
    }
    const bad: [string, string][] = [
      ['limit=ten', 'strconv.ParseInt: parsing "ten": invalid syntax'],
      ['limit=1.5', 'strconv.ParseInt: parsing "1.5": invalid syntax'],
      ['limit=', 'strconv.ParseInt: parsing "": invalid syntax'],
      ['limit=+5', 'strconv.ParseInt: parsing " 5": invalid syntax'],
      ['limit=%205', 'strconv.ParseInt: parsing " 5": invalid syntax'],
      ['timeoutSeconds=9223372036854775808', 'strconv.ParseInt: parsing "9223372036854775808": value out of range'],
    ];
    for (const [query, message] of bad) {
      assert.throws(() => parseListOptions(new URLSearchParams(query)), (e: unknown) => e instanceof ApiError && e.code === 400 && e.message === message, query);
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
