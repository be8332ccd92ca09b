// Per-key exponential back-off (kubelet's flowcontrol.Backoff): 10 s doubling to 5 min, forgotten after a long quiet spell.
import type { Clock } from '../lib/clock.js';

export const INITIAL_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 5 * 60_000;

interface Entry {
  delayMs: number;
  /** When the last attempt was made (clock time). */
  at: number;
}

export class Backoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    readonly initialMs = INITIAL_BACKOFF_MS,
    readonly maxMs = MAX_BACKOFF_MS,
  ) {}

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

  /** Records an attempt now: the first has no wait before it, each next one waits twice as long (up to maxMs). */
  next(key: string): number {
    const now = this.clock.now();
    const e = this.entries.get(key);
    // A container that ran well for twice the maximum starts over, as in kubelet.
    const fresh = !e || now - e.at > 2 * this.maxMs;
    const delayMs = fresh ? this.initialMs : Math.min(e.delayMs * 2, this.maxMs);
    this.entries.set(key, { delayMs, at: now });
    return delayMs;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every key that starts with prefix (a pod's keys when the pod goes). */
  forget(prefix: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
