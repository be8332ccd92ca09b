// Bytes that are kept (the watch cache's changes, stored values) in a buffer of their own, exactly their size: below
// 4 KB Buffer.from() and Buffer.concat() slice Node's shared 8 KB pool, and one kept slice keeps its whole slab alive
// (measured in bench:density: 1,747 cached change JSONs of ~2.7 KB holding 14.3 MB of slabs).

/**
 * A string's UTF-8 bytes, or the pieces joined (bytes or strings), in an ArrayBuffer of their exact size. Strings given
 * as pieces are written one after another: joined first, V8 would flatten the joined string into a copy of its own.
 */
export function exactBuffer(data: string | readonly (Uint8Array | string)[]): Buffer {
  if (typeof data === 'string') {
    const out = Buffer.allocUnsafeSlow(Buffer.byteLength(data));
    out.write(data);
    return out;
  }
  let size = 0;
  for (const p of data) size += typeof p === 'string' ? Buffer.byteLength(p) : p.byteLength;
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const p of data) at += typeof p === 'string' ? out.write(p, at) : (out.set(p, at), p.byteLength);
  return out;
}
