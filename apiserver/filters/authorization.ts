// Authorization (kube-apiserver's authorizer.Authorizer and WithAuthorization): every request, resource or not, is
// put to the Authorizer as Attributes once authenticated; anything but "allow" is answered 403 Forbidden in kube's
// words. The only authorizer so far is AlwaysAllow (kube's --authorization-mode=AlwaysAllow); the access reviews
// (reviews/) ask the same one, so that they answer what the server does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errors } from '../../api/errors.js';
import { goQuote } from '../../api/quote.js';
import type { Logger } from '../../lib/logger.js';
import type { RequestInfo } from '../http/request-info.js';
import { sendError } from '../http/responses.js';
import type { UserInfo } from './authentication.js';
import { ANSWERED, type Filter, type Handler } from './chain.js';

/** What is asked (kube's authorizer.Attributes). Resource requests name a resource; the others only a path. */
export interface Attributes {
  user: UserInfo;
  /** get, list, watch, create, update, patch, delete, deletecollection; for non-resource requests the lower-case method. */
  verb: string;
  /** A namespace object's own name counts as its namespace, as in kube-apiserver. */
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
  path: string;
  resourceRequest: boolean;
}

export type Decision = 'allow' | 'deny' | 'no-opinion';

export interface AuthorizationResult {
  decision: Decision;
  /** Why, for the 403 message and the access reviews (may be empty). */
  reason: string;
}

export interface Authorizer {
  authorize(attrs: Attributes): AuthorizationResult | Promise<AuthorizationResult>;
}

/** A rule as SelfSubjectRulesReview lists it (authorization.k8s.io/v1 ResourceRule, NonResourceRule). */
export interface ResourceRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
}
export interface NonResourceRule {
  verbs: string[];
  nonResourceURLs: string[];
}
export interface Rules {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
  /** Some rules could not be read: the lists may lack some. */
  incomplete: boolean;
}

/** What a user may do in a namespace (kube's authorizer.RuleResolver), for SelfSubjectRulesReview. */
export interface RuleResolver {
  rulesFor(user: UserInfo, namespace: string): Rules | Promise<Rules>;
}

const ALLOW: AuthorizationResult = { decision: 'allow', reason: 'no authorizer is configured: every authenticated request is allowed' };
const EVERYTHING: Rules = {
  resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
  nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
  incomplete: false,
};

/** kube's AlwaysAllow: every authenticated request is allowed, and every rule is everyone's. */
export const alwaysAllow: Authorizer & RuleResolver = {
  authorize: () => ALLOW,
  rulesFor: () => EVERYTHING,
};

const UNKNOWN: Rules = { resourceRules: [], nonResourceRules: [], incomplete: true };

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

function resourceAttributes(user: UserInfo, ri: RequestInfo): Attributes {
  const namespace = ri.resource === 'namespaces' && ri.group === '' ? ri.name : ri.namespace;
  return {
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

/** The authorization filter: the request goes on only when the authorizer allows it. */
export function withAuthorization(authorizer: Authorizer, log: Logger): Filter {
  // AlwaysAllow's answer is known without asking: no Attributes are built for it (what kube does with no authorizer).
  if (authorizer === alwaysAllow) return (req, res, next) => next(req, res);
  return (req, res, next) => {
    const attrs = attributesOf(req);
    let result: AuthorizationResult | Promise<AuthorizationResult>;
    try {
      result = authorizer.authorize(attrs);
    } catch (err) {
      return authorizerFailed(res, attrs, err, log);
    }
    if (result instanceof Promise) {
      return result.then(
        (r) => decided(req, res, next, attrs, r, log),
        (err: unknown) => authorizerFailed(res, attrs, err, log),
      );
    }
    return decided(req, res, next, attrs, result, log);
  };
}

function decided(req: IncomingMessage, res: ServerResponse, next: Handler, attrs: Attributes, r: AuthorizationResult, log: Logger): Promise<void> {
  if (r.decision === 'allow') return next(req, res);
  log.debug('request forbidden', { user: attrs.user.name, verb: attrs.verb, resource: attrs.resource, path: attrs.path, decision: r.decision, reason: r.reason });
  sendError(res, forbidden(attrs, r.reason));
  return ANSWERED;
}

function authorizerFailed(res: ServerResponse, attrs: Attributes, err: unknown, log: Logger): Promise<void> {
  // An authorizer that fails has allowed nothing: the request is refused, and the failure is the server's (500).
  log.error('authorizer failed', { user: attrs.user.name, verb: attrs.verb, path: attrs.path, error: String(err) });
  sendError(res, errors.internal('the request could not be authorized'));
  return ANSWERED;
}
