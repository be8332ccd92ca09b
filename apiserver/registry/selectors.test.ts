import { strict as assert } from 'node:assert';
import { ApiError } from '../../api/errors.js';
import { checkFieldsSupported, labelMatcher, matchFields, parseFieldSelector } from './selectors.js';

describe('selectors', () => {
  it('matches label selectors and maps parse errors to 400', () => {
    const m = labelMatcher('app=web,tier in (a,b),!canary');
    assert.ok(m?.({ app: 'web', tier: 'a' }));
    assert.ok(!m?.({ app: 'web', tier: 'c' }));
    assert.ok(!m?.({ app: 'web', tier: 'a', canary: 'y' }));
    assert.equal(labelMatcher(''), undefined);
    assert.throws(() => labelMatcher('a in ('), (e: unknown) => e instanceof ApiError && e.code === 400);
  });

  it('parses and matches field selectors, with escapes and !=', () => {
    const reqs = parseFieldSelector('metadata.name=a\\,b,status.phase!=Running');
    assert.deepEqual(reqs, [
      { field: 'metadata.name', op: '=', value: 'a,b' },
      { field: 'status.phase', op: '!=', value: 'Running' },
    ]);
    assert.ok(matchFields(reqs, { 'metadata.name': 'a,b', 'status.phase': 'Pending' }));
    assert.ok(!matchFields(reqs, { 'metadata.name': 'a,b', 'status.phase': 'Running' }));
    assert.throws(() => parseFieldSelector('nonsense'), /invalid selector/);
    assert.throws(() => checkFieldsSupported(reqs, new Set(['metadata.name'])), /field label not supported: status.phase/);
  });
});
