// A watch change's line as the chunked stream sends it: {"type":"T","object":<the object's JSON>}\n. The watch cache
// keeps each change's JSON inside the line of the change's own type (one buffer per change, not the JSON and a copy of
// it with the line around), so that every watcher it goes to writes that line without a copy.
import { exactBuffer } from '../../lib/exact-buffer.js';

const HEAD: Record<string, Buffer> = Object.fromEntries(['ADDED', 'MODIFIED', 'DELETED'].map((t) => [t, Buffer.from(`{"type":"${t}","object":`)]));
const END = Buffer.from('}\n');

/** The line of a change of this type around the JSON (its pieces), returned as the view of the JSON inside it. */
export function jsonInLine(type: string, json: readonly Uint8Array[] | string): Buffer {
  const head = HEAD[type];
  const parts = typeof json === 'string' ? [Buffer.from(json)] : json;
  if (!head) return exactBuffer(parts);
  const line = exactBuffer([head, ...parts, END]);
  return line.subarray(head.length, line.length - END.length);
}

/** The line of a change of this type: the one the JSON lies in when it was made so (jsonInLine), else a new one. */
export function watchLine(type: string, json: Buffer): { line: Buffer; made: boolean } {
  const head = HEAD[type]!;
  if (json.byteOffset === head.length && json.buffer.byteLength === head.length + json.length + END.length) {
    const line = Buffer.from(json.buffer, 0, json.buffer.byteLength);
    if (line.subarray(0, head.length).equals(head)) return { line, made: false };
  }
  return { line: exactBuffer([head, json, END]), made: true };
}
