// Pieces shared by the storage backends: size checks, continue tokens, guaranteed update, and a push-pull event queue.
import { MAX_VALUE_BYTES, StorageError, isStorageError, type KeyValue, type StorageWatch, type UpdateFn, type UpdateOptions, type WatchEvent } from './interface.js';

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

/**
 * An unbounded single-consumer queue of watch events that is also the StorageWatch handed to callers.
 * The producer pushes events or an error; the consumer iterates. close() ends iteration and calls onClose once.
 */
export class EventQueue implements StorageWatch {
  private readonly items: WatchEvent[] = [];
  private waiter: ((r: IteratorResult<WatchEvent>) => void) | undefined;
  private failer: ((e: unknown) => void) | undefined;
  private error: unknown;
  private closed = false;

  constructor(private readonly onClose: () => void) {}

  push(ev: WatchEvent): void {
    if (this.closed) return;
    const w = this.waiter;
    if (w) {
      this.waiter = this.failer = undefined;
      w({ value: ev, done: false });
    } else this.items.push(ev);
  }

  fail(err: unknown): void {
    if (this.closed) return;
    this.error = err;
    const f = this.failer;
    this.waiter = this.failer = undefined;
    this.finish();
    f?.(err);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    const w = this.waiter;
    this.waiter = this.failer = undefined;
    this.finish();
    w?.({ value: undefined, done: true });
  }

  private finish(): void {
    this.closed = true;
    this.onClose();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => {
        const ev = this.items.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.error !== undefined) {
          const e = this.error;
          this.error = undefined;
          return Promise.reject(e);
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failer = reject;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
