// What the resource handlers are given at start-up.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logger.js';
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
