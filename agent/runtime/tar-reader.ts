// A streaming tar reader (ustar, GNU long names, PAX records with binary values) for image layers: node-tar's parser
// drops SCHILY.xattr records and cuts values at a NUL byte, so file capabilities (security.capability) would be lost.
import { RuntimeError } from '../cri/errors.js';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** The name as the archive has it (PAX path, GNU long name or ustar prefix/name). */
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (PAX records may carry fractions). */
  mtime: number;
  atime: number | undefined;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* PAX records: attribute name -> raw value. */
  xattrs: Map<string, Buffer>;
}

const BLOCK = 512;
/** PAX and GNU long-name records above this are refused (Go's archive/tar caps them at 1 MiB too). */
const MAX_SPECIAL = 1024 * 1024;

const TYPES: Record<string, TarEntryType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

export class TarFormatError extends RuntimeError {
  constructor(message: string) {
    super('FailedPrecondition', `invalid layer archive: ${message}`, false);
  }
}

/** Bytes from an async iterable, taken in exact amounts; every chunk passes `onChunk` once (a digest). */
class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;

  constructor(
    source: AsyncIterable<Buffer>,
    private readonly onChunk: (b: Buffer) => void,
  ) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    this.onChunk(chunk);
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    return true;
  }

  /** Exactly n bytes, or fewer at the end of the stream. */
  async take(n: number): Promise<Buffer> {
    while (this.buf.length < n && (await this.more()));
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** `body.left` bytes as they arrive (no copy into one buffer); body.left counts down as they are taken. */
  async *chunks(body: { left: number }): AsyncGenerator<Buffer> {
    while (body.left > 0) {
      if (!this.buf.length && !(await this.more())) throw new TarFormatError('archive ends inside an entry');
      const part = this.buf.subarray(0, Math.min(body.left, this.buf.length));
      this.buf = this.buf.subarray(part.length);
      body.left -= part.length;
      yield part;
    }
  }

  async skip(n: number): Promise<void> {
    const body = { left: n };
    for await (const _ of this.chunks(body));
  }

  /** Reads what is left (the digest covers the whole stream, padding after the end blocks included). */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.more()) this.buf = Buffer.alloc(0);
  }
}

/** The text of a NUL-terminated field; a name that is not UTF-8 would be written under another name, so it is refused. */
function cstring(b: Buffer): string {
  const nul = b.indexOf(0);
  const raw = nul < 0 ? b : b.subarray(0, nul);
  const text = raw.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(raw)) throw new TarFormatError(`entry name is not UTF-8: ${JSON.stringify(text)}`);
  return text;
}

/** An octal field, or a base-256 one (first byte with the high bit set), as GNU tar writes large values. */
function numeric(b: Buffer, what: string): number {
  if (b.length && (b[0]! & 0x80) !== 0) {
    if (b[0] === 0xff) throw new TarFormatError(`negative ${what}`);
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) {
      v = v * 256 + b[i]!;
      if (!Number.isSafeInteger(v)) throw new TarFormatError(`${what} too large`);
    }
    return v;
  }
  const s = cstring(b).trim();
  if (!s) return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`${what} is not an octal number: ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const want = numeric(h.subarray(148, 156), 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

/** PAX records ("LEN key=value\n"), values kept as bytes. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    const len = space < 0 ? NaN : Number(data.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length || data[pos + len - 1] !== 0x0a) throw new TarFormatError('malformed PAX record');
    const rec = data.subarray(space + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('malformed PAX record');
    out.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1));
    pos += len;
  }
  return out;
}

interface Pending {
  pax: Map<string, Buffer>;
  longName?: Buffer;
  longLink?: Buffer;
}

async function special(src: ByteSource, size: number, what: string): Promise<Buffer> {
  if (size > MAX_SPECIAL) throw new TarFormatError(`${what} of ${size} bytes (at most ${MAX_SPECIAL})`);
  const data = await src.take(size);
  if (data.length < size) throw new TarFormatError('archive ends inside an entry');
  await src.skip((BLOCK - (size % BLOCK)) % BLOCK);
  return Buffer.from(data);
}

function entryOf(h: Buffer, p: Pending): TarEntry {
  const flag = String.fromCharCode(h[156]!);
  const type = TYPES[flag];
  if (!type) throw new TarFormatError(`unsupported entry type ${JSON.stringify(flag)}`);
  const ustar = h.subarray(257, 263).toString('latin1') === 'ustar\0';
  const pax = p.pax;
  for (const k of pax.keys()) if (k.startsWith('GNU.sparse')) throw new TarFormatError('sparse files are not supported');
  const rawName = pax.get('path') ?? p.longName;
  let name = cstring(rawName ?? h.subarray(0, 100));
  const prefix = ustar ? cstring(h.subarray(345, 500)) : '';
  if (!rawName && prefix) name = `${prefix}/${name}`;
  const linkname = cstring(pax.get('linkpath') ?? p.longLink ?? h.subarray(157, 257));
  const num = (key: string, start: number, end: number): number => {
    const v = pax.get(key);
    if (v === undefined) return numeric(h.subarray(start, end), key);
    const n = Number(v.toString('latin1'));
    if (!Number.isFinite(n) || n < 0) throw new TarFormatError(`PAX ${key} is not a number`);
    return n;
  };
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
  const atime = pax.get('atime');
  return {
    name,
    type,
    mode: numeric(h.subarray(100, 108), 'mode') & 0o7777,
    uid: num('uid', 108, 116),
    gid: num('gid', 116, 124),
    size: type === 'file' ? num('size', 124, 136) : 0,
    mtime: num('mtime', 136, 148),
    atime: atime === undefined ? undefined : Number(atime.toString('latin1')),
    linkname,
    devmajor: type === 'char' || type === 'block' ? numeric(h.subarray(329, 337), 'devmajor') : 0,
    devminor: type === 'char' || type === 'block' ? numeric(h.subarray(337, 345), 'devminor') : 0,
    xattrs,
  };
}

/**
 * The entries of a tar stream, in order. `onEntry` gets each entry with its data (regular files only) and must
 * consume the data before it returns. `onChunk` sees every byte of the stream, the padding after the end included.
 */
export async function readTar(
  source: AsyncIterable<Buffer>,
  onChunk: (b: Buffer) => void,
  onEntry: (e: TarEntry, data: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const src = new ByteSource(source, onChunk);
  let pending: Pending = { pax: new Map() };
  for (;;) {
    const h = await src.take(BLOCK);
    if (h.length === 0) break;
    if (h.length < BLOCK) throw new TarFormatError('archive ends inside a header');
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) throw new TarFormatError('header checksum mismatch');
    const flag = String.fromCharCode(h[156]!);
    const size = numeric(h.subarray(124, 136), 'size');
    if (flag === 'x') {
      for (const [k, v] of parsePax(await special(src, size, 'PAX header'))) pending.pax.set(k, v);
      continue;
    }
    if (flag === 'g') {
      // Global PAX headers carry nothing containerd applies either (it ignores them).
      await special(src, size, 'global PAX header');
      continue;
    }
    if (flag === 'L' || flag === 'K') {
      const data = await special(src, size, 'GNU long name');
      if (flag === 'L') pending.longName = data;
      else pending.longLink = data;
      continue;
    }
    const entry = entryOf(h, pending);
    pending = { pax: new Map() };
    // Links, directories and devices are header-only whatever their size field says (as Go's archive/tar reads them).
    const dataSize = entry.type === 'file' ? entry.size : 0;
    const body = { left: dataSize };
    const data = entry.type === 'file' ? src.chunks(body) : (async function* () {})();
    await onEntry(entry, data);
    // Whatever the handler left unread (a directory's size field, an entry it skipped) is passed over.
    await src.skip(body.left);
    await src.skip((BLOCK - (dataSize % BLOCK)) % BLOCK);
  }
  await src.drain();
}
