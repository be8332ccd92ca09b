// The request-info filter (kube-apiserver's WithRequestInfo): the resource a request names is resolved once, before
// authentication, so that audit, authorization, metrics and the handlers all read the same answer.
import { requestInfoBeyondProxy, resolveRequest, splitTarget } from '../http/request-info.js';
import type { Filter } from './chain.js';

export const withRequestInfo: Filter = (req, res, next) => {
  const { pathname, query } = splitTarget(req.url ?? '/');
  const method = req.method ?? 'GET';
  try {
    req.requestInfo = resolveRequest(method, pathname, query);
  } catch (err) {
    // Answered by the resource handler, after authentication (an anonymous client learns nothing of the path).
    req.requestInfoError = err;
    req.requestInfo = requestInfoBeyondProxy(method, pathname, query);
  }
  return next(req, res);
};
