// Resolves a resource URL (/api/v1/namespaces/ns/pods/name/status, /apis/apps/v1/watch/deployments) into a RequestInfo.
import { errors } from '../api/errors.js';
import { notFoundPath } from './http.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RequestInfo {
  group: string;
  version: string;
  resource: string;
  /** '' for cluster-wide requests and cluster-scoped resources */
  namespace: string;
  name: string;
  subresource: string;
  verb: Verb;
}

/** Subresources of namespaces that sit right after the name (`/api/v1/namespaces/x/status`). */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** undefined when the path is not a resource path (discovery, /version, ...). */
export function resolveRequest(method: string, pathname: string, query: URLSearchParams): RequestInfo | undefined {
  const segments = pathname.split('/').filter((p) => p !== '');
  const parts = pathname.includes('%') ? segments.map(decodeURIComponent) : segments;
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
  const watchParam = query.get('watch');
  const isWatch = watchPath || watchParam === 'true' || watchParam === '1';
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
      throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
  }
  return { group, version, resource, namespace, name, subresource, verb };
}

/** A path WHATWG URL parsing leaves as it is: plain characters, no dot segments. */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~:@!$&'()*+,;=/]*$/;
const DOT_SEGMENT = /\/\.\.?(\/|$)/;

/** The request target's path and query as `new URL` gives them; a plain path (the usual case) skips the URL parser. */
export function splitTarget(target: string): { pathname: string; query: URLSearchParams } {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path) && !target.includes('#')) {
    return { pathname: path, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) };
  }
  const url = new URL(target, 'https://localhost');
  return { pathname: url.pathname, query: url.searchParams };
}
