// /openapi/v3 (the index of group-versions) and /openapi/v3/<api/v1|apis/g/v> documents from api/openapi, hash-addressed.
import type { Request, Response } from 'express';
import { gvPath, openapiGroupVersions, openapiV3, openapiV3Hash, openapiV3Paths } from '../../api/index.js';
import { notFoundPath, sendError } from '../http/responses.js';

const bodies = new Map<string, string>();

const queryParam = (name: string, description: string): object => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMS = [
  queryParam('dryRun', 'When present (All), modifications are not persisted.'),
  queryParam('fieldManager', 'The name of the actor making the change, recorded in managedFields.'),
  queryParam('fieldValidation', 'Ignore, Warn (default) or Strict: how unknown fields in the body are handled.'),
];
const FORCE_PARAM = queryParam('force', 'Apply: take ownership of conflicting fields.');

/**
 * Declares on every write operation the query parameters this server honours. kubectl leaves validation to the
 * server (fieldValidation=Strict) only when the PATCH operation lists fieldValidation; otherwise it wants /openapi/v2.
 */
function withWriteParams(doc: object): object {
  const out = structuredClone(doc) as { paths?: Record<string, Record<string, { parameters?: object[] }>> };
  for (const item of Object.values(out.paths ?? {})) {
    for (const verb of ['post', 'put', 'patch'] as const) {
      const op = item[verb];
      if (!op) continue;
      const have = new Set((op.parameters ?? []).map((p) => (p as { name?: string }).name));
      const add = [...WRITE_PARAMS, ...(verb === 'patch' ? [FORCE_PARAM] : [])].filter((p) => !have.has((p as { name: string }).name));
      op.parameters = [...(op.parameters ?? []), ...add];
    }
  }
  return out;
}

function send(res: Response, body: string, cacheControl: string, etag?: string): void {
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': cacheControl,
    ...(etag ? { ETag: `"${etag}"` } : {}),
  });
  res.end(body);
}

/** Documents of group-versions served beside the built-in ones (custom resources), each with its hash. */
export interface OpenApiSource {
  groupVersions(): string[];
  document(groupVersion: string): { doc: object; hash: string } | undefined;
}

/** The document of a group-version (built-in or from `extra`) with its hash, or undefined. */
export function openapiDocument(gv: string, extra?: OpenApiSource): { doc: object; hash: string } | undefined {
  if (openapiGroupVersions().includes(gv)) return { doc: openapiV3(gv), hash: openapiV3Hash(gv) };
  return extra?.document(gv);
}

/** Every group-version with a document. */
export function documentGroupVersions(extra?: OpenApiSource): string[] {
  return [...openapiGroupVersions(), ...(extra?.groupVersions() ?? [])];
}

export function openapiHandler(req: Request, res: Response, extra?: OpenApiSource): void {
  const rest = req.path.replace(/^\/openapi\/v3\/?/, '');
  if (rest === '') {
    const paths = openapiV3Paths();
    for (const gv of extra?.groupVersions() ?? []) paths[gvPath(gv)] = { serverRelativeURL: `/openapi/v3/${gvPath(gv)}?hash=${extra?.document(gv)?.hash ?? ''}` };
    send(res, JSON.stringify({ paths }), 'no-cache, private');
    return;
  }
  const gv = documentGroupVersions(extra).find((v) => gvPath(v) === rest);
  const found = gv === undefined ? undefined : openapiDocument(gv, extra);
  if (!found) {
    sendError(res, notFoundPath());
    return;
  }
  const hash = found.hash;
  let body = bodies.get(hash);
  if (body === undefined) bodies.set(hash, (body = JSON.stringify(withWriteParams(found.doc))));
  // A URL carrying the current hash names this exact document: clients may cache it for good.
  const pinned = new URL(req.url, 'https://localhost').searchParams.get('hash') === hash;
  send(res, body, pinned ? 'public, immutable, max-age=31536000' : 'no-cache, private', hash);
}
