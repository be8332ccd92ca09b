// Exponential back-off, one piece for every retry: the delay doubles from an initial value up to a cap. Backoff keeps
// it per key (kubelet's flowcontrol.Backoff, and client-go's per-item rate limiter on top of it); exponentialDelay is
// the bare formula for callers that count attempts themselves.
import type { Clock } from './clock.js';

/** initialMs * 2^attempt, capped at maxMs (attempt 0 is the first retry). */
export function exponentialDelay(attempt: number, initialMs: number, maxMs: number): number {
  // 2^1024 is Infinity, and Infinity * 0 is NaN: clamp the exponent before multiplying.
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, attempt), 1000));
}

export interface BackoffOptions {
  /** A key with no attempt for this long starts over at initialMs (kubelet: twice the cap). Default 2 * maxMs. */
  resetAfterMs?: number;
}

interface Entry {
  delayMs: number;
  /** When the last attempt was made (clock time). */
  at: number;
  attempts: number;
}

export class Backoff {
  private readonly entries = new Map<string, Entry>();
  private readonly resetAfterMs: number;

  constructor(
    private readonly clock: Clock,
    readonly initialMs: number,
    readonly maxMs: number,
    opts: BackoffOptions = {},
  ) {
    this.resetAfterMs = opts.resetAfterMs ?? 2 * maxMs;
  }

  /**
   * While backing off: the time left (ms) and the current delay; undefined when an attempt may be made now.
   * `since` is when the last attempt ended (kubelet counts from the container's exit); default: when it was made.
   */
  check(key: string, since?: number): { remainingMs: number; delayMs: number } | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const remainingMs = Math.max(e.at, since ?? e.at) + e.delayMs - this.clock.now();
    return remainingMs > 0 ? { remainingMs, delayMs: e.delayMs } : undefined;
  }

  /** Records an attempt now and returns the wait before the next: initialMs, then twice as long each time, up to maxMs. */
  next(key: string): number {
    const now = this.clock.now();
    const e = this.entries.get(key);
    // A key that has been quiet long enough (a container that ran well) starts over, as in kubelet.
    const attempts = !e || now - e.at > this.resetAfterMs ? 0 : e.attempts;
    const delayMs = exponentialDelay(attempts, this.initialMs, this.maxMs);
    this.entries.set(key, { delayMs, at: now, attempts: attempts + 1 });
    return delayMs;
  }

  /** Attempts recorded for key since it was last reset. */
  attempts(key: string): number {
    return this.entries.get(key)?.attempts ?? 0;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every key that starts with prefix (a pod's keys when the pod goes). */
  forget(prefix: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
