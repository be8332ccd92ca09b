// Reviews: authentication.k8s.io and authorization.k8s.io kinds that are created, answered and never stored.
//   SelfSubjectReview          who am I (kubectl auth whoami)
//   TokenReview                who does this bearer token stand for, for which audiences (services checking callers)
//   SelfSubjectAccessReview    may I (kubectl auth can-i); SelfSubjectRulesReview: what may I (can-i --list)
//   SubjectAccessReview        may this user; LocalSubjectAccessReview: the same within one namespace
// The access reviews ask the Authorizer the handler chain asks (filters/authorization.ts), and the rules review its
// RuleResolver: they answer what the server does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, type StatusCause } from '../../api/errors.js';
import { REVIEWS } from '../../api/resources.js';
import type { TokenUser, UserInfo } from '../filters/authentication.js';
import { nonResourceAttributes, type Attributes, type Authorizer, type RuleResolver } from '../filters/authorization.js';
import { checkUnknownFields, fieldValidationParam, parseBody } from '../handlers/body.js';
import { readBody } from '../http/requests.js';
import { notFoundPath, sendJson } from '../http/responses.js';
import { isObject, type JsonObject, type Obj } from '../registry/object.js';
import { decodeSegment } from '../http/request-info.js';
import { rulesReviewStatus } from '../authorization/rules-review.js';

const VERSION = 'v1';
const ROUTE = /^\/apis\/(authentication\.k8s\.io|authorization\.k8s\.io)\/v1\/(?:namespaces\/([^/]+)\/)?([^/]+)$/;

export interface ReviewDeps {
  reviewToken(token: string, audiences: readonly string[]): Promise<TokenUser | undefined>;
  authorizer: Authorizer;
  rules: RuleResolver;
}

export async function serveReview(req: IncomingMessage, res: ServerResponse, user: UserInfo, deps: ReviewDeps): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const m = ROUTE.exec(path);
  const info = m && REVIEWS.find((r) => r.group === m[1] && r.resource === m[3] && r.namespaced === (m[2] !== undefined));
  if (!m || !info) throw notFoundPath();
  if (req.method !== 'POST') throw errors.methodNotAllowed(`the server does not allow this method on the requested resource: ${info.resource} can only be created`);
  const body = parseBody(req, await readBody(req));
  if (!isObject(body)) throw errors.badRequest(`the body is not a ${info.kind} object`);
  const apiVersion = `${info.group}/${VERSION}`;
  if ((body.apiVersion ?? apiVersion) !== apiVersion || (body.kind ?? info.kind) !== info.kind) {
    throw errors.badRequest(`the body is a ${String(body.apiVersion)} ${String(body.kind)}, not a ${apiVersion} ${info.kind}`);
  }
  // Unknown fields as for any write: dropped, reported (Warn) or refused (Strict, what kubectl create -f asks for).
  const obj = { ...body, apiVersion, kind: info.kind, metadata: isObject(body.metadata) ? body.metadata : {} } as Obj;
  checkUnknownFields(res, obj, info, fieldValidationParam(new URLSearchParams((req.url ?? '').split('?')[1] ?? '')));
  const meta = obj.metadata as JsonObject;
  const spec = isObject(obj.spec) ? obj.spec : {};
  const namespace = m[2] === undefined ? undefined : decodeSegment(m[2]);
  const answer = (status: JsonObject, extra: JsonObject = {}): void =>
    sendJson(res, 201, { kind: info.kind, apiVersion, metadata: { ...extra, creationTimestamp: null }, ...(info.kind === 'SelfSubjectReview' ? {} : { spec }), status });
  const invalid = (causes: StatusCause[]): Error => errors.invalid(info.kind, info.group, '', causes);

  switch (info.kind) {
    case 'SelfSubjectReview':
      return answer({ userInfo: userInfo(user) });
    case 'TokenReview': {
      const token = typeof spec.token === 'string' ? spec.token : '';
      if (!token) throw errors.badRequest('token is required for TokenReview in authentication');
      const audiences = stringList(spec.audiences);
      const r = await deps.reviewToken(token, audiences);
      return answer(r ? { authenticated: true, user: userInfo(r.user), audiences: r.audiences } : { authenticated: false, error: 'invalid bearer token' });
    }
    case 'SelfSubjectAccessReview':
    case 'SubjectAccessReview':
    case 'LocalSubjectAccessReview': {
      const causes = [...metadataCauses(meta, info.kind === 'LocalSubjectAccessReview'), ...attributeCauses(spec)];
      if (info.kind !== 'SelfSubjectAccessReview' && !spec.user && stringList(spec.groups).length === 0) {
        causes.push({ reason: 'FieldValueInvalid', field: 'spec.user', message: `Invalid value: "": at least one of user or group must be specified` });
      }
      if (info.kind === 'LocalSubjectAccessReview') {
        if (meta.namespace !== undefined && meta.namespace !== namespace) throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
        const attrs = isObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
        if (attrs && (attrs.namespace ?? '') !== namespace) {
          causes.push({ reason: 'FieldValueInvalid', field: 'spec.resourceAttributes.namespace', message: `Invalid value: ${JSON.stringify(attrs.namespace ?? '')}: must match metadata.namespace` });
        }
        if (spec.nonResourceAttributes !== undefined) {
          causes.push({ reason: 'FieldValueInvalid', field: 'spec.nonResourceAttributes', message: 'Invalid value: "object": disallowed on this kind of request' });
        }
      }
      if (causes.length) throw invalid(causes);
      const subject = info.kind === 'SelfSubjectAccessReview' ? user : subjectOf(spec);
      const d = await deps.authorizer.authorize(reviewAttributes(subject, spec));
      const status = { allowed: d.decision === 'allow', ...(d.decision === 'deny' ? { denied: true } : {}), ...(d.reason ? { reason: d.reason } : {}) };
      return answer(status, namespace ? { namespace } : {});
    }
    case 'SelfSubjectRulesReview': {
      const causes = metadataCauses(meta, false);
      if (causes.length) throw invalid(causes);
      const r = await deps.rules.rulesFor(user, typeof spec.namespace === 'string' ? spec.namespace : '');
      return answer(rulesReviewStatus(r));
    }
  }
  throw notFoundPath();
}

/** The user a SubjectAccessReview asks about. */
function subjectOf(spec: JsonObject): UserInfo {
  return { name: typeof spec.user === 'string' ? spec.user : '', ...(typeof spec.uid === 'string' && spec.uid ? { uid: spec.uid } : {}), groups: stringList(spec.groups) };
}

/** The Attributes an access review asks about: its resourceAttributes, or its nonResourceAttributes. */
function reviewAttributes(user: UserInfo, spec: JsonObject): Attributes {
  const str = (o: JsonObject, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
  if (isObject(spec.resourceAttributes)) {
    const a = spec.resourceAttributes;
    return {
      user,
      verb: str(a, 'verb'),
      namespace: str(a, 'namespace'),
      apiGroup: str(a, 'group'),
      apiVersion: str(a, 'version'),
      resource: str(a, 'resource'),
      subresource: str(a, 'subresource'),
      name: str(a, 'name'),
      path: '',
      resourceRequest: true,
    };
  }
  const n = isObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : {};
  return nonResourceAttributes(user, str(n, 'verb'), str(n, 'path'));
}

function userInfo(u: UserInfo): JsonObject {
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: [...u.groups] };
}

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);

/** Access reviews carry no object metadata (a local one its namespace only), as kube-apiserver's validation says. */
function metadataCauses(meta: JsonObject, namespaceAllowed: boolean): StatusCause[] {
  const rest = Object.keys(meta).filter((k) => !(k === 'creationTimestamp' && meta[k] === null) && !(namespaceAllowed && k === 'namespace') && k !== 'managedFields');
  return rest.length ? [{ reason: 'FieldValueInvalid', field: 'metadata', message: `Invalid value: ${JSON.stringify(rest)}: must be empty${namespaceAllowed ? ' except for namespace' : ''}` }] : [];
}

/** Exactly one of resourceAttributes and nonResourceAttributes. */
function attributeCauses(spec: JsonObject): StatusCause[] {
  const resource = spec.resourceAttributes !== undefined && spec.resourceAttributes !== null;
  const nonResource = spec.nonResourceAttributes !== undefined && spec.nonResourceAttributes !== null;
  if (!resource && !nonResource) {
    return [{ reason: 'FieldValueInvalid', field: 'spec.resourceAttributes', message: 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified' }];
  }
  if (resource && nonResource) {
    return [{ reason: 'FieldValueInvalid', field: 'spec.nonResourceAttributes', message: 'Invalid value: "object": cannot be specified in combination with resourceAttributes' }];
  }
  return [];
}
