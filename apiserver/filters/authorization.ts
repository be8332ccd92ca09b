// Authorization (kube-apiserver's authorizer.Authorizer and WithAuthorization): every request, resource or not, is
// put to the Authorizer as Attributes once authenticated (and impersonation resolved); anything but "allow" is answered
// 403 Forbidden in kube's words, and the decision is noted for the audit log. The server's authorizer is the union of
// --authorization-mode's (authorization/union.ts); the access reviews (reviews/) ask the same one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errors } from '../../api/errors.js';
import { goQuote } from '../../api/quote.js';
import type { Logger } from '../../lib/logger.js';
import type { RequestInfo } from '../http/request-info.js';
import { sendError } from '../http/responses.js';
import { parseFieldSelector } from '../registry/selectors.js';
import type { Attributes, AuthorizationResult, Authorizer, RuleResolver, RulesResult, UserInfo } from '../authorization/types.js';
import { annotateAudit } from './audit-context.js';
import { ANSWERED, type Filter, type Handler } from './chain.js';

export type { Attributes, AuthorizationResult, Authorizer, Decision, NonResourceRuleInfo, ResourceRuleInfo, RuleResolver, RulesResult } from '../authorization/types.js';

const ALLOW: AuthorizationResult = { decision: 'allow', reason: 'no authorizer is configured: every authenticated request is allowed' };
const EVERYTHING: RulesResult = {
  resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
  nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
  incomplete: false,
  errors: [],
};

/** kube's AlwaysAllow: every authenticated request is allowed, and every rule is everyone's. */
export const alwaysAllow: Authorizer & RuleResolver = {
  authorize: () => ALLOW,
  rulesFor: () => EVERYTHING,
};

const UNKNOWN: RulesResult = { resourceRules: [], nonResourceRules: [], incomplete: true, errors: [] };

/** The rules an authorizer resolves; one that resolves none gives no rules, marked incomplete (as kube's). */
export function rulesOf(authorizer: Authorizer & Partial<RuleResolver>): RuleResolver {
  return authorizer.rulesFor ? (authorizer as RuleResolver) : { rulesFor: () => UNKNOWN };
}

const NOBODY: UserInfo = { name: '', groups: [] };

/** The Attributes of a request, from the user authentication found and the RequestInfo resolved at the chain's start. */
export function attributesOf(req: IncomingMessage): Attributes {
  const ri = req.requestInfoError === undefined ? req.requestInfo : undefined;
  const user = req.user ?? NOBODY;
  return ri ? resourceAttributes(user, ri) : nonResourceAttributes(user, (req.method ?? 'GET').toLowerCase(), pathOf(req.url ?? '/'));
}

/** The name a `metadata.name=X` (or `==`) field selector pins, as kube's RequestInfoFactory reads it for list and watch. */
function selectedName(fieldSelector: string): string {
  try {
    const r = parseFieldSelector(fieldSelector).find((t) => t.field === 'metadata.name' && t.op === '=');
    // IsValidPathSegmentName: a name that could not be a path segment pins nothing.
    return r && r.value !== '.' && r.value !== '..' && !r.value.includes('/') && !r.value.includes('%') ? r.value : '';
  } catch (err) {
    if (err instanceof ApiError) return ''; // malformed: the handler answers 400 on its own
    throw err;
  }
}

export function resourceAttributes(user: UserInfo, ri: RequestInfo): Attributes {
  const namespace = ri.resource === 'namespaces' && ri.group === '' ? ri.name : ri.namespace;
  const attrs: Attributes = {
    user,
    verb: ri.verb,
    namespace,
    apiGroup: ri.group,
    apiVersion: ri.version,
    resource: ri.resource,
    subresource: ri.subresource,
    name: ri.name,
    path: ri.path,
    resourceRequest: true,
  };
  if (ri.verb === 'list' || ri.verb === 'watch' || ri.verb === 'deletecollection') {
    const fieldSelector = ri.query.get('fieldSelector');
    if (fieldSelector) {
      attrs.fieldSelector = fieldSelector;
      if (ri.verb !== 'deletecollection' && !ri.name) attrs.name = selectedName(fieldSelector);
    }
  }
  return attrs;
}

export function nonResourceAttributes(user: UserInfo, verb: string, path: string): Attributes {
  return { user, verb, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '', path, resourceRequest: false };
}

function pathOf(url: string): string {
  const q = url.search(/[?#]/);
  return q < 0 ? url : url.slice(0, q);
}

/** kube-apiserver's Forbidden answer: `pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace "a"`. */
export function forbidden(attrs: Attributes, reason: string): ApiError {
  const who = `User ${goQuote(attrs.user.name)} cannot ${attrs.verb}`;
  let what: string;
  if (!attrs.resourceRequest) what = `${who} path ${goQuote(attrs.path)}`;
  else {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const scope = attrs.namespace ? `in the namespace ${goQuote(attrs.namespace)}` : 'at the cluster scope';
    what = `${who} resource ${goQuote(resource)} in API group ${goQuote(attrs.apiGroup)} ${scope}`;
  }
  const why = reason ? `${what}: ${reason}` : what;
  // A non-resource request names no resource: "forbidden: ...", with empty details, as kube's NewForbidden.
  if (!attrs.resourceRequest) return errors.forbiddenOn({ group: '', resource: '' }, why);
  return errors.forbiddenOn({ group: attrs.apiGroup, resource: attrs.resource, name: attrs.name }, why);
}

/** The audit annotations of a decision (kube's authorization.k8s.io/decision and .../reason). */
const DECISION_ANNOTATION = 'authorization.k8s.io/decision';
const REASON_ANNOTATION = 'authorization.k8s.io/reason';

/** The authorization filter: the request goes on only when the authorizer allows it. */
export function withAuthorization(authorizer: Authorizer, log: Logger): Filter {
  // AlwaysAllow's answer is known without asking: no Attributes are built for it (what kube does with no authorizer).
  if (authorizer === alwaysAllow) return (req, res, next) => next(req, res);
  return (req, res, next) => {
    const attrs = attributesOf(req);
    let r: AuthorizationResult;
    try {
      r = authorizer.authorize(attrs);
    } catch (err) {
      // An authorizer that fails has allowed nothing: the request is refused, and the failure is the server's (500).
      log.error('authorizer failed', { user: attrs.user.name, verb: attrs.verb, path: attrs.path, error: String(err) });
      sendError(res, errors.internal('the request could not be authorized'));
      return ANSWERED;
    }
    return decided(req, res, next, attrs, r, log);
  };
}

function decided(req: IncomingMessage, res: ServerResponse, next: Handler, attrs: Attributes, r: AuthorizationResult, log: Logger): Promise<void> {
  const allowed = r.decision === 'allow';
  if (req.audit) {
    annotateAudit(req, DECISION_ANNOTATION, allowed ? 'allow' : 'forbid');
    if (r.reason) annotateAudit(req, REASON_ANNOTATION, r.reason);
  }
  if (allowed) return next(req, res);
  log.debug('request forbidden', { user: attrs.user.name, verb: attrs.verb, resource: attrs.resource, path: attrs.path, decision: r.decision, reason: r.reason });
  sendError(res, forbidden(attrs, r.reason));
  return ANSWERED;
}
