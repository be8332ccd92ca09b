// SPDY/3.1 framing, enough to serve kubectl's port-forward (kubectl-protocol.md §13): frames, and the header blocks
// zlib-compressed with the SPDY/3 dictionary, one compression context per direction for the whole connection.
import { constants as zc, inflateRawSync } from 'node:zlib';

export type SpdyHeaders = Record<string, string>;

export type SpdyFrame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedId: number; priority: number; fin: boolean; unidirectional: boolean; headers: SpdyHeaders }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'window_update'; streamId: number; delta: number }
  /** SETTINGS and any control type not listed above, kept raw. */
  | { type: 'control'; controlType: number; flags: number; payload: Buffer };

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const RST_PROTOCOL_ERROR = 1;
export const RST_INVALID_STREAM = 2;
export const RST_CANCEL = 5;
export const GOAWAY_OK = 0;
export const GOAWAY_PROTOCOL_ERROR = 1;

const VERSION = 3;
const CONTROL = { syn_stream: 1, syn_reply: 2, rst_stream: 3, settings: 4, ping: 6, goaway: 7, headers: 8, window_update: 9 } as const;
const MAX_LENGTH = 0xffffff;
const WINDOW = 32 * 1024;

/** The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): 1423 bytes, adler32 0xe3c6a7c2. */
export const SPDY_DICTIONARY: Buffer = (() => {
  const words = [
    'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language', 'accept-ranges',
    'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding', 'content-language', 'content-length',
    'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag', 'expect', 'expires', 'from', 'host', 'if-match',
    'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'pragma',
    'proxy-authenticate', 'proxy-authorization', 'range', 'referer', 'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade',
    'user-agent', 'vary', 'via', 'warning', 'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public',
    'set-cookie', 'keep-alive', 'origin',
  ];
  const tail =
    '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
    '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found' +
    '500 Internal Server Error501 Not Implemented503 Service Unavailable' +
    'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
    'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,' +
    'publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';
  return Buffer.concat([...words.map((w) => lengthPrefixed(Buffer.from(w, 'latin1'))), Buffer.from(tail, 'latin1')]);
})();

export class SpdyError extends Error {}

function lengthPrefixed(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** Uncompressed name/value block: count(32), then len(32) name len(32) value; names lowercase, values NUL-joined. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  return Buffer.concat([count, ...entries.flatMap(([k, v]) => [lengthPrefixed(Buffer.from(k.toLowerCase())), lengthPrefixed(Buffer.from(v))])]);
}

export function decodeHeaderBlock(b: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = {};
  let off = 0;
  const take = (): string => {
    if (off + 4 > b.length) throw new SpdyError('header block truncated');
    const len = b.readUInt32BE(off);
    if (off + 4 + len > b.length) throw new SpdyError('header block truncated');
    const s = b.subarray(off + 4, off + 4 + len).toString();
    off += 4 + len;
    return s;
  };
  if (b.length < 4) throw new SpdyError('header block truncated');
  const count = b.readUInt32BE(0);
  off = 4;
  for (let i = 0; i < count; i++) {
    const name = take().toLowerCase();
    headers[name] = take();
  }
  return headers;
}

/**
 * Inflates one direction's header blocks. Each block ends with a sync flush, so it holds whole deflate blocks; a raw
 * inflate preset with the last 32 KiB of history (dictionary + all output so far) continues the peer's stream.
 */
export class HeaderDecompressor {
  private history: Buffer = SPDY_DICTIONARY;
  private first = true;

  inflate(compressed: Buffer): Buffer {
    let raw = compressed;
    if (this.first) {
      if (raw.length < 2 || (raw.readUInt16BE(0) % 31 !== 0) || (raw[0]! & 0x0f) !== 8) throw new SpdyError('header block: bad zlib header');
      raw = raw.subarray(raw[1]! & 0x20 ? 6 : 2);
      this.first = false;
    }
    let out: Buffer;
    try {
      out = inflateRawSync(raw, { dictionary: this.history, finishFlush: zc.Z_SYNC_FLUSH });
    } catch (err) {
      throw new SpdyError(`header block: ${(err as Error).message}`);
    }
    this.history = Buffer.concat([this.history, out]).subarray(-WINDOW);
    return out;
  }
}

/** Deflates header blocks as stored blocks, each followed by the sync-flush marker that Go's flate reader needs. */
export class HeaderCompressor {
  private first = true;

  deflate(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (this.first) {
      parts.push(Buffer.from([0x78, 0x01]));
      this.first = false;
    }
    let off = 0;
    do {
      const piece = block.subarray(off, off + 0xffff);
      const head = Buffer.alloc(5); // BFINAL=0 BTYPE=00 (stored), LEN, NLEN
      head.writeUInt16LE(piece.length, 1);
      head.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(head, piece);
      off += piece.length;
    } while (off < block.length);
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

function control(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_LENGTH) throw new SpdyError('frame too long');
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | VERSION, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([h, payload]);
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

/** Writes frames of one connection (it owns the outgoing compression context). */
export class SpdyEncoder {
  private readonly headers = new HeaderCompressor();

  encode(f: SpdyFrame): Buffer {
    switch (f.type) {
      case 'data': {
        if (f.data.length > MAX_LENGTH) throw new SpdyError('data frame too long');
        const h = Buffer.alloc(8);
        h.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        h.writeUInt32BE(((f.fin ? FLAG_FIN : 0) << 24) | f.data.length, 4);
        return Buffer.concat([h, f.data]);
      }
      case 'syn_stream': {
        const fixed = Buffer.concat([u32s(f.streamId & 0x7fffffff, f.associatedId & 0x7fffffff), Buffer.from([(f.priority & 7) << 5, 0])]);
        const flags = (f.fin ? FLAG_FIN : 0) | (f.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
        return control(CONTROL.syn_stream, flags, Buffer.concat([fixed, this.headers.deflate(encodeHeaderBlock(f.headers))]));
      }
      case 'syn_reply':
        return control(CONTROL.syn_reply, f.fin ? FLAG_FIN : 0, Buffer.concat([u32s(f.streamId & 0x7fffffff), this.headers.deflate(encodeHeaderBlock(f.headers))]));
      case 'headers':
        return control(CONTROL.headers, f.fin ? FLAG_FIN : 0, Buffer.concat([u32s(f.streamId & 0x7fffffff), this.headers.deflate(encodeHeaderBlock(f.headers))]));
      case 'rst_stream':
        return control(CONTROL.rst_stream, 0, u32s(f.streamId & 0x7fffffff, f.status));
      case 'ping':
        return control(CONTROL.ping, 0, u32s(f.id));
      case 'goaway':
        return control(CONTROL.goaway, 0, u32s(f.lastGoodStreamId & 0x7fffffff, f.status));
      case 'window_update':
        return control(CONTROL.window_update, 0, u32s(f.streamId & 0x7fffffff, f.delta & 0x7fffffff));
      case 'control':
        return control(f.controlType, f.flags, f.payload);
    }
  }
}

/** Reassembles frames from a byte stream cut anywhere (it owns the incoming decompression context). */
export class SpdyDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private readonly headers = new HeaderDecompressor();

  /** Adds bytes and returns the frames they complete. Throws SpdyError on a malformed stream. */
  push(chunk: Buffer): SpdyFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: SpdyFrame[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4) & MAX_LENGTH;
      if (this.buf.length < 8 + len) break;
      const head = this.buf.subarray(0, 8);
      const payload = this.buf.subarray(8, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      frames.push(this.frame(head, payload));
    }
    return frames;
  }

  private frame(head: Buffer, payload: Buffer): SpdyFrame {
    const flags = head[4]!;
    if (!(head[0]! & 0x80)) return { type: 'data', streamId: head.readUInt32BE(0) & 0x7fffffff, fin: (flags & FLAG_FIN) !== 0, data: Buffer.from(payload) };
    const version = head.readUInt16BE(0) & 0x7fff;
    if (version !== VERSION) throw new SpdyError(`unsupported SPDY version ${version}`);
    const type = head.readUInt16BE(2);
    const need = (n: number): void => {
      if (payload.length < n) throw new SpdyError(`control frame ${type} too short`);
    };
    const fin = (flags & FLAG_FIN) !== 0;
    switch (type) {
      case CONTROL.syn_stream:
        need(10);
        return {
          type: 'syn_stream',
          streamId: payload.readUInt32BE(0) & 0x7fffffff,
          associatedId: payload.readUInt32BE(4) & 0x7fffffff,
          priority: payload[8]! >> 5,
          fin,
          unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
          headers: decodeHeaderBlock(this.headers.inflate(payload.subarray(10))),
        };
      case CONTROL.syn_reply:
      case CONTROL.headers:
        need(4);
        return {
          type: type === CONTROL.syn_reply ? 'syn_reply' : 'headers',
          streamId: payload.readUInt32BE(0) & 0x7fffffff,
          fin,
          headers: decodeHeaderBlock(this.headers.inflate(payload.subarray(4))),
        };
      case CONTROL.rst_stream:
        need(8);
        return { type: 'rst_stream', streamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
      case CONTROL.ping:
        need(4);
        return { type: 'ping', id: payload.readUInt32BE(0) };
      case CONTROL.goaway:
        need(4);
        return { type: 'goaway', lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.length >= 8 ? payload.readUInt32BE(4) : GOAWAY_OK };
      case CONTROL.window_update:
        need(8);
        return { type: 'window_update', streamId: payload.readUInt32BE(0) & 0x7fffffff, delta: payload.readUInt32BE(4) & 0x7fffffff };
      default:
        return { type: 'control', controlType: type, flags, payload: Buffer.from(payload) };
    }
  }
}
