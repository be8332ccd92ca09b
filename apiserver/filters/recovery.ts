// The outermost filter (kube-apiserver's WithPanicRecovery): a failure no inner step answered is logged and, when the
// client has had no answer yet, answered with 500, instead of becoming an unhandled rejection that stops the process.
import type { Logger } from '../../lib/logger.js';
import { canAnswer, sendError } from '../http/responses.js';
import type { Filter } from './chain.js';

export function withRecovery(log: Logger): Filter {
  return (req, res, next) =>
    next(req, res).catch((err: unknown) => {
      log.error('request failed', { method: req.method, url: req.url, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      if (canAnswer(res)) sendError(res, err);
    });
}
