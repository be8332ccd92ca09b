// The history checker finds each kind of anomaly, and passes a clean history.
import assert from 'node:assert/strict';
import { checkWatch, lostWrites, percentile, type Write } from './history.js';

const writes: Write[] = [
  { key: 'a', rv: 10n, value: 1 },
  { key: 'b', rv: 11n, value: 1 },
  { key: 'a', rv: 12n, value: 2 },
];

describe('chaos history checker', () => {
  it('passes a complete ordered history, and a slice of it that starts later', () => {
    assert.deepEqual(checkWatch('w', 0n, writes, writes, new Set()), []);
    assert.deepEqual(checkWatch('w', 10n, writes.slice(1), writes, new Set()), []);
  });

  it('finds gaps, duplicates, reordering, values nobody wrote', () => {
    const kinds = (events: Write[]): string[] => checkWatch('w', 0n, events, writes, new Set()).map((a) => a.kind);
    assert.deepEqual(kinds([writes[0]!, writes[2]!]), ['gap']);
    assert.deepEqual(kinds([writes[0]!, writes[0]!, writes[1]!, writes[2]!]), ['duplicate']);
    assert.deepEqual(kinds([writes[1]!, writes[0]!, writes[2]!]), ['out-of-order']);
    assert.deepEqual(kinds([...writes, { key: 'c', rv: 13n, value: 1 }]), ['unknown-write']);
    assert.deepEqual(kinds([writes[0]!, { key: 'b', rv: 11n, value: 7 }, writes[2]!]), ['wrong-value']);
    // A write that timed out at the writer may still have landed.
    assert.deepEqual(checkWatch('w', 0n, [...writes, { key: 'c', rv: 13n, value: 1 }], writes, new Set(['c'])), []);
  });

  it('counts an acknowledged write as lost when the final read is older or different', () => {
    assert.deepEqual(lostWrites(writes, new Map([['a', { key: 'a', rv: 12n, value: 2 }], ['b', { key: 'b', rv: 11n, value: 1 }]])), []);
    assert.equal(lostWrites(writes, new Map([['a', { key: 'a', rv: 10n, value: 1 }], ['b', { key: 'b', rv: 11n, value: 1 }]])).length, 1);
    assert.equal(lostWrites(writes, new Map([['a', { key: 'a', rv: 12n, value: 2 }]])).length, 1);
  });

  it('percentile by nearest rank', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([1, 2, 3, 4, 100], 99), 100);
    assert.equal(percentile([], 99), 0);
  });
});
