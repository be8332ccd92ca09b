// The storage contract: the only way the API server touches persisted data. Revision-based, bytes in and out.
//
// Semantics follow Kubernetes' storage.Interface over etcd3 (and kine): every write gets a new, strictly
// increasing cluster-wide revision; an object's resourceVersion is its modRevision.

/** One key's value at some revision. */
export interface KeyValue {
  key: string;
  value: Uint8Array;
  /** Revision of the write that created this key (since its last deletion). */
  createRevision: number;
  /** Revision of the last write to this key: the object's resourceVersion. */
  modRevision: number;
}

export interface ListOptions {
  /** At most this many items (0 or undefined: all). */
  limit?: number;
  /** Opaque token from a previous page; the page continues at that page's revision. */
  continue?: string;
  /** Read at this exact revision (0/undefined: the newest). Fails with Compacted if it was compacted. */
  revision?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the whole list (every page of it) was read at. */
  revision: number;
  /** Set when more items remain; pass back as ListOptions.continue. */
  continue?: string;
  /** How many items remain after this page, when known. */
  remainingItemCount?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'PROGRESS';

export interface WatchEvent {
  type: WatchEventType;
  /** For ADDED/MODIFIED the new value; for DELETED the last value before deletion, with modRevision = the delete's revision. */
  kv?: KeyValue;
  /** For MODIFIED and DELETED: the value before this event (when the backend still has it). */
  prevKv?: KeyValue;
  /** Revision of this event (for PROGRESS: every event up to it has been delivered). */
  revision: number;
}

export interface WatchOptions {
  /** Deliver every event with revision > fromRevision (replay, then live). 0/undefined: only new events. */
  fromRevision?: number;
  /** Watch keys with this prefix (default), or exactly this key when false. */
  prefix?: boolean;
  /** Emit a PROGRESS event after this much idle time, so idle watchers can send bookmarks. */
  progressIntervalMs?: number;
}

/** A running watch: iterate events; close() ends it. Iteration throws StorageError 'Compacted' when fromRevision is gone. */
export interface StorageWatch extends AsyncIterable<WatchEvent> {
  close(): void;
}

export interface DeleteOptions {
  /** Fail with Conflict unless the key's modRevision equals this. */
  expectedRevision?: number;
  /** Checked against the current value before deleting (e.g. uid/resourceVersion preconditions); throw to refuse. */
  precondition?: (current: KeyValue) => void;
}

export interface UpdateOptions {
  /** When the key is absent, call tryUpdate with undefined (create) instead of failing with NotFound. */
  ignoreNotFound?: boolean;
  /** Maximum compare-and-swap attempts before giving up with Conflict (default 100). */
  maxAttempts?: number;
}

/**
 * Returns the new value for the key given its current value, or throws to abort.
 * Called again with the fresh value whenever another writer won the race.
 */
export type UpdateFn = (current: KeyValue | undefined) => Uint8Array | Promise<Uint8Array>;

export interface Storage {
  /** Creates key; fails with KeyExists if it exists. Returns the new KeyValue. */
  create(key: string, value: Uint8Array): Promise<KeyValue>;
  /** The current value, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Keys starting with prefix, in key order, read as one consistent snapshot across pages. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** Compare-and-swap: writes value only if the key's modRevision is still expectedRevision (Conflict otherwise, NotFound if absent). */
  update(key: string, value: Uint8Array, expectedRevision: number): Promise<KeyValue>;
  /** Read-modify-write that retries tryUpdate on conflict until it wins. */
  guaranteedUpdate(key: string, tryUpdate: UpdateFn, opts?: UpdateOptions): Promise<KeyValue>;
  /** Deletes key, returning its last value (modRevision set to the delete's revision). NotFound if absent. */
  delete(key: string, opts?: DeleteOptions): Promise<KeyValue>;
  /** Events for keys under prefix (or one key), strictly ordered by revision, no gaps or duplicates. */
  watch(key: string, opts?: WatchOptions): StorageWatch;
  /** Number of keys under prefix. */
  count(prefix: string): Promise<number>;
  /** The newest revision of the store. */
  currentRevision(): Promise<number>;
  /** Drops history older than revision; later reads or watches below it fail with Compacted. */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

/** Largest value accepted (etcd's default --max-request-bytes). */
export const MAX_VALUE_BYTES = 1.5 * 1024 * 1024;

export type StorageErrorCode = 'KeyExists' | 'NotFound' | 'Conflict' | 'Compacted' | 'TooLarge' | 'InvalidContinue' | 'Unavailable' | 'Internal';

/** The one error type of the storage layer; the API server maps codes to Status (409, 404, 409, 410, 413, 400, 503, 500). */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    readonly key: string,
    message: string,
    readonly revision?: number,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
