import assert from 'node:assert/strict';
import { deepEqual } from './object.js';

describe('deepEqual', () => {
  it('compares JSON values structurally, fields set to undefined counting as absent', () => {
    assert.equal(deepEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }), true);
    assert.equal(deepEqual({ a: 1, b: undefined }, { a: 1 }), true);
    assert.equal(deepEqual({ a: 1 }, { a: 1, b: undefined }), true);
    assert.equal(deepEqual({ a: 1 }, { a: 1, b: 2 }), false);
    assert.equal(deepEqual({ a: 1, b: 2 }, { a: 1 }), false);
    assert.equal(deepEqual({ a: 1, b: 2 }, { a: 1, c: 2 }), false);
    assert.equal(deepEqual({ a: undefined, b: 1 }, { b: 1, c: undefined }), true);
    assert.equal(deepEqual({ a: null }, { a: undefined }), false);
    assert.equal(deepEqual([1, 2], [2, 1]), false);
    assert.equal(deepEqual([1, 2], [1, 2, 3]), false);
    assert.equal(deepEqual([], {}), false);
    assert.equal(deepEqual({}, []), false);
    assert.equal(deepEqual({ a: { b: { c: [1] } } }, { a: { b: { c: [2] } } }), false);
    assert.equal(deepEqual('1', 1), false);
    assert.equal(deepEqual(NaN, NaN), false);
  });

  it('reads own fields only', () => {
    const inherited = Object.create({ x: 1 }) as Record<string, unknown>;
    assert.equal(deepEqual(inherited, {}), true);
    assert.equal(deepEqual({}, inherited), true);
    assert.equal(deepEqual({ x: 1 }, inherited), false);
  });
});
