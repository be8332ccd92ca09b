// Request logging (kube-apiserver's WithHTTPLogging): one debug line per request once its connection is done with it.
import type { Logger } from '../../lib/logger.js';
import type { Filter } from './chain.js';

export function withRequestLog(log: Logger): Filter {
  return (req, res, next) => {
    // The line costs a listener and a closure: only when it would be written.
    if (typeof log.isDebugEnabled !== 'function' || log.isDebugEnabled()) {
      const started = Date.now();
      // 'close', not 'finish': an upgraded request's socket is handed on, and its response never finishes.
      res.once('close', () => log.debug('request', { method: req.method, url: req.url, code: res.statusCode, ms: Date.now() - started, user: req.user?.name }));
    }
    return next(req, res);
  };
}
