// Impersonation (kube-apiserver's WithImpersonation): Impersonate-User, Impersonate-Group, Impersonate-Uid and
// Impersonate-Extra-<key> headers (kubectl --as, --as-group, --as-uid) make the request act as another user, once the
// authorizer allows the `impersonate` verb on each thing asked for (users, groups, serviceaccounts, uids,
// userextras/<key>). The audit event keeps both users; the headers are removed before the request goes on.
import type { IncomingMessage } from 'node:http';
import { errors } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import { sendError } from '../http/responses.js';
import type { Attributes, Authorizer, UserInfo } from '../authorization/types.js';
import { auditImpersonation } from './audit-context.js';
import { forbidden } from './authorization.js';
import { ANSWERED, type Filter } from './chain.js';

const USER = 'impersonate-user';
const GROUP = 'impersonate-group';
const UID = 'impersonate-uid';
const EXTRA_PREFIX = 'impersonate-extra-';
const SA_PREFIX = 'system:serviceaccount:';
const AUTHENTICATED = 'system:authenticated';
const UNAUTHENTICATED = 'system:unauthenticated';
const ANONYMOUS = 'system:anonymous';

/** One thing to be allowed to impersonate, as the authorization request it is. */
interface Ask {
  resource: 'users' | 'groups' | 'serviceaccounts' | 'uids' | 'userextras';
  apiGroup: string;
  namespace: string;
  name: string;
  subresource: string;
}

const values = (req: IncomingMessage, header: string): string[] => (req.headersDistinct[header] ?? []).filter((v) => v !== '');

/** serviceaccount.SplitUsername: system:serviceaccount:NS:NAME with both parts non-empty. */
function splitServiceAccount(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SA_PREFIX)) return undefined;
  const parts = user.slice(SA_PREFIX.length).split(':');
  return parts.length === 2 && parts[0] && parts[1] ? { namespace: parts[0], name: parts[1] } : undefined;
}

/** The impersonated user and what must be allowed for it; undefined when the request impersonates nobody. */
function impersonationOf(req: IncomingMessage): { user: UserInfo; asks: Ask[] } | undefined {
  const name = values(req, USER)[0] ?? '';
  const groups = values(req, GROUP);
  const uid = values(req, UID)[0] ?? '';
  const extraHeaders = Object.keys(req.headersDistinct).filter((h) => h.startsWith(EXTRA_PREFIX));
  if (!name && !groups.length && !uid && !extraHeaders.length) return undefined;
  if (!name) throw errors.internal('requested impersonation of groups, a uid or extra fields without impersonating a user');
  const asks: Ask[] = [];
  const ask = (resource: Ask['resource'], n: string, extra: Partial<Ask> = {}): void => void asks.push({ resource, apiGroup: '', namespace: '', name: n, subresource: '', ...extra });
  const sa = splitServiceAccount(name);
  let userGroups: string[] = [];
  if (sa) {
    ask('serviceaccounts', sa.name, { namespace: sa.namespace });
    // A service account's groups are known: they stand unless groups are given.
    if (!groups.length) userGroups = ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`];
  } else ask('users', name);
  for (const g of groups) {
    ask('groups', g);
    userGroups.push(g);
  }
  const extra: Record<string, string[]> = {};
  for (const h of extraHeaders) {
    // The key is percent-encoded in the header name (unescapeExtraKey).
    let key = h.slice(EXTRA_PREFIX.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      // not encoded after all: the key is the header's text as is
    }
    for (const v of values(req, h)) {
      ask('userextras', v, { apiGroup: 'authentication.k8s.io', subresource: key });
      (extra[key] ??= []).push(v);
    }
  }
  if (uid) ask('uids', uid, { apiGroup: 'authentication.k8s.io' });
  // system:authenticated is added unless a group says otherwise; the anonymous user gets system:unauthenticated.
  if (name !== ANONYMOUS) {
    if (!userGroups.includes(AUTHENTICATED) && !userGroups.includes(UNAUTHENTICATED)) userGroups.push(AUTHENTICATED);
  } else if (!userGroups.includes(UNAUTHENTICATED)) userGroups.push(UNAUTHENTICATED);
  const user: UserInfo = { name, ...(uid ? { uid } : {}), groups: userGroups, ...(Object.keys(extra).length ? { extra } : {}) };
  return { user, asks };
}

/** The impersonation filter: runs after authentication (and audit), before the in-flight limits and authorization. */
export function withImpersonation(authorizer: Authorizer, log: Logger): Filter {
  return (req, res, next) => {
    // Most requests impersonate nobody: one look at the headers.
    const h = req.headers;
    if (h[USER] === undefined && h[GROUP] === undefined && h[UID] === undefined && !Object.keys(h).some((k) => k.startsWith(EXTRA_PREFIX))) return next(req, res);
    let found: ReturnType<typeof impersonationOf>;
    try {
      found = impersonationOf(req);
    } catch (err) {
      sendError(res, err);
      return ANSWERED;
    }
    const requestor = req.user;
    if (!found || !requestor) return next(req, res);
    for (const a of found.asks) {
      const attrs: Attributes = { user: requestor, verb: 'impersonate', apiVersion: '', path: '', resourceRequest: true, ...a };
      const r = authorizer.authorize(attrs);
      if (r.decision !== 'allow') {
        log.debug('impersonation forbidden', { user: requestor.name, resource: a.resource, name: a.name, reason: r.reason });
        sendError(res, forbidden(attrs, r.reason));
        return ANSWERED;
      }
    }
    req.user = found.user;
    auditImpersonation(req, found.user);
    for (const k of Object.keys(h)) if (k === USER || k === GROUP || k === UID || k.startsWith(EXTRA_PREFIX)) delete h[k];
    return next(req, res);
  };
}
