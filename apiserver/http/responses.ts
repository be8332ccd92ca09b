// The response side of HTTP shared by every layer: Status and JSON answers, also on the raw socket of an upgrade.
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApiError, errors, type Status } from '../../api/errors.js';
import { auditResponse, auditResponseStatus } from '../filters/audit-context.js';

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
  auditResponse(res, data);
  res.end(data);
}

export function sendStatus(res: ServerResponse, status: Status): void {
  if (status.status === 'Failure') auditResponseStatus(res, status);
  sendJson(res, status.code, status);
}

/** kube's limits on warnings: at most 4 KiB of Warning headers per answer; the rest is dropped. */
const MAX_WARNING_BYTES = 4096;

/** Adds a `Warning: 299 - "text"` header (kube's warning.AddWarning): kubectl prints each as "Warning: text"; repeats are sent once. */
export function addWarning(res: ServerResponse, text: string): void {
  if (res.headersSent) return;
  const value = `299 - ${JSON.stringify(text)}`;
  const cur = res.getHeader('Warning');
  const list = cur === undefined ? [] : Array.isArray(cur) ? cur : [String(cur)];
  if (list.includes(value)) return;
  if (list.reduce((n, v) => n + v.length, value.length) > MAX_WARNING_BYTES) return;
  res.setHeader('Warning', [...list, value]);
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

/**
 * A response on the raw socket Node's HTTP server hands over for an upgrade (or CONNECT), so that these requests pass
 * the same handler chain, and are answered the same way, as the others. The socket is closed once an answer is sent.
 */
export function responseOnSocket(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  // The server's sockets are net.Sockets (TLS ones); the event types them as the Duplex they are used as.
  res.assignSocket(socket as Socket);
  res.once('finish', () => socket.end());
  return res;
}

/** Responses whose socket now speaks another protocol (a WebSocket, a tunnel): no HTTP answer may be written there. */
const hijacked = new WeakSet<ServerResponse>();

/** Marks an upgraded request's socket as handed on; its response counts as 101 Switching Protocols (metrics, logs). */
export function hijack(res: ServerResponse): void {
  hijacked.add(res);
  res.statusCode = 101;
  res.req?.audit?.responseStarted?.();
}

/** Whether an answer can still be written: none sent yet, the connection open, and the socket not handed on. */
export function canAnswer(res: ServerResponse): boolean {
  return !res.headersSent && !res.destroyed && !hijacked.has(res);
}
