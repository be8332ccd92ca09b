// Registry errors as the OCI distribution spec writes them: an HTTP status and {"errors":[{code,message,detail}]}.
import type { ServerResponse } from 'node:http';

export type ErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNKNOWN';

export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
    /** Extra response headers (WWW-Authenticate on 401). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const blobUnknown = (digest: string): RegistryError => new RegistryError(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest });
export const manifestUnknown = (ref: string): RegistryError => new RegistryError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { reference: ref });
export const nameUnknown = (name: string): RegistryError => new RegistryError(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name });
export const nameInvalid = (name: string): RegistryError => new RegistryError(400, 'NAME_INVALID', 'invalid repository name', { name });
export const digestInvalid = (message: string, detail?: unknown): RegistryError => new RegistryError(400, 'DIGEST_INVALID', message, detail);
export const uploadUnknown = (id: string): RegistryError => new RegistryError(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
export const manifestInvalid = (message: string, detail?: unknown): RegistryError => new RegistryError(400, 'MANIFEST_INVALID', message, detail);
export const unsupported = (message: string): RegistryError => new RegistryError(405, 'UNSUPPORTED', message);

/** Writes an error body (none for HEAD, as the spec says). */
export function sendError(res: ServerResponse, err: RegistryError, head: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify({ errors: [{ code: err.code, message: err.message, ...(err.detail !== undefined ? { detail: err.detail } : {}) }] }));
  res.writeHead(err.status, { ...err.headers, 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(head ? undefined : body);
}
