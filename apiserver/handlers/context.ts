// What the resource handlers are given at start-up.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logger.js';
import { annotateAudit } from '../filters/audit-context.js';
import { addWarning } from '../http/responses.js';
import type { RequestScope } from '../registry/rest.js';
import type { RequestInfo } from '../http/request-info.js';
import type { NodeProxyDeps } from '../nodeproxy/node-proxy.js';
import type { Registry } from '../registry/index.js';
import type { WatchLimiter } from './watch-limiter.js';

export interface HandlerContext {
  registry: Registry;
  clock: { now(): Date };
  log: Logger;
  watches: WatchLimiter;
  /** Bounds of the randomised watch timeout when the client gives none (kube-apiserver: min-request-timeout..2x). */
  minWatchTimeoutSec: number;
  /** Reaches node agents for pods/log, exec, attach and portforward. */
  nodeProxy: NodeProxyDeps;
  /** serviceaccounts/token (TokenRequest). */
  serviceAccountToken: (req: IncomingMessage, res: ServerResponse, ri: RequestInfo) => Promise<void>;
  /** Bytes a watcher may have queued and unread before it is cut off (kube-apiserver also drops watchers that lag). */
  watchMaxBufferedBytes: number;
}

const ANONYMOUS = Object.freeze({ name: 'system:anonymous', groups: Object.freeze(['system:unauthenticated']) });

/** The RequestScope of a request's writes: its user, its Warning headers and its audit event's annotations. */
export function requestScope(req: IncomingMessage, res: ServerResponse): RequestScope {
  return { user: req.user ?? ANONYMOUS, warn: (message) => addWarning(res, message), annotate: (key, value) => annotateAudit(req, key, value) };
}
