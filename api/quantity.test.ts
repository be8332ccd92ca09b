import assert from 'node:assert/strict';
import { parseQuantity, cpuMillis, bytes, compareQuantities, validateQuantity, QuantityError, QUANTITY_FORMAT_MESSAGE } from './quantity.js';

describe('quantity', () => {
  it('parses decimal, binary and exponent suffixes', () => {
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('2'), 2);
    assert.equal(parseQuantity(2), 2);
    assert.equal(parseQuantity('1Gi'), 1024 ** 3);
    assert.equal(parseQuantity('1G'), 1e9);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity('1.5Ki'), 1536);
    assert.equal(parseQuantity('100k'), 100000);
    assert.equal(parseQuantity('+.5'), 0.5);
    assert.equal(parseQuantity('-1'), -1);
  });

  it('computes exact milli-cpu and bytes, rounding up', () => {
    assert.equal(cpuMillis('500m'), 500);
    assert.equal(cpuMillis('0.1'), 100);
    assert.equal(cpuMillis(0.1), 100);
    assert.equal(cpuMillis('1'), 1000);
    assert.equal(cpuMillis('1.0005'), 1001);
    assert.equal(cpuMillis('100u'), 1);
    assert.equal(bytes('1Gi'), 1073741824);
    assert.equal(bytes('128Mi'), 134217728);
    assert.equal(bytes('1.5'), 2);
    assert.equal(bytes('1e3'), 1000);
  });

  it('compares quantities exactly', () => {
    assert.equal(compareQuantities('1', '1000m'), 0);
    assert.equal(compareQuantities('1Gi', '1G'), 1);
    assert.equal(compareQuantities('100m', 0.2), -1);
  });

  it('rejects garbage with the Kubernetes message', () => {
    for (const bad of ['abc', '', '1Gb', '1 Gi', '1.2.3', 'Gi', '1e', '--1', ' 1']) {
      assert.throws(() => parseQuantity(bad), (e: unknown) => e instanceof QuantityError && e.message === QUANTITY_FORMAT_MESSAGE, bad);
      assert.deepEqual(validateQuantity(bad), [QUANTITY_FORMAT_MESSAGE], bad);
    }
    assert.throws(() => parseQuantity(Number.NaN), QuantityError);
    assert.deepEqual(validateQuantity(true), [QUANTITY_FORMAT_MESSAGE]);
    assert.deepEqual(validateQuantity('250m'), []);
    assert.throws(() => parseQuantity('abc'), QuantityError, 'garbage is not remembered as parsed');
  });

  it('parses a text again the same way, also after more distinct texts than it keeps', () => {
    assert.equal(cpuMillis('250m'), 250);
    for (let i = 0; i < 3000; i++) assert.equal(cpuMillis(`${i}m`), i);
    assert.equal(cpuMillis('250m'), 250);
    assert.equal(bytes('64Mi'), 67108864);
  });
});
