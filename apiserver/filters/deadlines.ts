// Request deadlines (kube-apiserver's WithRequestDeadline) checked by one interval timer: cheaper than a timer per
// request. Watches and protocol upgrades are long-running and have none. A request's `timeout` parameter (a Go
// duration) shortens its own deadline; a malformed one is answered 400, as kube-apiserver does.
import type { ServerResponse } from 'node:http';
import { errors } from '../../api/errors.js';
import { DurationError, parseDuration } from '../../lib/duration.js';
import { isWatchTarget } from '../http/request-info.js';
import { paramPattern, targetParam } from '../http/requests.js';
import { sendError } from '../http/responses.js';
import { upgradeOf } from '../http/upgrades.js';
import { ANSWERED, type Filter } from './chain.js';

/**
 * Requests in flight and when they are due. Every request has the same timeout, so insertion order is deadline
 * order and a check stops at the first request not yet due.
 */
export class Deadlines<R = ServerResponse> {
  private readonly pending = new Map<R, number>();
  /** Requests whose own `timeout` is shorter than the server's: few, scanned in full at each check. */
  private readonly shorter = new Map<R, number>();
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

  /** `ownTimeoutMs`: the request's own timeout, which counts when it is shorter than the server's (kube's clamp). */
  add(res: R, ownTimeoutMs?: number): void {
    if (ownTimeoutMs !== undefined && ownTimeoutMs > 0 && ownTimeoutMs < this.timeoutMs) this.shorter.set(res, this.now() + ownTimeoutMs);
    else this.pending.set(res, this.now() + this.timeoutMs);
  }

  delete(res: R): void {
    if (!this.pending.delete(res)) this.shorter.delete(res);
  }

  get size(): number {
    return this.pending.size + this.shorter.size;
  }

  /** Expires every request that is due. */
  check(): void {
    const now = this.now();
    for (const [res, at] of this.pending) {
      if (at > now) break;
      this.pending.delete(res);
      this.expire(res);
    }
    for (const [res, at] of this.shorter) {
      if (at > now) continue;
      this.shorter.delete(res);
      this.expire(res);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.pending.clear();
    this.shorter.clear();
  }
}

/** Deadlines of `timeoutMs` whose expiry answers a request still unanswered with kube's 504. */
export function requestDeadlines(timeoutMs: number): Deadlines {
  return new Deadlines(timeoutMs, (res) => {
    if (!res.headersSent) sendError(res, errors.timeout('request did not complete within requested timeout - context deadline exceeded'));
  });
}

const TIMEOUT_PARAM = paramPattern('timeout');

/**
 * The request's `timeout` parameter in milliseconds (kube's parseTimeout: its first value, a Go duration; empty is
 * none); undefined when absent. A malformed one is the client's error, with kube's message.
 */
export function timeoutParam(target: string): number | undefined {
  const value = targetParam(target, TIMEOUT_PARAM);
  if (!value) return undefined;
  try {
    return parseDuration(value);
  } catch (err) {
    if (!(err instanceof DurationError)) throw err;
    throw errors.badRequest(`invalid timeout specified in the request URL - ${err.message}`);
  }
}

/**
 * The deadline filter. A request's deadline ends once its handler is done and it has been answered (or its
 * connection is gone); a handler that is done without an answer still gets the 504. No listener on the response.
 */
export function withDeadline(deadlines: Deadlines): Filter {
  return (req, res, next) => {
    const url = req.url ?? '/';
    if (isWatchTarget(url) || upgradeOf(req)) return next(req, res);
    let own: number | undefined;
    // Most requests carry no timeout: the parse is only for those that do (kubectl's discovery sends timeout=32s).
    if (url.includes('timeout=')) {
      try {
        own = timeoutParam(url);
      } catch (err) {
        sendError(res, err);
        return ANSWERED;
      }
    }
    deadlines.add(res, own);
    return next(req, res).then(() => {
      if (res.headersSent || res.destroyed) deadlines.delete(res);
    });
  };
}
