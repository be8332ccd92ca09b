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

export function openapiHandler(req: Request, res: Response): void {
  const rest = req.path.replace(/^\/openapi\/v3\/?/, '');
  if (rest === '') {
    send(res, JSON.stringify({ paths: openapiV3Paths() }), 'no-cache, private');
    return;
  }
  const gv = openapiGroupVersions().find((v) => gvPath(v) === rest);
  if (!gv) {
    sendError(res, notFoundPath());
    return;
  }
  let body = bodies.get(gv);
  if (body === undefined) bodies.set(gv, (body = JSON.stringify(withWriteParams(openapiV3(gv)))));
  const hash = openapiV3Hash(gv);
  // A URL carrying the current hash names this exact document: clients may cache it for good.
  const pinned = new URL(req.url, 'https://localhost').searchParams.get('hash') === hash;
  send(res, body, pinned ? 'public, immutable, max-age=31536000' : 'no-cache, private', hash);
}
