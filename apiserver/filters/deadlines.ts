// Request deadlines checked by one interval timer: cheaper than a timer per request.
import type { ServerResponse } from 'node:http';

/**
 * Requests in flight and when they are due. Every request has the same timeout, so insertion order is deadline
 * order and a check stops at the first request not yet due.
 */
export class Deadlines<R = ServerResponse> {
  private readonly pending = new Map<R, number>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly expire: (res: R) => void,
    private readonly now: () => number = Date.now,
    /** Check interval; 0 leaves checking to the caller (tests). */
    checkEveryMs = Math.max(1, Math.min(1000, Math.floor(timeoutMs / 4))),
  ) {
    if (checkEveryMs > 0) {
      this.timer = setInterval(() => this.check(), checkEveryMs);
      this.timer.unref();
    }
  }

  add(res: R): void {
    this.pending.set(res, this.now() + this.timeoutMs);
  }

  delete(res: R): void {
    this.pending.delete(res);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Expires every request that is due. */
  check(): void {
    const now = this.now();
    for (const [res, at] of this.pending) {
      if (at > now) break;
      this.pending.delete(res);
      this.expire(res);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.pending.clear();
  }
}
