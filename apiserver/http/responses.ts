// The response side of HTTP shared by every layer: Status and JSON answers.
import type { ServerResponse } from 'node:http';
import { ApiError, errors, type Status } from '../../api/errors.js';

export const notFoundPath = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource');

export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  sendEncoded(res, code, res.headersSent ? '' : JSON.stringify(body), contentType);
}

/** Sends JSON already serialized (a stored object's bytes, see Store.json). */
export function sendEncoded(res: ServerResponse, code: number, data: string | Buffer, contentType = 'application/json'): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': typeof data === 'string' ? Buffer.byteLength(data) : data.length, 'Cache-Control': 'no-cache, private' });
  res.end(data);
}

export function sendStatus(res: ServerResponse, status: Status): void {
  sendJson(res, status.code, status);
}

export function sendError(res: ServerResponse, err: unknown): Status {
  const apiErr = err instanceof ApiError ? err : errors.internal(err instanceof Error ? err.message : String(err));
  if (apiErr.status.details?.retryAfterSeconds !== undefined && !res.headersSent) res.setHeader('Retry-After', String(apiErr.status.details.retryAfterSeconds));
  sendStatus(res, apiErr.status);
  return apiErr.status;
}

export function successStatus(details: { name?: string; group?: string; kind?: string; uid?: string }): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', message: '', reason: '', details, code: 200 };
}
