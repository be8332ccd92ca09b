// The outermost filter (kube-apiserver's WithPanicRecovery): a failure no inner step answered is logged and, when the
// client has had no answer yet, answered with 500, instead of becoming an unhandled rejection that stops the process.
// Every 5xx the server answers is logged here too, with the error it was made from (kube logs each 5xx with its
// error through its httplog): a client sees a Status, the operator the cause.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import { canAnswer, sendError, serverErrorOf } from '../http/responses.js';
import type { Filter } from './chain.js';

export function withRecovery(log: Logger): Filter {
  return async (req, res, next) => {
    try {
      await next(req, res);
    } catch (err) {
      log.error('request failed', { method: req.method, url: req.url, error: describe(err) });
      if (canAnswer(res)) sendError(res, err);
      return;
    }
    if (res.statusCode >= 500) logServerError(log, req, res);
  };
}

/** One line for a 5xx answer: the request, the code, and the error behind it (a stack for anything but an ApiError). */
function logServerError(log: Logger, req: IncomingMessage, res: ServerResponse): void {
  const err = serverErrorOf(res);
  log.error('request answered with a server error', { method: req.method, url: req.url, code: res.statusCode, error: err === undefined ? 'no error recorded' : describe(err) });
}

function describe(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
