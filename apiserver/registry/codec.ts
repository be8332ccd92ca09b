// The stored form of one resource type's objects, and the JSON answers made from it. Stored bytes are apiVersion,
// kind and metadata (without resourceVersion) first, then the rest: the fixed head puts metadata's '{' at a known
// offset, so that the JSON of an object at a revision is its stored bytes with a resourceVersion spliced in. A write's
// answer is not serialized twice, a plain get or list is not parsed, and the decode of this server's own writes (the
// embedded backend hands their very bytes back in watch events) costs no parse either.
import { errors } from '../../api/errors.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import { exactBuffer } from '../../lib/exact-buffer.js';
import type { KeyValue } from '../storage/interface.js';
import { convertStored } from './conversion.js';
import type { Obj } from './object.js';

/** A stored object's bytes and the offset just inside its metadata's '{'. */
interface Encoded {
  bytes: Buffer;
  meta: number;
}

/**
 * How a resource's stored bytes differ from its JSON (encryption at rest, apiserver/encryption): applied to every value
 * written and read, with the storage key (AES-GCM authenticates it).
 */
export interface ValueTransformer {
  toStorage(plain: Uint8Array, key: string): Uint8Array;
  /** Throws when the data cannot be read (a key missing from the configuration, data that does not authenticate). */
  fromStorage(data: Uint8Array, key: string): Uint8Array;
  /** Whether data was written otherwise than a write would now (an older key): an update then rewrites it. */
  stale(data: Uint8Array): boolean;
}

/** A list item: stored bytes (with the object when a selector had to decode it), or an object from the cache. */
export type ListItem = { kv: KeyValue; obj?: Obj } | { kv?: undefined; obj: Obj };

const RV_KEY = Buffer.from('"resourceVersion"');
const COMMA = Buffer.from(',');
const LIST_END = Buffer.from(']}');

/** The encoded object with its resourceVersion spliced in, as three pieces (no copy of the object's bytes). */
function resourceVersionParts(enc: Encoded, rv: string): Buffer[] {
  const field = `"resourceVersion":${JSON.stringify(rv)}${enc.bytes[enc.meta] === 0x7d ? '' : ','}`;
  return [enc.bytes.subarray(0, enc.meta), Buffer.from(field), enc.bytes.subarray(enc.meta)];
}

export class Codec {
  readonly apiVersion: string;
  /** The start of every stored object, up to metadata's '{'. */
  private readonly head: string;
  private readonly headBytes: Buffer;
  /** Objects this server wrote, by the very bytes it stored (see decode). */
  private readonly written = new WeakMap<Uint8Array, Obj>();
  /** The encoding of each object a write returned (see json()). */
  private readonly encodings = new WeakMap<Obj, Encoded>();

  constructor(
    private readonly info: ResourceInfo,
    private readonly transformer?: ValueTransformer,
  ) {
    this.apiVersion = apiVersionOf(info);
    this.head = `{"apiVersion":${JSON.stringify(this.apiVersion)},"kind":${JSON.stringify(info.kind)},"metadata":`;
    this.headBytes = Buffer.from(this.head);
  }

  decode(kv: KeyValue, revision = kv.modRevision): Obj {
    const mine = revision === kv.modRevision ? this.written.get(kv.value) : undefined;
    // Shared with the write's caller, which only serializes it; the revision check keeps a delete's event (old bytes
    // at a new revision) from relabelling it.
    if (mine && (mine.metadata.resourceVersion === undefined || mine.metadata.resourceVersion === String(revision))) {
      mine.metadata.resourceVersion = String(revision);
      return mine;
    }
    let obj = JSON.parse(this.plain(kv).toString('utf8')) as Obj;
    // Read back through the version it was stored as (see conversion.ts), never relabelled.
    if (obj.apiVersion !== undefined && obj.apiVersion !== this.apiVersion) obj = convertStored(this.info, kv.key, obj);
    obj.apiVersion = this.apiVersion;
    obj.kind = this.info.kind;
    obj.metadata.resourceVersion = String(revision);
    return obj;
  }

  /** A stored value's plain bytes (a view, not a copy, when not transformed: decode runs on every read and event). */
  private plain(kv: KeyValue): Buffer {
    const value = this.transformer ? this.fromStorage(kv) : kv.value;
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }

  private fromStorage(kv: KeyValue): Uint8Array {
    try {
      return this.transformer!.fromStorage(kv.value, kv.key);
    } catch (err) {
      throw errors.internal(`unable to transform key "${kv.key}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Whether the stored value is in a form a write would no longer make (see ValueTransformer.stale). */
  stale(kv: KeyValue): boolean {
    return this.transformer?.stale(kv.value) ?? false;
  }

  /** The stored form of obj (its resourceVersion left out) under key. */
  encode(obj: Obj, key: string): Uint8Array {
    const bytes = this.encoded(obj).bytes;
    return this.transformer ? this.transformer.toStorage(bytes, key) : bytes;
  }

  private encoded(obj: Obj): Encoded {
    const { resourceVersion: _rv, ...metadata } = obj.metadata;
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = obj;
    const body = JSON.stringify(rest);
    // Kept by the store and the watch cache: exactly its size, not a slice of the shared pool; written piece by piece.
    const bytes = exactBuffer(body.length > 2 ? [this.headBytes, JSON.stringify(metadata), ',', body.slice(1)] : [this.headBytes, JSON.stringify(metadata), '}']);
    return { bytes, meta: this.headBytes.length + 1 };
  }

  /** Encodes an object about to be written and returned to the caller (see `written`); it no longer carries a resourceVersion. */
  encodeWritten(obj: Obj, key: string): Uint8Array {
    const enc = this.encoded(obj);
    // Cleared, not deleted: a delete amid other fields turns metadata into a slow dictionary object, and this object
    // is kept (see `written`): the next update starts from it.
    if (obj.metadata.resourceVersion !== undefined) obj.metadata.resourceVersion = undefined;
    const stored = this.transformer ? this.transformer.toStorage(enc.bytes, key) : enc.bytes;
    this.written.set(stored, obj);
    this.encodings.set(obj, enc);
    return stored;
  }

  /**
   * The JSON of an object a write returned: its stored bytes with its resourceVersion spliced in when this codec
   * encoded it, else a fresh serialization. The object must not have changed since it was returned.
   */
  json(obj: Obj): Buffer | string {
    const enc = this.encodings.get(obj);
    const rv = obj.metadata.resourceVersion;
    return enc && rv ? Buffer.concat(resourceVersionParts(enc, rv)) : JSON.stringify(obj);
  }

  /** The JSON of a stored value, at its revision. */
  storedJson(kv: KeyValue): Buffer | string {
    const parts = this.jsonParts(kv);
    return typeof parts === 'string' ? parts : Buffer.concat(parts);
  }

  /**
   * A stored value's JSON at a revision (default its own) in pieces: its bytes (decrypted when stored encrypted) around
   * the spliced resourceVersion, or a fresh serialization.
   */
  jsonParts(kv: KeyValue, revision = kv.modRevision): Buffer[] | string {
    const bytes = this.plain(kv);
    const meta = this.head.length + 1;
    // Bytes in another form (an older layout, or a resourceVersion inside) take the decode path.
    if (bytes.length > meta && bytes[meta - 1] === 0x7b && bytes.subarray(0, this.head.length).equals(this.headBytes) && bytes.indexOf(RV_KEY) < 0) {
      return resourceVersionParts({ bytes, meta }, String(revision));
    }
    return JSON.stringify(this.decode(kv, revision));
  }

  /** A list body (kind, apiVersion, metadata, items) made of the items' stored bytes, or their JSON when they have none. */
  listJson(listKind: string, metadata: Record<string, unknown>, items: readonly ListItem[]): Buffer {
    const parts: Buffer[] = [Buffer.from(`{"kind":${JSON.stringify(listKind)},"apiVersion":${JSON.stringify(this.apiVersion)},"metadata":${JSON.stringify(metadata)},"items":[`)];
    items.forEach((it, i) => {
      if (i > 0) parts.push(COMMA);
      const json = it.kv ? this.jsonParts(it.kv) : JSON.stringify(it.obj);
      if (typeof json === 'string') parts.push(Buffer.from(json));
      else parts.push(...json);
    });
    parts.push(LIST_END);
    return Buffer.concat(parts);
  }
}
