// The request an admission plugin runs for: who makes it (webhooks' AdmissionReview, policies' `request`) and where
// its warnings go (Warning headers). Set once per request by a filter after authentication, read anywhere below it in
// the same async flow.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import type { Filter } from '../filters/chain.js';
import { addWarning as addResponseWarning } from '../http/responses.js';
import type { UserInfo } from '../filters/authentication.js';

interface RequestContext {
  user: UserInfo;
  res: ServerResponse;
}

const current = new AsyncLocalStorage<RequestContext>();

/** The authenticated user of the request being served; undefined for the server's own writes. */
export function requestUser(): UserInfo | undefined {
  return current.getStore()?.user;
}

/** Adds a warning to the response of the request being served (a `299 - "text"` Warning header), as kube's admission warnings. */
export function addWarning(text: string): void {
  const res = current.getStore()?.res;
  if (res) addResponseWarning(res, text);
}

/** The filter: runs the rest of the chain with the request's user and response in context. */
export const withAdmissionContext: Filter = (req, res, next) => (req.user ? current.run({ user: req.user, res }, () => next(req, res)) : next(req, res));
