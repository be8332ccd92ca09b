// Bounded in-flight requests, as kube-apiserver's --max-requests-inflight and --max-mutating-requests-inflight: a
// request past its pool's limit gets 429 TooManyRequests with Retry-After: 1 instead of queueing without bound.
// Long-running requests (watches, logs, exec/attach/port-forward, node proxy) hold no slot, health checks neither, and
// system:masters is never refused (kube-apiserver: "a super-admin ... should always get an answer").
import type { IncomingMessage } from 'node:http';
import { errors } from '../../api/errors.js';
import { isWatchTarget } from '../http/request-info.js';
import { sendError } from '../http/responses.js';
import type { UserInfo } from './authentication.js';
import { ANSWERED, type Filter } from './chain.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const LONG_RUNNING = /^\/api\/v1\/namespaces\/[^/?]+\/pods\/[^/?]+\/(log|exec|attach|portforward|proxy)([/?]|$)|^\/api\/v1\/nodes\/[^/?]+\/proxy([/?]|$)|^\/(healthz|livez|readyz)([/?]|$)/;

export class InFlightLimiter {
  private reads = 0;
  private writes = 0;

  /** A limit of 0 is no limit. */
  constructor(
    readonly maxReads: number,
    readonly maxMutating: number,
  ) {}

  /**
   * Admits a request: a function to call once it is answered, null when its pool is full (answer 429), or undefined
   * when it is not counted (long-running, a health check, system:masters).
   */
  admit(req: IncomingMessage, user: UserInfo | undefined): (() => void) | null | undefined {
    const url = req.url ?? '/';
    if (isWatchTarget(url) || LONG_RUNNING.test(url)) return undefined;
    const mutating = MUTATING.has(req.method ?? 'GET');
    const max = mutating ? this.maxMutating : this.maxReads;
    if (max <= 0) return undefined;
    if ((mutating ? this.writes : this.reads) >= max) return user?.groups.includes('system:masters') ? undefined : null;
    if (mutating) this.writes++;
    else this.reads++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (mutating) this.writes--;
      else this.reads--;
    };
  }

  /** Requests holding a slot now. */
  get inFlight(): { reads: number; mutating: number } {
    return { reads: this.reads, mutating: this.writes };
  }
}

const OVERLOADED = errors.tooManyRequests('Too many requests, please try again later.');

/** The in-flight filter: past a pool's limit, 429 with Retry-After; a counted request frees its slot once its handler is done. */
export function withMaxInFlight(limiter: InFlightLimiter): Filter {
  return (req, res, next) => {
    const release = limiter.admit(req, req.user);
    if (release === null) {
      sendError(res, OVERLOADED);
      return ANSWERED;
    }
    return release ? next(req, res).then(release) : next(req, res);
  };
}
