// The handler chain, as kube-apiserver's DefaultBuildHandlerChain: filters composed once, at start-up, around the
// final handler, so that every request (REST, discovery, watch, upgrade) passes the same steps in the same order.
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Serves a request. The promise settles when the handler's work is over: the answer sent or handed on (a watch
 * ended, a socket given to a WebSocket). It never rejects: a handler answers its own errors.
 */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** One step of the chain: answers the request itself (401, 429...) or passes it to `next`, the rest of the chain. */
export type Filter = (req: IncomingMessage, res: ServerResponse, next: Handler) => Promise<void>;

/** What a filter that answered (and so did not call next) returns. */
export const ANSWERED: Promise<void> = Promise.resolve();

/** Wraps `handler` in `filters`, the first outermost. Done once: a request costs one call per filter, no closure. */
export function buildHandlerChain(filters: readonly Filter[], handler: Handler): Handler {
  let chain = handler;
  for (let i = filters.length - 1; i >= 0; i--) {
    const filter = filters[i]!;
    const next = chain;
    chain = (req, res) => filter(req, res, next);
  }
  return chain;
}
