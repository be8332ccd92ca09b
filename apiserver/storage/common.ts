// Pieces shared by the storage backends: size checks, continue tokens, guaranteed update, and the watch event queue.
import { AsyncQueue } from '../../lib/async-queue.js';
import { MAX_VALUE_BYTES, StorageError, isStorageError, type KeyValue, type StorageWatch, type UpdateFn, type UpdateOptions, type WatchEvent } from './interface.js';
import type { CompactRound } from './maintenance.js';

export function checkSize(key: string, value: Uint8Array): void {
  if (value.byteLength > MAX_VALUE_BYTES) {
    throw new StorageError('TooLarge', key, `value for ${key} is ${value.byteLength} bytes; the limit is ${MAX_VALUE_BYTES} bytes`);
  }
}

interface ContinueToken {
  /** revision the first page was read at */
  rv: number;
  /** the last key returned; the next page starts after it */
  start: string;
}

export function encodeContinue(revision: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ rv: revision, start: lastKey } satisfies ContinueToken)).toString('base64url');
}

export function decodeContinue(prefix: string, token: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (typeof t.rv === 'number' && t.rv > 0 && typeof t.start === 'string' && t.start.startsWith(prefix)) return { rv: t.rv, start: t.start };
  } catch {
    // fall through: malformed tokens are reported below
  }
  throw new StorageError('InvalidContinue', prefix, 'continue key is not valid: it was not produced by a list of this prefix');
}

/** The smallest string greater than every string starting with prefix (etcd's range_end for a prefix; keys are ASCII). */
export function prefixEnd(prefix: string): string {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    if (c < 0xffff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return '\uffff';
}

/**
 * Read-modify-write on top of get + update (compare-and-swap), retrying tryUpdate with the fresh value whenever
 * another writer won. Both backends use it; their update() is the atomic primitive.
 */
export async function guaranteedUpdate(
  store: {
    get(key: string): Promise<KeyValue | undefined>;
    create(key: string, value: Uint8Array): Promise<KeyValue>;
    update(key: string, value: Uint8Array, expectedRevision: number): Promise<KeyValue>;
  },
  key: string,
  tryUpdate: UpdateFn,
  opts: UpdateOptions = {},
): Promise<KeyValue> {
  const maxAttempts = opts.maxAttempts ?? 100;
  for (let attempt = 1; ; attempt++) {
    const current = await store.get(key);
    if (!current && !opts.ignoreNotFound) throw new StorageError('NotFound', key, `key ${key} not found`);
    const next = await tryUpdate(current);
    try {
      return current ? await store.update(key, next, current.modRevision) : await store.create(key, next);
    } catch (err) {
      const lostRace = isStorageError(err, 'Conflict') || isStorageError(err, 'KeyExists') || (isStorageError(err, 'NotFound') && opts.ignoreNotFound);
      if (!lostRace || attempt >= maxAttempts) throw err;
    }
  }
}

/** The StorageWatch handed to callers: a queue of watch events the backend pushes into. */
export class EventQueue extends AsyncQueue<WatchEvent> implements StorageWatch {}

/** The end of a compaction round this server won: compact to revision; a failure is reported, the round counts all the same (kube's compact.go). */
export async function compactForRound(store: { compact(revision: number): Promise<void> }, next: Pick<CompactRound, 'version' | 'revision'>, revision: number): Promise<CompactRound> {
  try {
    await store.compact(revision);
    return { ...next, compactedTo: revision };
  } catch (error) {
    return { ...next, error };
  }
}
