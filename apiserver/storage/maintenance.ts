// What a storage backend offers besides the Storage contract: kube-apiserver's compaction round, the stored-data
// format record, snapshots and its size on disk. Only the process that opened the backend (`ketch server`, `ketch
// snapshot`) uses these; the API server's registry sees the Storage contract alone.
import type { Storage } from './interface.js';

/** The outcome of one compaction round (see Backend.compactRound). */
export interface CompactRound {
  /** The compaction record's version now: pass it to the next round. */
  version: number;
  /** The store's revision now: the next round compacts to it. */
  revision: number;
  /** The revision compacted to in this round, when this server compacted. */
  compactedTo?: number;
  /** The compaction's error, when this server won the round but compacting failed (the record moved on all the same). */
  error?: unknown;
}

/** Which ketch wrote a store, and in which layout: a ketch refuses a store of a newer format than its own. */
export interface FormatRecord {
  /** ketch's storage format version (STORAGE_FORMAT_VERSION of the ketch that wrote it). */
  formatVersion: number;
  /** The version of the ketch that last started on this store. */
  ketchVersion: string;
}

export interface SnapshotResult {
  /** The store's revision in the snapshot. */
  revision: number;
  /** Bytes written. */
  size: number;
}

export type BackendKind = 'embedded' | 'etcd';

export interface Maintenance {
  readonly kind: BackendKind;
  /**
   * One round of kube-apiserver's compactor (storage/etcd3/compact.go): when the compaction record's version is still
   * `version` (no other server compacted since this one last looked), bump it and compact to `revision` (the revision
   * this server saw one interval ago; 0 on the first round, which compacts nothing). Throws only when the record could
   * not be read or written.
   */
  compactRound(version: number, revision: number): Promise<CompactRound>;
  readFormat(): Promise<FormatRecord | undefined>;
  writeFormat(record: FormatRecord): Promise<void>;
  /** Writes a consistent snapshot of the whole store to path (which must not exist), verified before it returns. */
  snapshot(path: string): Promise<SnapshotResult>;
  /** Bytes the store takes on disk (the embedded files; etcd's database as its member reports it). */
  sizeOnDisk(): Promise<number>;
}

/** A backend as its host process holds it. */
export type Backend = Storage & Maintenance;
