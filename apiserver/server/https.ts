// The HTTPS server: TLS (1.2 at least, kube's cipher suites) with optional client certificates, every request and every
// upgrade into the one handler chain.
import { createServer, type Server } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { errors } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import { SERVER_TLS } from '../../lib/tls.js';
import { markLocalConnection } from '../filters/authentication.js';
import type { Handler } from '../filters/chain.js';
import { responseOnSocket, sendError } from '../http/responses.js';
import { rememberUpgrade } from '../http/upgrades.js';
import type { ClusterPki } from '../pki/pki.js';

export function httpsServer(pki: ClusterPki, chain: Handler, log: Logger): Server {
  const server = createServer(
    { ...SERVER_TLS, key: pki.serving.keyPem, cert: pki.serving.certPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => void chain(req, res),
  );
  return wire(server, chain, log);
}

/**
 * The same handler chain over plain HTTP on a Unix socket, for the components this process hosts (its controller
 * manager and scheduler threads): no TLS records to seal and open for every request and watch event between threads of
 * one process. Only the socket's owner may reach it (its directory is 0700); every request still authenticates, with
 * a token made for each component at this start (Authenticator.localToken), taken on this socket's connections only.
 */
export function localServer(chain: Handler, log: Logger): HttpServer {
  const server = createHttpServer((req, res) => void chain(req, res));
  server.on('connection', (socket) => markLocalConnection(socket));
  return wire(server, chain, log);
}

/** Longest Unix socket path (sun_path is 108 bytes with its NUL on Linux). */
export const MAX_SOCKET_PATH = 107;

/**
 * Listens on the Unix socket at `path`, in a directory made 0700. A socket file left by a server that is gone (a
 * crash: nothing accepts on it) is removed first; one that answers belongs to a running server, and is an error.
 */
export async function listenLocal(server: HttpServer, path: string, dir: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new Error(`local socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (await answers(path)) throw new Error(`another API server listens on ${path}`);
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Whether something accepts connections on the Unix socket at path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function wire<S extends Server | HttpServer>(server: S, chain: Handler, log: Logger): S {
  server.headersTimeout = 60_000;
  server.requestTimeout = 0; // watches are long; per-request deadlines are the chain's (filters/deadlines.ts)
  server.keepAliveTimeout = 65_000;
  // exec, attach, portforward and watches over WebSocket: the same chain, answering on the raw socket until handed on.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => dropSocket(socket, err, log));
    rememberUpgrade(req, socket, head);
    void chain(req, responseOnSocket(req, socket));
  });
  // CONNECT (a proxy tunnel) is no method of this API: a 405 Status instead of Node's silent hang-up.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', (err) => dropSocket(socket, err, log));
    sendError(responseOnSocket(req, socket), errors.methodNotAllowed());
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

/** A raw socket's error (a reset by the client, mostly): the connection is over, and so is what was on it. */
function dropSocket(socket: Duplex, err: Error, log: Logger): void {
  log.debug('connection failed', { error: err.message });
  socket.destroy();
}

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Stops accepting, and ends every connection (idle ones at once, the others on the next turn). */
export function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setImmediate(() => server.closeAllConnections());
  });
}

/** host:port for clients of a server bound to `bind` (a wildcard bind is reached on loopback). */
export function clientAddress(bind: string, port: number): string {
  const host = bind === '0.0.0.0' || bind === '::' || bind === '' ? '127.0.0.1' : bind;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
