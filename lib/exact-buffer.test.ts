import assert from 'node:assert/strict';
import { exactBuffer } from './exact-buffer.js';

describe('exactBuffer (kept bytes not on a slice of the shared pool)', () => {
  it('holds a string\'s UTF-8 bytes, or the pieces joined, in an ArrayBuffer of exactly their size', () => {
    const s = exactBuffer('{"a":"é"}');
    assert.equal(s.toString(), '{"a":"é"}');
    assert.equal(s.buffer.byteLength, Buffer.byteLength('{"a":"é"}'));
    const j = exactBuffer([Buffer.from('ab'), new Uint8Array([0x63]), Buffer.alloc(0), Buffer.from('d')]);
    assert.equal(j.toString(), 'abcd');
    assert.equal(j.byteOffset, 0);
    assert.equal(j.buffer.byteLength, 4);
  });

  it('joins strings and bytes given as pieces, multi-byte characters included', () => {
    const j = exactBuffer([Buffer.from('{"a":'), '"é€', '', Buffer.from('x'), '😀"}']);
    assert.equal(j.toString(), '{"a":"é€x😀"}');
    assert.equal(j.buffer.byteLength, Buffer.byteLength('{"a":"é€x😀"}'));
    assert.equal(j.byteOffset, 0);
  });

  it('is not a view of the pool, unlike Buffer.from of the same small string', () => {
    assert.ok(Buffer.from('small').buffer.byteLength > 5);
    assert.equal(exactBuffer('small').buffer.byteLength, 5);
  });
});
