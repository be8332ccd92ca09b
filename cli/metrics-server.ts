// The secure port of `ketch controller-manager` and `ketch scheduler` run apart (kube-controller-manager's 10257 and
// kube-scheduler's 10259): /metrics for callers the API server vouches for (a bearer token checked with a TokenReview,
// then a SubjectAccessReview for `get` on the non-resource path /metrics, as kube's delegated authentication and
// authorization do; the agent's checks, agent/auth.ts), and /healthz, /livez and /readyz for anyone (kube's
// --authorization-always-allow-paths). The serving certificate is self-signed, made at start (kube's, without
// --tls-cert-file, is too). Hosted in `ketch server`, the components serve no port: their metrics are on the API
// server's /metrics.
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentAuth, AgentAuthError } from '../agent/auth.js';
import { selfSignedCert } from '../agent/server.js';
import type { RestClient } from '../client/rest.js';
import type { FlagTable } from '../lib/flags.js';
import type { Logger } from '../lib/logger.js';
import { SERVER_TLS } from '../lib/tls.js';

/** The serving flags of a component run apart, with its kube default port. */
export const servingFlags = (defaultPort: number): FlagTable => [
  { name: '--secure-port', kind: 'int', arg: 'port', default: String(defaultPort), description: 'HTTPS port of /metrics and /healthz (0: do not serve)' },
  { name: '--bind-address', kind: 'string', arg: 'ip', default: '0.0.0.0', description: 'address the secure port listens on' },
];

export interface MetricsServerOptions {
  /** The component's own client: it asks the API server for the token and access reviews. */
  rest: RestClient;
  /** "kube-controller-manager" or "kube-scheduler": the certificate's name. */
  name: string;
  port: number;
  address: string;
  metrics(): Promise<string>;
  log: Logger;
}

const HEALTH = new Set(['/healthz', '/livez', '/readyz']);

function answer(res: ServerResponse, code: number, text: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-cache, private', 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse, auth: AgentAuth, o: MetricsServerOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://component').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'method not allowed\n');
  if (HEALTH.has(path)) return answer(res, 200, 'ok');
  if (path !== '/metrics') return answer(res, 404, '404 page not found\n');
  try {
    await auth.checkPath(req, path);
  } catch (err) {
    if (err instanceof AgentAuthError) return answer(res, err.code, `${err.message}\n`);
    throw err;
  }
  answer(res, 200, await o.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
}

/** Serves the component's secure port until close(); resolves once it listens (port: the one bound, for port 0). */
export async function serveComponentMetrics(o: MetricsServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${o.name}-serving-`));
  let tls: { cert: string; key: string };
  try {
    tls = await selfSignedCert(dir, [o.name, 'localhost', '127.0.0.1']);
  } finally {
    await rm(dir, { recursive: true, force: true }); // kept in memory only, as kube's self-signed certificate
  }
  const auth = new AgentAuth(o.rest, o.name);
  const server = createServer({ ...SERVER_TLS, ...tls }, (req, res) => {
    handle(req, res, auth, o).catch((err: unknown) => {
      o.log.warn('metrics request failed', { path: req.url, error: String(err) });
      if (!res.headersSent) answer(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  o.log.info('serving securely', { address: o.address, port });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
