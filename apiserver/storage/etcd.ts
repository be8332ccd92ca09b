// The etcd backend: production and high-availability storage (one etcd or a cluster of three). KV calls go through our
// own gRPC transport (etcd-kv.ts), watches too; compaction goes through the etcd3 package.
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { createRevisionIs, deleteOp, EtcdKv, modRevisionIs, putOp, rangeOp, type EtcdTls } from './etcd-kv.js';
import { checkSize, decodeContinue, encodeContinue, EventQueue, guaranteedUpdate, prefixEnd } from './common.js';
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

export class EtcdStorage implements Storage {
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

  close(): Promise<void> {
    for (const q of [...this.watches]) q.close();
    this.client.close();
    this.kv.close();
    return Promise.resolve();
  }
}
