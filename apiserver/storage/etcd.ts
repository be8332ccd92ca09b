// The etcd backend: production and high-availability storage (one etcd or a cluster of three). KV calls go through our
// own gRPC transport (etcd-kv.ts), watches too; what is off the hot path (compaction, the format record, snapshots,
// status) goes through the etcd3 package.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { createRevisionIs, deleteOp, EtcdKv, modRevisionIs, putOp, rangeOp, type EtcdTls } from './etcd-kv.js';
import { checkSize, compactForRound, decodeContinue, encodeContinue, EventQueue, guaranteedUpdate, prefixEnd } from './common.js';
import {
  StorageError,
  type DeleteOptions,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Storage,
  type StorageWatch,
  type UpdateFn,
  type UpdateOptions,
  type WatchOptions,
} from './interface.js';
import type { CompactRound, FormatRecord, Maintenance, SnapshotResult } from './maintenance.js';

/** kube-apiserver's compaction record: its version counts the compactions done, by any server on this etcd. */
export const COMPACT_REV_KEY = 'compact_rev_key';
/** The stored-data format record (see format.ts), outside /registry so that no list or watch of objects sees it. */
export const FORMAT_KEY = '/ketch/format';

export interface EtcdOptions {
  /** e.g. ['http://127.0.0.1:2379'] */
  endpoints: string[];
  /** Per-call deadline (ms) so that a dead etcd gives an error instead of a hang. */
  callTimeoutMs?: number;
  /** For https endpoints: the CA that signed etcd's certificates (default: the system's) and a client certificate. */
  tls?: EtcdTls;
}

/** etcd3's credentials for the same TLS files (its gRPC channel verifies against them), for https endpoints only. */
export function etcd3Credentials(tls: EtcdTls | undefined, endpoints: readonly string[]): { credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer } } {
  if (!tls || !endpoints.some((e) => e.startsWith('https:'))) return {};
  return {
    credentials: {
      // null makes grpc-js's createSsl use the system's roots, as with no --etcd-cafile.
      rootCertificate: tls.ca ? Buffer.from(tls.ca) : (null as unknown as Buffer),
      ...(tls.cert && tls.key ? { privateKey: Buffer.from(tls.key), certChain: Buffer.from(tls.cert) } : {}),
    },
  };
}

/** Maps etcd's errors onto StorageError codes. */
function mapError(key: string, err: unknown): unknown {
  if (err instanceof StorageError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/compacted/i.test(msg)) return new StorageError('Compacted', key, `required revision has been compacted: ${msg}`);
  if (/future revision/i.test(msg)) return new StorageError('Unavailable', key, msg);
  if (/too large|exceeds/i.test(msg)) return new StorageError('TooLarge', key, msg);
  if (/unavailable|deadline|connect|ECONNREFUSED|no connection/i.test(msg)) return new StorageError('Unavailable', key, `etcd unavailable: ${msg}`);
  return new StorageError('Internal', key, msg);
}

export class EtcdStorage implements Storage, Maintenance {
  readonly kind = 'etcd';
  private readonly client: Etcd3;
  /** Every KV call but compaction, without etcd3's per-call layers (see etcd-kv.ts). */
  private readonly kv: EtcdKv;
  private readonly watches = new Set<EventQueue>();

  constructor(opts: EtcdOptions) {
    this.kv = new EtcdKv({ endpoints: opts.endpoints, callTimeoutMs: opts.callTimeoutMs ?? 10_000, ...(opts.tls ? { tls: opts.tls } : {}) });
    this.client = new Etcd3({
      hosts: opts.endpoints,
      ...etcd3Credentials(opts.tls, opts.endpoints),
      // A list of every object of a kind can exceed gRPC's 4 MiB default (kube-apiserver lifts it too).
      grpcOptions: { 'grpc.max_receive_message_length': -1 },
      // Calls get a deadline; watch streams live until closed (a deadline would cut every watch after 10s).
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + (opts.callTimeoutMs ?? 10_000) }),
      // Retries are the caller's business (guaranteedUpdate, client relists): never replay a write behind its back.
      faultHandling: { global: noop, host: () => noop },
    });
  }

  private async call<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapError(key, err);
    }
  }

  async create(key: string, value: Uint8Array): Promise<KeyValue> {
    checkSize(key, value);
    const k = Buffer.from(key);
    const res = await this.call(key, () => this.kv.txn([createRevisionIs(k, 0)], [putOp(k, value)]));
    if (!res.succeeded) throw new StorageError('KeyExists', key, `key ${key} already exists`, res.revision);
    return { key, value, createRevision: res.revision, modRevision: res.revision };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call(key, () => this.kv.range(Buffer.from(key)));
    return res.kvs[0];
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    let revision = opts.revision && opts.revision > 0 ? opts.revision : 0;
    let start = prefix;
    if (opts.continue) {
      const token = decodeContinue(prefix, opts.continue);
      revision = token.rv;
      start = token.start + '\0';
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const res = await this.call(prefix, () => this.kv.range(Buffer.from(start), { rangeEnd: Buffer.from(prefixEnd(prefix)), revision, limit }));
    const items = res.kvs;
    const result: ListResult = { items, revision: revision || res.revision };
    if (res.more && items.length) {
      result.continue = encodeContinue(result.revision, items[items.length - 1]!.key);
      result.remainingItemCount = res.count - items.length;
    }
    return result;
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<KeyValue> {
    checkSize(key, value);
    const k = Buffer.from(key);
    const res = await this.call(key, () => this.kv.txn([modRevisionIs(k, expectedRevision)], [putOp(k, value), rangeOp(k)], [rangeOp(k)]));
    if (res.succeeded) {
      const after = res.responses[1]?.kvs[0];
      return { key, value, createRevision: after ? after.createRevision : res.revision, modRevision: res.revision };
    }
    const cur = res.responses[0]?.kvs[0];
    if (!cur) throw new StorageError('NotFound', key, `key ${key} not found`);
    throw new StorageError('Conflict', key, `key ${key} is at revision ${cur.modRevision}, not ${expectedRevision}`, cur.modRevision);
  }

  guaranteedUpdate(key: string, tryUpdate: UpdateFn, opts?: UpdateOptions): Promise<KeyValue> {
    return guaranteedUpdate(this, key, tryUpdate, opts);
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<KeyValue> {
    for (;;) {
      const cur = await this.get(key);
      if (!cur) throw new StorageError('NotFound', key, `key ${key} not found`);
      if (opts.expectedRevision !== undefined && cur.modRevision !== opts.expectedRevision) {
        throw new StorageError('Conflict', key, `key ${key} is at revision ${cur.modRevision}, not ${opts.expectedRevision}`, cur.modRevision);
      }
      opts.precondition?.(cur);
      const k = Buffer.from(key);
      const res = await this.call(key, () => this.kv.txn([modRevisionIs(k, cur.modRevision)], [deleteOp(k)]));
      if (res.succeeded) return { ...cur, modRevision: res.revision };
      // Someone wrote in between: re-check the preconditions against the fresh value.
    }
  }

  watch(key: string, opts: WatchOptions = {}): StorageWatch {
    let watch: { close(): void } | undefined;
    const queue = new EventQueue(() => {
      this.watches.delete(queue);
      watch?.close();
    });
    this.watches.add(queue);
    const from = opts.fromRevision ?? 0;
    const start = async (): Promise<void> => {
      if (from > 0) {
        // etcd reports compaction on the watch only as a cancel; a range read at the revision names it clearly.
        await this.call(key, () => this.kv.range(Buffer.from(key), { revision: from, countOnly: true }));
      }
      if (queue.isClosed) return;
      const k = Buffer.from(key);
      const range = { ...(opts.prefix === false ? {} : { rangeEnd: Buffer.from(prefixEnd(key)) }), ...(from > 0 ? { startRevision: from + 1 } : {}) };
      watch = this.kv.watch(
        k,
        range,
        (res) => {
          if (res.canceled) {
            // A cancel with a compact revision: the start revision is gone; any other cancel is etcd's error.
            const err = res.compactRevision > 0
              ? new StorageError('Compacted', key, `required revision ${from + 1} has been compacted (oldest available: ${res.compactRevision})`, res.compactRevision)
              : new StorageError('Internal', key, `etcd canceled the watch: ${res.cancelReason || 'no reason given'}`);
            watch?.close();
            return queue.fail(err);
          }
          if (!res.events.length) {
            if (!res.created) queue.push({ type: 'PROGRESS', revision: res.revision });
            return;
          }
          for (const ev of res.events) {
            const { kv, prevKv } = ev;
            if (ev.type === 'DELETE') {
              const last = prevKv ? { ...prevKv, modRevision: kv.modRevision } : kv;
              queue.push({ type: 'DELETED', kv: last, ...(prevKv ? { prevKv } : {}), revision: kv.modRevision });
            } else if (kv.createRevision === kv.modRevision) queue.push({ type: 'ADDED', kv, revision: kv.modRevision });
            else queue.push({ type: 'MODIFIED', kv, ...(prevKv ? { prevKv } : {}), revision: kv.modRevision });
          }
        },
        // A stream that ends is not resumed from a guessed revision: the caller re-watches from the last one it saw.
        (err) => queue.fail(mapError(key, err)),
      );
    };
    start().catch((err: unknown) => queue.fail(err));
    return queue;
  }

  async count(prefix: string): Promise<number> {
    const res = await this.call(prefix, () => this.kv.range(Buffer.from(prefix), { rangeEnd: Buffer.from(prefixEnd(prefix)), countOnly: true }));
    return res.count;
  }

  async currentRevision(): Promise<number> {
    const res = await this.call('', () => this.kv.range(Buffer.from('\0'), { countOnly: true }));
    return res.revision;
  }

  async compact(revision: number): Promise<void> {
    await this.call('', () => this.client.kv.compact({ revision: String(revision), physical: true }));
  }

  async compactRound(version: number, revision: number): Promise<CompactRound> {
    // The compare on the record's version makes one server in the cluster win each round (kube's compact.go).
    const res = await this.call(COMPACT_REV_KEY, () =>
      this.client
        .if(COMPACT_REV_KEY, 'Version', '==', version)
        .then(this.client.put(COMPACT_REV_KEY).value(String(revision)))
        .else(this.client.get(COMPACT_REV_KEY))
        .commit(),
    );
    const now = Number(res.header.revision);
    if (!res.succeeded) {
      // Another server compacted since: take its count, and compact one interval after it.
      const kv = res.responses[0]?.response_range?.kvs[0];
      return { version: Number(kv?.version ?? 0), revision: now };
    }
    const next = { version: version + 1, revision: now };
    if (revision === 0) return next; // the first round only records the revision to compact to next time
    return compactForRound(this, next, revision);
  }

  async readFormat(): Promise<FormatRecord | undefined> {
    const text = await this.call(FORMAT_KEY, () => this.client.get(FORMAT_KEY).string());
    if (text === null) return undefined;
    const rec = JSON.parse(text) as Partial<FormatRecord>;
    if (typeof rec.formatVersion !== 'number') throw new StorageError('Internal', FORMAT_KEY, `the format record ${FORMAT_KEY} is not valid: ${text.slice(0, 200)}`);
    return { formatVersion: rec.formatVersion, ketchVersion: String(rec.ketchVersion ?? 'unknown') };
  }

  async writeFormat(record: FormatRecord): Promise<void> {
    await this.call(FORMAT_KEY, () => this.client.put(FORMAT_KEY).value(JSON.stringify(record)).exec());
  }

  /**
   * etcd's snapshot stream (Maintenance.Snapshot): the member's database followed by its SHA-256, kept in the file as
   * etcdctl keeps it (etcdctl/etcdutl snapshot restore check it). The hash is verified before the file takes its name.
   */
  async snapshot(path: string): Promise<SnapshotResult> {
    if (existsSync(path)) throw new StorageError('KeyExists', path, `snapshot file ${path} already exists`);
    const part = `${path}.part`;
    try {
      const { revision, size, digest, trailer } = await this.call(path, () => this.streamSnapshot(part));
      if (size < 32 || !digest.equals(trailer)) throw new StorageError('Internal', path, `etcd snapshot of ${size} bytes failed its SHA-256 check`);
      await rename(part, path);
      return { revision, size };
    } finally {
      await rm(part, { force: true });
    }
  }

  /** Streams the snapshot to part; returns the SHA-256 of all but the last 32 bytes, and those bytes. */
  private async streamSnapshot(part: string): Promise<{ revision: number; size: number; digest: Buffer; trailer: Buffer }> {
    // etcd 3.5+ puts the snapshot's revision in the first message's header; 3.4 sends none, and then the revision read
    // just before the stream started is the one reported (the snapshot holds at least that one).
    let revision = await this.currentRevision();
    const stream = await this.client.maintenance.snapshot();
    const out = createWriteStream(part, { mode: 0o600 });
    const hash = createHash('sha256');
    let tail = Buffer.alloc(0);
    let size = 0;
    let first = true;
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (msg: { header?: { revision?: string } | null; blob: Buffer }) => {
        if (first && msg.header?.revision) revision = Number(msg.header.revision);
        first = false;
        size += msg.blob.length;
        out.write(msg.blob);
        // Everything but the newest 32 bytes is database; those may be the trailer.
        tail = Buffer.concat([tail, msg.blob]);
        if (tail.length > 32) {
          hash.update(tail.subarray(0, tail.length - 32));
          tail = tail.subarray(tail.length - 32);
        }
      });
      stream.on('error', reject);
      out.on('error', reject);
      stream.on('end', resolve);
    });
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return { revision, size, digest: hash.digest(), trailer: tail };
  }

  async sizeOnDisk(): Promise<number> {
    const status = await this.call('', () => this.client.maintenance.status());
    return Number(status.dbSize);
  }

  close(): Promise<void> {
    for (const q of [...this.watches]) q.close();
    this.client.close();
    this.kv.close();
    return Promise.resolve();
  }
}
