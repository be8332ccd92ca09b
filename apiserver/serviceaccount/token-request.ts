// serviceaccounts/token: the TokenRequest API (authentication.k8s.io/v1), and the authenticator for the tokens it issues.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errors } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { TokenAuthenticator, TokenUser } from '../filters/authentication.js';
import { parseBody } from '../handlers/body.js';
import { readBody } from '../http/requests.js';
import { sendJson } from '../http/responses.js';
import { isObject, rfc3339, type Obj } from '../registry/object.js';
import type { RequestInfo } from '../http/request-info.js';
import { requestScope } from '../handlers/context.js';
import type { AdmissionAttributes } from '../registry/rest.js';
import { serviceAccountUsername, type TokenIssuer } from './tokens.js';

const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;
const DEFAULT_EXPIRATION_SECONDS = 3600;

export interface ServiceAccountTokenDeps {
  issuer: TokenIssuer;
  getServiceAccount(namespace: string, name: string): Promise<Obj>;
  getPod(namespace: string, name: string): Promise<Obj>;
  /**
   * The account and the pod a token names, as authentication checks them on every request: from the API server's
   * cache when it has this server's writes (a miss reads storage), undefined when absent.
   */
  lookupServiceAccount(namespace: string, name: string): Promise<Obj | undefined>;
  lookupPod(namespace: string, name: string): Promise<Obj | undefined>;
  /** The admission chain of serviceaccounts (a TokenRequest is admitted as a serviceaccounts/token create: NodeRestriction). */
  admit?(attrs: Omit<AdmissionAttributes, 'info'>): Promise<boolean | void>;
  clock: { now(): Date };
}

const invalid = (name: string, field: string, value: unknown, detail: string): ApiError =>
  errors.invalid('TokenRequest', 'authentication.k8s.io', name, [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` }]);

/** POST .../serviceaccounts/NAME/token: a signed JWT for the account, bound to a pod when boundObjectRef names one. */
export async function handleTokenRequest(req: IncomingMessage, res: ServerResponse, ri: RequestInfo, deps: ServiceAccountTokenDeps): Promise<void> {
  if (ri.verb !== 'create') throw errors.methodNotAllowed(`${ri.verb} is not supported on serviceaccounts/token`);
  // JSON, or protobuf from typed clients (kubectl create token).
  const raw = await readBody(req);
  const body = raw.length ? parseBody(req, raw) : {};
  if (!isObject(body)) throw errors.badRequest('the body is not a TokenRequest object');
  if ((body.kind ?? 'TokenRequest') !== 'TokenRequest' || (body.apiVersion ?? 'authentication.k8s.io/v1') !== 'authentication.k8s.io/v1') {
    throw errors.badRequest(`the body is a ${String(body.apiVersion)} ${String(body.kind)}, not an authentication.k8s.io/v1 TokenRequest`);
  }
  const spec = isObject(body.spec) ? body.spec : {};
  const expirationSeconds = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
  if (typeof expirationSeconds !== 'number' || !Number.isInteger(expirationSeconds)) throw invalid(ri.name, 'spec.expirationSeconds', expirationSeconds, 'must be an integer');
  if (expirationSeconds < MIN_EXPIRATION_SECONDS) throw invalid(ri.name, 'spec.expirationSeconds', expirationSeconds, 'may not specify a duration less than 10 minutes');
  if (expirationSeconds > MAX_EXPIRATION_SECONDS) throw invalid(ri.name, 'spec.expirationSeconds', expirationSeconds, 'may not specify a duration larger than 2^32 seconds');
  const audiences = Array.isArray(spec.audiences) ? spec.audiences.filter((a): a is string => typeof a === 'string' && a !== '') : [];
  const tokenRequest: Obj = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: { name: ri.name, namespace: ri.namespace }, spec };
  await deps.admit?.({ operation: 'create', subresource: 'token', namespace: ri.namespace, name: ri.name, obj: tokenRequest, scope: requestScope(req, res), dryRun: ri.query.getAll('dryRun').length > 0 });

  const sa = await deps.getServiceAccount(ri.namespace, ri.name);
  const ref = isObject(spec.boundObjectRef) ? spec.boundObjectRef : undefined;
  let pod: { name: string; uid: string } | undefined;
  if (ref) {
    if (ref.kind !== 'Pod' || (ref.apiVersion ?? 'v1') !== 'v1') throw errors.badRequest(`cannot bind token for object of kind ${String(ref.kind)}: only v1 Pods are supported`);
    const p = await deps.getPod(ri.namespace, String(ref.name ?? ''));
    if (typeof ref.uid === 'string' && ref.uid !== '' && ref.uid !== p.metadata.uid) {
      throw errors.conflict(
        { group: '', resource: 'pods', name: p.metadata.name ?? '' },
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
    const podSa = isObject(p.spec) ? p.spec.serviceAccountName : undefined;
    if ((podSa || 'default') !== ri.name) throw errors.badRequest(`cannot bind token to pod ${ri.namespace}/${p.metadata.name ?? ''}: it runs as service account "${String(podSa)}", not "${ri.name}"`);
    pod = { name: p.metadata.name ?? '', uid: p.metadata.uid ?? '' };
  }
  const { token, expires } = await deps.issuer.issue(
    { namespace: ri.namespace, serviceAccount: { name: ri.name, uid: sa.metadata.uid ?? '' }, ...(pod ? { pod } : {}) },
    audiences,
    expirationSeconds,
  );
  sendJson(res, 201, {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name: ri.name, namespace: ri.namespace, creationTimestamp: rfc3339(deps.clock.now()) },
    spec: {
      audiences: audiences.length ? audiences : [...deps.issuer.apiAudiences],
      expirationSeconds,
      ...(ref ? { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod?.name, uid: pod?.uid } } : {}),
    },
    status: { token, expirationTimestamp: rfc3339(expires) },
  });
}

/** Whether a token has the three dot-separated parts of a compact JWS (counted without splitting a kilobyte string). */
function isJwsShaped(token: string): boolean {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  return second > 0 && token.indexOf('.', second + 1) < 0;
}

/**
 * Accepts this server's service-account JWTs while the account (and the pod the token is bound to) still exists
 * with the uid the token names; anything else is not this authenticator's token (401 follows).
 */
export function serviceAccountAuthenticator(deps: ServiceAccountTokenDeps, log: Logger): TokenAuthenticator {
  return async (token, audiences): Promise<TokenUser | undefined> => {
    if (!isJwsShaped(token)) return undefined;
    let claims;
    try {
      claims = await deps.issuer.verify(token, audiences?.length ? audiences : undefined);
    } catch (err) {
      log.debug('service account token refused', { error: (err as Error).message });
      return undefined;
    }
    const { namespace, serviceAccount } = claims;
    const sa = await deps.lookupServiceAccount(namespace, serviceAccount.name);
    if (!sa || sa.metadata.uid !== serviceAccount.uid) {
      log.debug('service account token refused', { reason: 'service account gone', namespace, name: serviceAccount.name });
      return undefined;
    }
    if (claims.pod) {
      const pod = await deps.lookupPod(namespace, claims.pod.name);
      const deleted = pod?.metadata.deletionTimestamp && new Date(pod.metadata.deletionTimestamp).getTime() <= deps.clock.now().getTime();
      if (!pod || pod.metadata.uid !== claims.pod.uid || deleted) {
        log.debug('service account token refused', { reason: 'bound pod gone', namespace, pod: claims.pod.name });
        return undefined;
      }
    }
    return {
      user: { name: serviceAccountUsername(namespace, serviceAccount.name), uid: serviceAccount.uid, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`] },
      audiences: claims.audiences,
    };
  };
}
