import { strict as assert } from 'node:assert';
import { Deadlines } from './deadlines.js';

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
});
