import { strict as assert } from 'node:assert';
import { ApiError } from '../../api/errors.js';
import { Deadlines, timeoutParam } from './deadlines.js';

describe('Deadlines', () => {
  it('expires due requests in order, and never one that was deleted or is not yet due', () => {
    let now = 1000;
    const expired: string[] = [];
    const d = new Deadlines<string>(100, (r) => expired.push(r), () => now, 0);
    d.add('a');
    now += 10;
    d.add('b');
    d.add('c');
    now += 10;
    d.add('d');
    d.delete('c');
    d.check();
    assert.deepEqual(expired, []);
    now = 1110;
    d.check();
    assert.deepEqual(expired, ['a', 'b']);
    assert.equal(d.size, 1);
    now = 1200;
    d.check();
    assert.deepEqual(expired, ['a', 'b', 'd']);
    assert.equal(d.size, 0);
    d.close();
  });

  it('expires a request with its own shorter timeout at its own time; a longer one keeps the server\'s', () => {
    let now = 0;
    const expired: string[] = [];
    const d = new Deadlines<string>(60_000, (r) => expired.push(r), () => now, 0);
    d.add('default');
    d.add('short', 5_000);
    d.add('longer', 120_000);
    d.add('zero', 0);
    now = 5_000;
    d.check();
    assert.deepEqual(expired, ['short']);
    now = 60_000;
    d.check();
    assert.deepEqual(expired, ['short', 'default', 'longer', 'zero']);
    assert.equal(d.size, 0);
    d.close();
  });
});

describe('timeoutParam (kube\'s parseTimeout)', () => {
  it('reads the first timeout as a Go duration; absent or empty is none; a bad one is 400 with kube\'s message', () => {
    assert.equal(timeoutParam('/api?timeout=32s'), 32_000);
    assert.equal(timeoutParam('/api/v1/pods?limit=1&timeout=1m30s&timeout=1s'), 90_000);
    assert.equal(timeoutParam('/api/v1/pods?timeoutSeconds=5'), undefined);
    assert.equal(timeoutParam('/api/v1/pods?timeout='), undefined);
    assert.equal(timeoutParam('/api/v1/pods?timeout=%2B2s'), 2_000);
    assert.throws(
      () => timeoutParam('/api/v1/pods?timeout=abc'),
      (e: unknown) => e instanceof ApiError && e.code === 400 && e.message === 'invalid timeout specified in the request URL - time: invalid duration "abc"',
    );
  });
});
