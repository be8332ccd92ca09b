import assert from 'node:assert/strict';
import { hasFastProperties } from '../test/support/v8-shape.js';
import { cachedForm, stripManagedFields } from './informer.js';
import type { ObjectLike } from './rest.js';

describe('stripManagedFields (the controllers\' and the scheduler\'s informer transform)', () => {
  // As an object arrives: parsed, with managedFields amid the other metadata fields.
  const parsed = (): ObjectLike =>
    JSON.parse('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","managedFields":[{"manager":"m","operation":"Update"}],"uid":"u","labels":{"a":"b"}}}') as ObjectLike;

  it('drops field ownership and keeps the rest', () => {
    const o = stripManagedFields(parsed());
    assert.deepEqual(o.metadata, { name: 'p', namespace: 'ns', uid: 'u', labels: { a: 'b' } });
  });

  it('leaves the metadata in V8 fast mode (a delete would turn it into a dictionary, per cached object)', () => {
    assert.ok(hasFastProperties(stripManagedFields(parsed()).metadata!));
  });

  it('cachedForm: the same object without field ownership, in fast mode', () => {
    const o = cachedForm(parsed());
    assert.deepEqual(o, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u', labels: { a: 'b' } } });
    assert.ok(hasFastProperties(o.metadata!));
  });
});
