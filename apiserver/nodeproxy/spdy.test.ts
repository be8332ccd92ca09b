import { strict as assert } from 'node:assert';
import { constants as zc, deflateSync, inflateSync } from 'node:zlib';
import { decodeHeaderBlock, encodeHeaderBlock, SPDY_DICTIONARY, SpdyDecoder, SpdyEncoder, SpdyError, type SpdyFrame, type SpdyHeaders } from './spdy.js';
import { GoSpdyClient } from './testing/spdy-client.js';

describe('spdy framing', () => {
  it('has the SPDY/3 dictionary (1423 bytes, adler32 0xe3c6a7c2 as zlib names it in FDICT)', () => {
    assert.equal(SPDY_DICTIONARY.length, 1423);
    const withDict = deflateSync(Buffer.from('x'), { dictionary: SPDY_DICTIONARY });
    assert.equal(withDict[1]! & 0x20, 0x20);
    assert.equal(withDict.readUInt32BE(2), 0xe3c6a7c2);
  });

  it('round-trips every frame type through encoder and decoder, fed one byte at a time', () => {
    const frames: SpdyFrame[] = [
      { type: 'syn_stream', streamId: 1, associatedId: 0, priority: 3, fin: false, unidirectional: false, headers: { streamtype: 'error', port: '8080', requestid: '0' } },
      { type: 'syn_stream', streamId: 3, associatedId: 1, priority: 0, fin: true, unidirectional: true, headers: { streamtype: 'data', port: '8080', requestid: '0' } },
      { type: 'syn_reply', streamId: 1, fin: false, headers: {} },
      { type: 'syn_reply', streamId: 3, fin: true, headers: { status: '200 OK', multi: 'a\0b' } },
      { type: 'headers', streamId: 3, fin: false, headers: { trailer: 'x' } },
      { type: 'data', streamId: 3, fin: false, data: Buffer.from('GET / HTTP/1.1\r\n\r\n') },
      { type: 'data', streamId: 1, fin: true, data: Buffer.alloc(0) },
      { type: 'rst_stream', streamId: 3, status: 5 },
      { type: 'ping', id: 0xfffffffe },
      { type: 'goaway', lastGoodStreamId: 7, status: 1 },
      { type: 'window_update', streamId: 3, delta: 65536 },
      { type: 'control', controlType: 4, flags: 1, payload: Buffer.from([0, 0, 0, 0]) }, // SETTINGS, kept raw
    ];
    const enc = new SpdyEncoder();
    const wire = Buffer.concat(frames.map((f) => enc.encode(f)));
    const dec = new SpdyDecoder();
    const got: SpdyFrame[] = [];
    for (let i = 0; i < wire.length; i++) got.push(...dec.push(wire.subarray(i, i + 1)));
    assert.deepEqual(got, frames);
  });

  it('reads data frames and control frames at their bit positions', () => {
    const enc = new SpdyEncoder();
    assert.deepEqual([...enc.encode({ type: 'data', streamId: 5, fin: true, data: Buffer.from('hi') })], [0, 0, 0, 5, 1, 0, 0, 2, 0x68, 0x69]);
    assert.deepEqual([...enc.encode({ type: 'rst_stream', streamId: 3, status: 5 })], [0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 5]);
    assert.deepEqual([...enc.encode({ type: 'ping', id: 1 })], [0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
  });

  it('inflates header blocks compressed by a Go-style client, sharing one zlib context across frames', async () => {
    const client = new GoSpdyClient();
    const dec = new SpdyDecoder();
    const headers = (i: number): SpdyHeaders => ({ streamtype: i % 2 ? 'data' : 'error', port: '8080', requestid: String(i >> 1) });
    // Many blocks, so that later ones refer back to earlier output as well as to the dictionary.
    const wire = Buffer.concat(await Promise.all(Array.from({ length: 200 }, (_, i) => client.synStream(2 * i + 1, headers(i)))));
    // Cut anywhere, in uneven pieces.
    const got: SpdyFrame[] = [];
    for (let off = 0, n = 1; off < wire.length; off += n, n = (n * 7) % 23 + 1) got.push(...dec.push(wire.subarray(off, off + n)));
    assert.equal(got.length, 200);
    got.forEach((f, i) => {
      assert.equal(f.type, 'syn_stream');
      if (f.type === 'syn_stream') assert.deepEqual(f.headers, headers(i));
    });
  });

  it('compresses header blocks that a standard zlib reader with the dictionary inflates, each ending in a sync flush', () => {
    const enc = new SpdyEncoder();
    const sets: SpdyHeaders[] = [{}, { a: 'b' }, { streamtype: 'data', port: '80' }];
    const blocks = sets.map((h) => enc.encode({ type: 'syn_reply', streamId: 1, fin: false, headers: h }).subarray(12));
    assert.deepEqual([...blocks[0]!.subarray(0, 2)], [0x78, 0x01]);
    for (const b of blocks) assert.deepEqual([...b.subarray(-5)], [0, 0, 0, 0xff, 0xff]);
    const plain = inflateSync(Buffer.concat(blocks), { dictionary: SPDY_DICTIONARY, finishFlush: zc.Z_SYNC_FLUSH });
    const expected = Buffer.concat(sets.map((h) => encodeHeaderBlock(h)));
    assert.deepEqual(plain, expected);
    assert.deepEqual(decodeHeaderBlock(encodeHeaderBlock({ Port: '80' })), { port: '80' });
  });

  it('refuses malformed input with SpdyError', async () => {
    const enc = new SpdyEncoder();
    const v2 = enc.encode({ type: 'ping', id: 1 });
    v2.writeUInt16BE(0x8002, 0);
    assert.throws(() => new SpdyDecoder().push(v2), SpdyError);
    // A header block that is not zlib at all.
    const junk = Buffer.concat([Buffer.alloc(10), Buffer.from('not zlib')]);
    assert.throws(() => new SpdyDecoder().push(enc.encode({ type: 'control', controlType: 1, flags: 0, payload: junk })), SpdyError);
    // Well compressed, but the block claims two headers and holds one.
    const liar = await new GoSpdyClient().compress(Buffer.from([0, 0, 0, 2, 0, 0, 0, 1, 0x61, 0, 0, 0, 1, 0x62]));
    const synReply = enc.encode({ type: 'control', controlType: 2, flags: 0, payload: Buffer.concat([Buffer.alloc(4), liar]) });
    assert.throws(() => new SpdyDecoder().push(synReply), /truncated/);
    // A control frame too short for its type.
    assert.throws(() => new SpdyDecoder().push(enc.encode({ type: 'control', controlType: 3, flags: 0, payload: Buffer.alloc(4) })), /too short/);
  });
});
