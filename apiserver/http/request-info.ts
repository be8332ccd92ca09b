// Resolves a resource URL (/api/v1/namespaces/ns/pods/name/status, /apis/apps/v1/watch/deployments) into a RequestInfo.
import { errors } from '../../api/errors.js';
import { queryBool } from '../../api/query.js';
import { paramPattern, targetParam } from './requests.js';
import { notFoundPath } from './responses.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** A resource request, resolved from its method and path (kube-apiserver's RequestInfo for resource requests). */
export interface RequestInfo {
  group: string;
  version: string;
  resource: string;
  /** '' for cluster-wide requests and cluster-scoped resources (and for a namespace object itself: see attributesOf) */
  namespace: string;
  name: string;
  subresource: string;
  verb: Verb;
  /** The path as sent (not normalised) and the query. */
  path: string;
  query: URLSearchParams;
}

declare module 'node:http' {
  interface IncomingMessage {
    /**
     * The resource the request names, resolved once at the start of the handler chain (see filters/request-info.ts);
     * undefined for other paths (discovery, /version, /metrics...).
     */
    requestInfo?: RequestInfo;
    /** Why the path names no resource although it has the form of one: the resource handler answers with it. */
    requestInfoError?: unknown;
  }
}

/** Subresources of namespaces that sit right after the name (`/api/v1/namespaces/x/status`). */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** A percent-decoded path segment; broken encoding is the client's error (400). */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw errors.badRequest(`malformed percent-encoding in the request path: ${JSON.stringify(segment.slice(0, 100))}`);
  }
}

/**
 * Whether a request target is a watch: a /watch/ path, or a `watch` parameter whose first value converts to true as
 * kube converts booleans (`watch=1`, `watch=true`, `watch=True`, `watch`). A cheap test on the raw target: most
 * targets do not contain "watch" at all.
 */
export function isWatchTarget(target: string): boolean {
  if (!target.includes('watch')) return false;
  if (WATCH_PATH.test(target)) return true;
  const v = targetParam(target, WATCH_PARAM);
  return v !== undefined && queryBool(v);
}
const WATCH_PARAM = paramPattern('watch');
// /api/VERSION/watch/... or /apis/GROUP/VERSION/watch/... (not a namespace or object named watch).
const WATCH_PATH = /^\/(api\/[^/?]+|apis\/[^/?]+\/[^/?]+)\/watch\//;

/** undefined when the path is not a resource path (discovery, /version, ...). */
export function resolveRequest(method: string, pathname: string, query: URLSearchParams): RequestInfo | undefined {
  // "/a//b" or "//a" has an empty segment: no route (as in kube-apiserver), where skipping it would make
  // ".../pods//p" delete p and "//api/v1/pods" every pod. One trailing slash is tolerated.
  const segments = pathname.split('/').slice(1);
  if (segments.at(-1) === '') segments.pop();
  if (segments.includes('')) throw notFoundPath();
  const parts = pathname.includes('%') ? segments.map(decodeSegment) : segments;
  for (const p of parts) {
    // kube-apiserver's IsValidPathSegmentName: no "." or "..", and no "/" (from %2F) inside a segment.
    if (p === '.' || p === '..') throw errors.badRequest(`invalid path segment: may not be '${p}'`);
    if (p.includes('/')) throw errors.badRequest(`invalid path segment ${JSON.stringify(p.slice(0, 100))}: may not contain '/'`);
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    version = parts[1] ?? '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] ?? '';
    version = parts[2] ?? '';
    rest = parts.slice(3);
  } else return undefined;
  if (rest.length === 0) return undefined;
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    namespace = rest[1] ?? '';
    if (rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2] ?? '')) rest = rest.slice(2);
    else namespace = '';
  }
  if (rest.length === 0 || rest.length > 3) throw notFoundPath();
  const [resource = '', name = '', subresource = ''] = rest;
  // The namespace object itself: its name is its namespace for authorization, but not for storage.
  if (resource === 'namespaces') namespace = '';
  const isWatch = watchPath || queryBool(query.get('watch'));
  let verb: Verb;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = isWatch ? 'watch' : name ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      throw errors.methodNotAllowed();
  }
  // As kube-apiserver routes them: objects are created on their collection, and changed one at a time.
  if ((verb === 'create' && name && !subresource) || ((verb === 'update' || verb === 'patch') && !name)) {
    throw errors.methodNotAllowed();
  }
  return { group, version, resource, namespace, name, subresource, verb, path: pathname, query };
}

/**
 * What a path that resolveRequest refuses still names, for metrics and authorization: a node proxy path goes on
 * after .../proxy/ (that part is the node's business, not a resource). undefined when it names nothing.
 */
export function requestInfoBeyondProxy(method: string, pathname: string, query: URLSearchParams): RequestInfo | undefined {
  const proxy = pathname.indexOf('/proxy/');
  if (proxy < 0) return undefined;
  try {
    return resolveRequest(method, pathname.slice(0, proxy + 6), query);
  } catch {
    // Refused up to /proxy too: the request names no resource, and is labelled and authorized by its path.
    return undefined;
  }
}

/**
 * The request target's path (as sent: not normalised) and query. Dot segments are not resolved, as kube-apiserver
 * does not resolve them: ".../services/.." must not become the namespace (resolveRequest refuses such segments).
 */
export function splitTarget(target: string): { pathname: string; query: URLSearchParams } {
  const hash = target.indexOf('#');
  const t = hash < 0 ? target : target.slice(0, hash);
  const q = t.indexOf('?');
  return { pathname: q < 0 ? t : t.slice(0, q), query: new URLSearchParams(q < 0 ? '' : t.slice(q + 1)) };
}
