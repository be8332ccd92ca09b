// Bytes that are kept (the watch cache's changes, stored values) in a buffer of their own, exactly their size: below
// 4 KB Buffer.from() and Buffer.concat() slice Node's shared 8 KB pool, and one kept slice keeps its whole slab alive
// (measured in bench:density: 1,747 cached change JSONs of ~2.7 KB holding 14.3 MB of slabs).

/** A string's UTF-8 bytes, or the pieces joined, in an ArrayBuffer of their exact size. */
export function exactBuffer(data: string | readonly Uint8Array[]): Buffer {
  if (typeof data === 'string') {
    const out = Buffer.allocUnsafeSlow(Buffer.byteLength(data));
    out.write(data);
    return out;
  }
  let size = 0;
  for (const p of data) size += p.byteLength;
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const p of data) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
