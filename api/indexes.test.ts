import assert from 'node:assert/strict';
import { formatIndexes, hasIndex, intervalsOf, mergeIntervals, parseIndexes, totalIndexes, validateIndexesFormat, withIndexes } from './indexes.js';

describe('completion index intervals', () => {
  it('formats as kube does: pairs with a comma, runs of three or more with a dash', () => {
    assert.equal(formatIndexes(intervalsOf([0, 1, 2, 4, 6, 7, 9, 10, 11, 12])), '0-2,4,6,7,9-12');
    assert.equal(formatIndexes([]), '');
  });
  it('parses what it formats, drops indexes at or past completions, skips corrupt parts', () => {
    assert.deepEqual(parseIndexes('0-2,4,6,7', 10), [{ first: 0, last: 2 }, { first: 4, last: 4 }, { first: 6, last: 7 }]);
    assert.deepEqual(parseIndexes('0-2,3,8-12', 10), [{ first: 0, last: 3 }, { first: 8, last: 9 }]);
    assert.deepEqual(parseIndexes('1,x,3-y,5', 10), [{ first: 1, last: 1 }, { first: 5, last: 5 }]);
    assert.deepEqual(parseIndexes('5,9', 5), []);
    assert.deepEqual(parseIndexes(undefined, 5), []);
  });
  it('merges, adds and counts without expanding intervals', () => {
    const a = parseIndexes('0-99999', 100000);
    assert.equal(totalIndexes(a), 100000);
    assert.deepEqual(mergeIntervals([{ first: 0, last: 1 }, { first: 5, last: 6 }], [{ first: 2, last: 3 }, { first: 6, last: 9 }]), [{ first: 0, last: 3 }, { first: 5, last: 9 }]);
    assert.deepEqual(withIndexes([{ first: 3, last: 4 }], [1, 2, 2, 8]), [{ first: 1, last: 4 }, { first: 8, last: 8 }]);
  });
  it('finds an index by binary search', () => {
    const iv = parseIndexes('1-3,7,10-20', 100);
    for (const [ix, want] of [[0, false], [1, true], [3, true], [4, false], [7, true], [9, false], [15, true], [21, false]] as const) assert.equal(hasIndex(iv, ix), want, String(ix));
    assert.equal(hasIndex(undefined, 1), false);
  });
  it('validates user-written indexes strictly, with kube\'s messages', () => {
    assert.deepEqual(validateIndexesFormat('0,2-4', 5), { total: 4 });
    assert.deepEqual(validateIndexesFormat('1-2-3', 5), { error: 'the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by \'-\'' });
    assert.deepEqual(validateIndexesFormat('a', 5), { error: 'cannot convert string to integer for index: "a"' });
    assert.deepEqual(validateIndexesFormat('5', 5), { error: 'too large index: "5"' });
    assert.deepEqual(validateIndexesFormat('3,1', 5), { error: 'non-increasing order, previous: 3, current: 1' });
  });
});
