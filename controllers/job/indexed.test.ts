import assert from 'node:assert/strict';
import { parseIndexes } from '../../api/indexes.js';
import type { Pod } from '../framework/types.js';
import { nextBackoffRecord, remainingBackoffMs } from './backoff.js';
import { duplicatedIndexPods, firstPendingIndexes, indexedGenerateName, replacementFailureCounts, succeededIndexes } from './indexed.js';
import type { Job } from './types.js';
import { COMPLETION_INDEX_ANNOTATION, INDEX_FAILURE_COUNT_ANNOTATION, JOB_TRACKING_FINALIZER } from './util.js';

const job = (spec: Partial<Job['spec']> = {}, status: Job['status'] = {}): Job => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'j' },
  spec: { completionMode: 'Indexed', completions: 10, template: { spec: { containers: [] } }, ...spec },
  status,
});
let n = 0;
const pod = (ix: number | undefined, phase = 'Running', extra: Record<string, string> = {}, finishedAt?: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `p${++n}`, uid: `u${n}`, finalizers: [JOB_TRACKING_FINALIZER], annotations: { ...(ix === undefined ? {} : { [COMPLETION_INDEX_ANNOTATION]: String(ix) }), ...extra } },
  spec: { containers: [] },
  status: { phase: phase as 'Running', ...(finishedAt ? { containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 1, finishedAt } } }] } : {}) },
});

describe('indexed jobs', () => {
  it('adds the indexes of uncounted succeeded pods to status.completedIndexes, within completions', () => {
    const r = succeededIndexes(job({}, { completedIndexes: '0-2' }), [pod(5, 'Succeeded'), pod(4, 'Succeeded'), pod(12, 'Succeeded'), pod(6, 'Failed'), pod(undefined, 'Succeeded')]);
    assert.deepEqual(r.prev, parseIndexes('0-2', 10));
    assert.deepEqual(r.now, parseIndexes('0-2,4,5', 10));
  });
  it('picks the first pending indexes around succeeded, failed and running ones', () => {
    const busy = [pod(1), pod(4)];
    assert.deepEqual(firstPendingIndexes(10, 4, parseIndexes('0,2', 10), parseIndexes('5', 10), busy), [3, 6, 7, 8]);
    assert.deepEqual(firstPendingIndexes(10, 20, parseIndexes('0-8', 10), undefined, []), [9]);
    assert.deepEqual(firstPendingIndexes(10, 0, [], undefined, []), []);
    // Bounded by count, not by completions: a huge Job costs nothing more.
    assert.deepEqual(firstPendingIndexes(1_000_000_000, 2, parseIndexes('0-499999999', 1_000_000_000), undefined, []), [500_000_000, 500_000_001]);
  });
  it('removes pods without an index or out of range, and all but one of a repeated index', () => {
    const a = pod(1);
    const b = pod(1);
    const c = pod(undefined);
    const d = pod(11);
    const e = pod(2);
    const { remove, keep } = duplicatedIndexPods(job(), [a, b, c, d, e]);
    assert.equal(remove.length, 3);
    assert.ok(remove.includes(c) && remove.includes(d));
    assert.deepEqual(keep.map(completionOf).sort(), ['1', '2']);
  });
  it('carries the failure count to the replacement of a failed pod', () => {
    assert.deepEqual(replacementFailureCounts(job({ backoffLimitPerIndex: 3 }), pod(1, 'Failed', { [INDEX_FAILURE_COUNT_ANNOTATION]: '1' })), { failed: 2, ignored: 0 });
    assert.deepEqual(replacementFailureCounts(job({ backoffLimitPerIndex: 3 }), undefined), { failed: 0, ignored: 0 });
    assert.deepEqual(replacementFailureCounts(job({ backoffLimitPerIndex: 3 }), pod(1, 'Failed', { [INDEX_FAILURE_COUNT_ANNOTATION]: 'junk' })), { failed: 1, ignored: 0 });
  });
  it('names index pods NAME-INDEX-, cut to leave room for the random suffix', () => {
    assert.equal(indexedGenerateName('web', 7), 'web-7-');
    const long = indexedGenerateName('x'.repeat(63), 12345);
    assert.equal(long.length, 58);
    assert.ok(long.endsWith('-12345-'));
  });
});

describe('pod failure backoff', () => {
  const base = { baseMs: 10_000, maxMs: 600_000 };
  it('doubles per consecutive failure from 10 s, capped at 10 min, counted from the last failure', () => {
    assert.equal(remainingBackoffMs(0, undefined, 0, base), 0);
    assert.equal(remainingBackoffMs(1, 1000, 1000, base), 10_000);
    assert.equal(remainingBackoffMs(3, 1000, 6000, base), 35_000);
    assert.equal(remainingBackoffMs(20, 0, 0, base), 600_000);
    assert.equal(remainingBackoffMs(1, 0, 20_000, base), 0);
  });
  it('resets on a success and counts only the failures after it', () => {
    const f1 = pod(undefined, 'Failed', {}, '2024-01-01T00:00:10Z');
    const s = pod(undefined, 'Succeeded', {}, '2024-01-01T00:00:20Z');
    const f2 = pod(undefined, 'Failed', {}, '2024-01-01T00:00:30Z');
    assert.deepEqual(nextBackoffRecord(undefined, [], [f1]), { failuresAfterLastSuccess: 1, lastFailureTime: Date.parse('2024-01-01T00:00:10Z') });
    assert.deepEqual(nextBackoffRecord({ failuresAfterLastSuccess: 4, lastFailureTime: 1 }, [s], [f1, f2]), { failuresAfterLastSuccess: 1, lastFailureTime: Date.parse('2024-01-01T00:00:30Z') });
    assert.deepEqual(nextBackoffRecord({ failuresAfterLastSuccess: 4, lastFailureTime: 1 }, [s], [f1]), { failuresAfterLastSuccess: 0 });
  });
});

function completionOf(p: Pod): string {
  return p.metadata.annotations?.[COMPLETION_INDEX_ANNOTATION] ?? '';
}
