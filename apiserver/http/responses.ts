// The response side of HTTP shared by every layer: Status and JSON answers, also on the raw socket of an upgrade.
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApiError, errors, statusOf, type Status, type StatusDetails } from '../../api/errors.js';
import { auditResponse, auditResponseStatus } from '../filters/audit-context.js';
import { parseGoBool } from '../../api/query.js';
import { paramPattern, targetParam } from './requests.js';

/** No route for the path: kube's answer from go-restful's 404, with an empty details. */
export const notFoundPath = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  sendEncoded(res, code, res.headersSent ? '' : JSON.stringify(body), contentType);
}

/** Sends JSON already serialized (a stored object's bytes, see Store.json); indented when the client asks (pretty). */
export function sendEncoded(res: ServerResponse, code: number, data: string | Buffer, contentType = 'application/json'): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (wantsPretty(res.req) && contentType.startsWith('application/json')) data = JSON.stringify(JSON.parse(data.toString()), null, 2);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': typeof data === 'string' ? Buffer.byteLength(data) : data.length, 'Cache-Control': 'no-cache, private' });
  auditResponse(res, data);
  res.end(data);
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

const PRETTY_PARAM = paramPattern('pretty');

/**
 * kube-apiserver's isPrettyPrint: a non-empty `pretty` parameter decides, read with strconv.ParseBool (not as the
 * other booleans: "yes" is not pretty); without one, curl, Wget and browsers get indented JSON.
 */
export function wantsPretty(req: IncomingMessage | undefined): boolean {
  if (!req) return false;
  const url = req.url ?? '';
  const pretty = url.includes('pretty') ? targetParam(url, PRETTY_PARAM) : undefined;
  if (pretty) return parseGoBool(pretty) ?? false;
  const ua = req.headers['user-agent'];
  return ua !== undefined && (ua.startsWith('curl') || ua.startsWith('Wget') || ua.startsWith('Mozilla/5.0'));
}

export function sendStatus(res: ServerResponse, status: Status): void {
  if (status.status === 'Failure') auditResponseStatus(res, status);
  sendJson(res, status.code ?? 200, status);
}

/** The errors behind 5xx answers, kept until the request is logged (filters/recovery.ts). */
const serverErrors = new WeakMap<ServerResponse, unknown>();

export function sendError(res: ServerResponse, err: unknown): Status {
  const apiErr = err instanceof ApiError ? err : errors.internal(err instanceof Error ? err.message : String(err));
  if (apiErr.code >= 500) serverErrors.set(res, err);
  if (apiErr.status.details?.retryAfterSeconds !== undefined && !res.headersSent) res.setHeader('Retry-After', String(apiErr.status.details.retryAfterSeconds));
  sendStatus(res, apiErr.status);
  return apiErr.status;
}

/** The error a 5xx answer was made from (sendError), for the log line every 5xx gets. */
export function serverErrorOf(res: ServerResponse): unknown {
  return serverErrors.get(res);
}

/**
 * A Success Status as kube writes it: a deleted object's (kube's finalizeDelete: name, group, resource, uid, and no
 * code), or with the code of the answer when given (a created binding or eviction: 201).
 */
export function successStatus(details: StatusDetails | undefined, code?: number): Status {
  return statusOf('Success', code ?? 0, '', '', details);
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
