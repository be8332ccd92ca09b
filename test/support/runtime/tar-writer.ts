// Test support: writes tar streams entry by entry, hostile ones included (names with "..", links anywhere, devices,
// PAX xattr records), which tar tools refuse to make.

export interface RawEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  /** SCHILY.xattr.NAME records. */
  xattrs?: Record<string, Buffer>;
}

const FLAGS = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, flag: string, size: number, e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number): void => {
    Buffer.from(s, 'utf8').copy(h, at, 0, len);
  };
  put(name, 0, 100);
  put(octal(e.mode ?? (flag === '5' ? 0o755 : 0o644), 8), 100, 8);
  put(octal(e.uid ?? 0, 8), 108, 8);
  put(octal(e.gid ?? 0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put(flag, 156, 1);
  put(e.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put(octal(e.devmajor ?? 0, 8), 329, 8);
  put(octal(e.devminor ?? 0, 8), 337, 8);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A whole uncompressed tar stream of `entries`, in order, with the two end blocks. */
export function tarOf(entries: RawEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    const records: Buffer[] = [];
    for (const [k, v] of Object.entries(e.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
    if (Buffer.byteLength(e.name) > 100) records.push(paxRecord('path', Buffer.from(e.name)));
    if (Buffer.byteLength(e.linkname ?? '') > 100) records.push(paxRecord('linkpath', Buffer.from(e.linkname ?? '')));
    if (records.length) {
      const pax = Buffer.concat(records);
      out.push(header('PaxHeader', 'x', pax.length, { name: 'PaxHeader' }), pax, pad(pax.length));
    }
    out.push(header(e.name.slice(0, 100), FLAGS[type], data.length, e), data, pad(data.length));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}
