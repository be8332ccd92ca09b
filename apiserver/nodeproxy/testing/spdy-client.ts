// The client side of SPDY/3.1 as kubectl writes it, for tests: header blocks compressed by Go's rules (one zlib stream
// with the SPDY dictionary, a sync flush per block), frames that carry no header block written by SpdyEncoder.
import { constants as zc, createDeflate } from 'node:zlib';
import { encodeHeaderBlock, SPDY_DICTIONARY, SpdyDecoder, SpdyEncoder, type SpdyFrame, type SpdyHeaders } from '../spdy.js';

export class GoSpdyClient {
  private readonly z = createDeflate({ dictionary: SPDY_DICTIONARY });
  private readonly compressed: Buffer[] = [];
  private readonly encoder = new SpdyEncoder();
  private readonly decoder = new SpdyDecoder();

  constructor() {
    this.z.on('data', (c: Buffer) => this.compressed.push(c));
  }

  headerBlock(headers: SpdyHeaders): Promise<Buffer> {
    return this.compress(encodeHeaderBlock(headers));
  }

  /** The next piece of this client's header compression stream, for any bytes (well-formed or not). */
  async compress(raw: Buffer): Promise<Buffer> {
    this.z.write(raw);
    await new Promise<void>((resolve) => this.z.flush(zc.Z_SYNC_FLUSH, () => resolve()));
    return Buffer.concat(this.compressed.splice(0));
  }

  /** SYN_STREAM: streamId(32) associatedId(32) priority(3 bits) slot(8) header block. */
  async synStream(streamId: number, headers: SpdyHeaders): Promise<Buffer> {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt32BE(streamId, 0);
    return this.encoder.encode({ type: 'control', controlType: 1, flags: 0, payload: Buffer.concat([fixed, await this.headerBlock(headers)]) });
  }

  /** A frame without a header block (data, rst_stream, ping, goaway, window_update). */
  frame(f: SpdyFrame): Buffer {
    return this.encoder.encode(f);
  }

  /** Frames the server sent, from bytes cut anywhere. */
  read(chunk: Buffer): SpdyFrame[] {
    return this.decoder.push(chunk);
  }
}
