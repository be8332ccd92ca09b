import assert from 'node:assert/strict';
import { jsonInLine, watchLine } from './watch-line.js';

describe('watch lines (a cached change\'s JSON kept inside its line)', () => {
  it('jsonInLine gives the JSON, lying in a buffer that is exactly its line', () => {
    const json = jsonInLine('MODIFIED', [Buffer.from('{"a":'), Buffer.from('1}')]);
    assert.equal(json.toString(), '{"a":1}');
    assert.equal(Buffer.from(json.buffer).toString(), '{"type":"MODIFIED","object":{"a":1}}\n');
    assert.equal(jsonInLine('ADDED', '{"b":2}').toString(), '{"b":2}');
  });

  it('watchLine of the same type is that line, not a copy; of another type, or of other JSON, a new line', () => {
    const json = jsonInLine('ADDED', '{"a":1}');
    const own = watchLine('ADDED', json);
    assert.equal(own.made, false);
    assert.equal(own.line.buffer, json.buffer);
    assert.equal(own.line.toString(), '{"type":"ADDED","object":{"a":1}}\n');
    const other = watchLine('DELETED', json);
    assert.equal(other.made, true);
    assert.equal(other.line.toString(), '{"type":"DELETED","object":{"a":1}}\n');
    const plain = watchLine('ADDED', Buffer.from('{"a":1}'));
    assert.equal(plain.made, true);
    assert.equal(plain.line.toString(), '{"type":"ADDED","object":{"a":1}}\n');
  });
});
