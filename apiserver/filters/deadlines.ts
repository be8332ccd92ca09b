// Request deadlines (kube-apiserver's WithRequestDeadline) checked by one interval timer: cheaper than a timer per
// request. Watches and protocol upgrades are long-running and have none.
import type { ServerResponse } from 'node:http';
import { errors } from '../../api/errors.js';
import { isWatchTarget } from '../http/request-info.js';
import { sendError } from '../http/responses.js';
import { upgradeOf } from '../http/upgrades.js';
import type { Filter } from './chain.js';

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

/** Deadlines of `timeoutMs` whose expiry answers a request still unanswered with 504. */
export function requestDeadlines(timeoutMs: number): Deadlines {
  return new Deadlines(timeoutMs, (res) => {
    if (!res.headersSent) sendError(res, errors.timeout(`the request did not complete within ${timeoutMs / 1000}s`));
  });
}

/**
 * The deadline filter. A request's deadline ends once its handler is done and it has been answered (or its
 * connection is gone); a handler that is done without an answer still gets the 504. No listener on the response.
 */
export function withDeadline(deadlines: Deadlines): Filter {
  return (req, res, next) => {
    if (isWatchTarget(req.url ?? '/') || upgradeOf(req)) return next(req, res);
    deadlines.add(res);
    return next(req, res).then(() => {
      if (res.headersSent || res.destroyed) deadlines.delete(res);
    });
  };
}
