// The API server component: HTTPS with authentication, discovery, OpenAPI and the resource API over a Storage.
// A host process (`ketch server`) starts it with startApiServer() and stops it with close().
import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import express from 'express';
import { ApiError, errors, type Status } from '../api/errors.js';
import { findByResource } from '../api/resources.js';
import { logger as makeLogger, type Logger } from '../lib/logger.js';
import { SYSTEM_PRIORITY_CLASSES, type PriorityClass, type ServiceAccount } from '../api/index.js';
import { namespaceLifecycle, SYSTEM_NAMESPACES } from './admission/namespace-lifecycle.js';
import { Authenticator, loadTokenFile, type TokenAuthenticator, type UserInfo } from './filters/authentication.js';
import { aggregatedDiscovery, AGGREGATED_CONTENT_TYPE, apiGroupDoc, apiGroupList, apiResourceList, apiVersions, VERSION_INFO, wantsAggregated } from './handlers/discovery.js';
import { handleResource, serveWatchUpgrade, WatchLimiter, type HandlerContext } from './handlers/rest.js';
import { WebSocketServer } from 'ws';
import { notFoundPath, sendError, sendJson } from './http/http.js';
import { openapiHandler } from './handlers/openapi.js';
import { ensurePki, kubeconfigYaml } from './pki/pki.js';
import { proxyNodeGet } from './nodeproxy/node-stats.js';
import { proxyPodUpgrade, type NodeProxyDeps, type ProxyNode, type ProxyPod } from './nodeproxy/node-proxy.js';
import { priorityAdmission } from './admission/priority.js';
import { Registry, type Admission, type Clock, type Store } from './registry/index.js';
import { serviceAccountAdmission } from './serviceaccount/admission.js';
import { NamespaceContentPublisher } from './serviceaccount/publisher.js';
import { handleTokenRequest, serviceAccountAuthenticator, type ServiceAccountTokenDeps } from './serviceaccount/token-request.js';
import { ensureServiceAccountKey, TokenIssuer } from './serviceaccount/tokens.js';
import type { ServiceRanges } from './registry/kinds/service.js';
import { isWatchTarget, resolveRequest, splitTarget, type RequestInfo } from './http/request-info.js';
import { Deadlines } from './filters/deadlines.js';
import { fetchSummary, isMetricsRequest, serveMetrics, type MetricsDeps } from './nodeproxy/metrics-api.js';
import { ApiServerMetrics } from './filters/metrics.js';
import { serveReview } from './reviews/reviews.js';
import { InFlightLimiter } from './filters/inflight.js';
import type { Storage } from './storage/interface.js';

export interface ApiServerOptions {
  dataDir: string;
  /** 0 picks a free port. */
  securePort: number;
  bindAddress: string;
  storage: Storage;
  logger?: Logger;
  /** kube-apiserver token file (token,user,uid,"group1,group2"); default DIR/token-file, created with an admin token. */
  tokenFile?: string;
  clock?: Clock;
  /** Idle time after which a watch that allows bookmarks gets one (default 10s). */
  watchBookmarkIntervalMs?: number;
  /** Watches without timeoutSeconds end after a random time in [min, 2*min) seconds (default 1800). */
  minRequestTimeoutSec?: number;
  /** Non-watch requests taking longer get 504 (default 60s). */
  requestTimeoutMs?: number;
  maxWatches?: number;
  /** Bytes a watcher may leave unread before it is cut off (default 16 MiB). */
  watchMaxBufferedBytes?: number;
  /** Non-mutating requests in flight before 429 (kube-apiserver's --max-requests-inflight, default 400; 0: no limit). */
  maxRequestsInflight?: number;
  /** Mutating requests in flight before 429 (--max-mutating-requests-inflight, default 200; 0: no limit). */
  maxMutatingRequestsInflight?: number;
  serviceRanges?: ServiceRanges;
}

export interface ApiServer {
  port: number;
  url: string;
  caCertPem: string;
  adminKubeconfigPath: string;
  close(): Promise<void>;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by authentication; read by the authorizer that comes later. */
    user?: UserInfo;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The token file to use; a missing default one is created with a random admin token. */
async function loadTokens(dataDir: string, tokenFile: string | undefined, log: Logger, more: TokenAuthenticator[], apiAudiences: readonly string[]): Promise<Authenticator> {
  const path = tokenFile ?? join(dataDir, 'token-file');
  if (!tokenFile && !(await exists(path))) {
    const token = randomBytes(24).toString('hex');
    await writeFile(path, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
    log.info('token file created', { path });
  }
  return new Authenticator(await loadTokenFile(path), more, apiAudiences);
}

function clientAddress(bind: string, port: number): string {
  const host = bind === '0.0.0.0' || bind === '::' || bind === '' ? '127.0.0.1' : bind;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.logger ?? makeLogger('apiserver');
  const clock: Clock = opts.clock ?? { now: () => new Date() };
  const pki = await ensurePki(opts.dataDir, [opts.bindAddress]);

  const admission: Admission[] = [];
  const bookmarkIntervalMs = opts.watchBookmarkIntervalMs ?? 10_000;
  // /metrics (see filters/metrics.ts): open watches are read from the limiter at each scrape; storage calls are timed.
  const apiMetrics = new ApiServerMetrics(() => watches.size);
  const registry = new Registry(apiMetrics.instrumentStorage(opts.storage), {
    clock,
    admission,
    ...(opts.serviceRanges ? { serviceRanges: opts.serviceRanges } : {}),
    watchCache: { bookmarkIntervalMs, onError: (msg, fields) => log.warn(msg, fields) },
  });
  const storeOf = (group: string, resource: string): Store => {
    const s = registry.byResource(group, 'v1', resource);
    if (!s) throw new Error(`${resource} missing from the resource table`);
    return s;
  };
  const namespaces = storeOf('', 'namespaces');
  const podStore = storeOf('', 'pods');
  const nodeStore = storeOf('', 'nodes');
  const serviceAccounts = storeOf('', 'serviceaccounts');
  const priorityClasses = storeOf('scheduling.k8s.io', 'priorityclasses');
  admission.push(
    // Admission reads from the stores' in-memory caches (informers, in kube-apiserver): no storage round trip per pod.
    namespaceLifecycle((name) => namespaces.lookup('', name)),
    priorityAdmission({
      get: async (name) => (await priorityClasses.lookup('', name)) as unknown as PriorityClass | undefined,
      list: async () => (await priorityClasses.lookupAll()) as unknown as PriorityClass[],
    }),
    serviceAccountAdmission({ getServiceAccount: async (ns, name) => (await serviceAccounts.lookup(ns, name)) as unknown as ServiceAccount | undefined }),
  );

  const tokens: ServiceAccountTokenDeps = {
    issuer: new TokenIssuer(await ensureServiceAccountKey(opts.dataDir), clock),
    getServiceAccount: (ns, name) => serviceAccounts.get(ns, name),
    getPod: (ns, name) => podStore.get(ns, name),
    clock,
  };
  const authn = await loadTokens(opts.dataDir, opts.tokenFile, log, [serviceAccountAuthenticator(tokens, log)], tokens.issuer.apiAudiences);
  const publisher = new NamespaceContentPublisher({ namespaces, serviceAccounts, configMaps: storeOf('', 'configmaps') }, pki.ca.certPem, log);

  const watches = new WatchLimiter(opts.maxWatches ?? 1000);
  const nodeProxy: NodeProxyDeps = {
    getPod: async (ns, name) => (await podStore.get(ns, name)) as unknown as ProxyPod,
    getNode: async (name) => (await nodeStore.get('', name)) as unknown as ProxyNode,
    clientCert: { cert: pki.kubeletClient.certPem, key: pki.kubeletClient.keyPem },
  };
  const ctx: HandlerContext = {
    nodeProxy,
    serviceAccountToken: (req, res, ri) => handleTokenRequest(req, res, ri, tokens),
    registry,
    clock,
    log,
    watches,
    bookmarkIntervalMs,
    minWatchTimeoutSec: opts.minRequestTimeoutSec ?? 1800,
    watchMaxBufferedBytes: opts.watchMaxBufferedBytes ?? 16 * 1024 * 1024,
  };
  const requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
  let serverAddress = '';

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);

  // Authentication first: every request, including discovery and health, needs a token or a client certificate.
  const authenticate = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    authn.authenticate(req).then(
      (user) => {
        req.user = user;
        next();
      },
      (err: unknown) => {
        log.debug('request unauthenticated', { method: req.method, url: req.url });
        sendError(res, err);
      },
    );
  };
  app.use(apiMetrics.middleware);
  app.use(authenticate);

  // Bounded in-flight requests: past a pool's limit, 429 with Retry-After (see filters/inflight.ts).
  const inflight = new InFlightLimiter(opts.maxRequestsInflight ?? 400, opts.maxMutatingRequestsInflight ?? 200);
  const overloaded = errors.tooManyRequests('Too many requests, please try again later.');
  /** The release function of an admitted request (undefined when not counted), or null after answering 429. */
  const admit = (req: IncomingMessage, res: ServerResponse): (() => void) | null | undefined => {
    const release = inflight.admit(req, req.user);
    if (release === null) sendError(res, overloaded);
    return release;
  };
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const release = admit(req, res);
    if (release === null) return;
    if (release) res.once('close', release);
    next();
  });

  // Non-watch requests get a deadline; a request still unanswered then gets a 504 Status.
  const deadlines = new Deadlines(requestTimeoutMs, (res) => {
    if (!res.headersSent) sendError(res, errors.timeout(`the request did not complete within ${requestTimeoutMs / 1000}s`));
  });
  const logRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // The per-request log line costs a listener and a closure: only when it would be written.
    if (typeof log.isDebugEnabled !== 'function' || log.isDebugEnabled()) {
      const started = Date.now();
      res.on('finish', () => log.debug('request', { method: req.method, url: req.url, code: res.statusCode, ms: Date.now() - started, user: req.user?.name }));
    }
  };
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (!isWatchTarget(req.url ?? '/')) {
      deadlines.add(res);
      res.on('close', () => deadlines.delete(res));
    }
    logRequest(req, res);
    next();
  });

  app.get('/version', (_req, res) => sendJson(res, 200, VERSION_INFO));
  app.get('/metrics', (_req, res) => void apiMetrics.serve(res).catch((err: unknown) => sendError(res, err)));
  for (const path of ['/healthz', '/livez', '/readyz']) {
    app.get([path, `${path}/*`], (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, private', 'X-Content-Type-Options': 'nosniff' });
      res.end('ok');
    });
  }
  app.get('/api', (req, res) => {
    if (wantsAggregated(req.headers.accept)) sendJson(res, 200, aggregatedDiscovery(true), AGGREGATED_CONTENT_TYPE);
    else sendJson(res, 200, apiVersions(serverAddress));
  });
  app.get('/apis', (req, res) => {
    if (wantsAggregated(req.headers.accept)) sendJson(res, 200, aggregatedDiscovery(false), AGGREGATED_CONTENT_TYPE);
    else sendJson(res, 200, apiGroupList());
  });
  app.get('/api/:version', (req, res) => {
    const doc = apiResourceList('', req.params.version ?? '');
    if (doc) sendJson(res, 200, doc);
    else sendError(res, notFoundPath());
  });
  app.get('/apis/:group', (req, res) => {
    const doc = apiGroupDoc(req.params.group ?? '');
    if (doc) sendJson(res, 200, doc);
    else sendError(res, notFoundPath());
  });
  app.get('/apis/:group/:version', (req, res) => {
    const doc = apiResourceList(req.params.group ?? '', req.params.version ?? '');
    if (doc) sendJson(res, 200, doc);
    else sendError(res, notFoundPath());
  });
  app.get(['/openapi/v3', '/openapi/v3/*'], (req, res) => openapiHandler(req, res));
  app.get('/openapi/v2', (_req, res) => sendError(res, notFoundPath()));
  app.get(['/api/v1/nodes/:name/proxy', '/api/v1/nodes/:name/proxy/*'], (req, res) => {
    const prefix = `/api/v1/nodes/${req.params.name ?? ''}/proxy`;
    const url = new URL(req.url, 'https://localhost');
    proxyNodeGet(res, req.params.name ?? '', url.pathname.slice(prefix.length), url.search, nodeProxy).catch((err: unknown) => sendError(res, err));
  });

  // metrics.k8s.io (kubectl top): read from the agents on request; discovery lists it beside the stored resources.
  const metrics: MetricsDeps = {
    listNodes: async (labelSelector) => (await nodeStore.list('', labelSelector ? { labelSelector } : {})).items as never,
    listPods: async (ns, labelSelector, fieldSelector) =>
      (await podStore.list(ns, { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) })).items as never,
    summary: fetchSummary(nodeProxy),
    now: () => clock.now(),
    log,
  };
  app.all('/apis/metrics.k8s.io/v1beta1/*', (req, res, next) => {
    if (isMetricsRequest(req.path)) void serveMetrics(req, res, metrics);
    else next();
  });

  // authentication.k8s.io and authorization.k8s.io reviews (kubectl auth whoami / can-i, TokenReview): answered, not stored.
  app.all(['/apis/authentication.k8s.io/*', '/apis/authorization.k8s.io/*'], (req, res) => {
    serveReview(req, res, req.user ?? { name: '', groups: [] }, { reviewToken: (token, audiences) => authn.reviewToken(token, audiences) }).catch((err: unknown) =>
      sendError(res, err),
    );
  });

  const resource = (req: IncomingMessage, res: ServerResponse): Promise<void> =>
    serveResource(req, res, ctx).catch((err: unknown) => {
      if (!(err instanceof ApiError)) log.error('request failed', { method: req.method, url: req.url, error: (err as Error).stack ?? String(err) });
      sendError(res, err);
    });
  app.use((req: IncomingMessage, res: ServerResponse) => void resource(req, res));
  // Resource requests, which express would route to `resource` after the two steps above, skip its router and
  // request decoration: a third of the CPU of a small request. Their deadline ends when the handler has answered,
  // which needs no listener on the response.
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    if (!isResourcePath(url)) return void app(req, res);
    const started = performance.now();
    authenticate(req, res, () => {
      logRequest(req, res);
      if (isWatchTarget(url)) {
        apiMetrics.recordOnClose(req, res, started);
        return void resource(req, res);
      }
      const release = admit(req, res);
      if (release === null) return apiMetrics.record(req, res, started);
      deadlines.add(res);
      void resource(req, res).then(() => {
        release?.();
        if (res.headersSent) deadlines.delete(res);
        apiMetrics.record(req, res, started);
      });
    });
  };

  const server: Server = createServer(
    {
      key: pki.serving.keyPem,
      cert: pki.serving.certPem,
      ca: pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    route,
  );
  server.headersTimeout = 60_000;
  server.requestTimeout = 0; // watches are long; per-request deadlines are enforced above
  server.keepAliveTimeout = 65_000;
  // Watches over WebSocket: one JSON WatchEvent per message; what a client sends is not read (64 KiB at most).
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const watchUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, ri: RequestInfo, q: URLSearchParams): Promise<void> =>
    serveWatchUpgrade(req, ri, q, ctx, () => new Promise((resolve) => wss.handleUpgrade(req, socket, head, resolve)));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(req, socket, head, authn, nodeProxy, watchUpgrade));
  // CONNECT (a proxy tunnel) is no method of this API: a 405 Status instead of Node's silent hang-up.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    endWithStatus(socket, errors.methodNotAllowed('the server does not allow this method on the requested resource'));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.securePort, opts.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.securePort;
  serverAddress = clientAddress(opts.bindAddress, port);
  const url = `https://${serverAddress}`;

  publisher.start();
  try {
    await bootstrapNamespaces(registry, log);
    await publisher.syncNow(SYSTEM_NAMESPACES);
    await bootstrapPriorityClasses(priorityClasses, log);
  } catch (err) {
    publisher.stop();
    server.close();
    throw err;
  }

  const adminKubeconfigPath = join(opts.dataDir, 'admin.kubeconfig');
  await writeFile(adminKubeconfigPath, kubeconfigYaml({ server: url, caPem: pki.ca.certPem, user: 'admin', client: pki.admin }), { mode: 0o600 });
  log.info('api server listening', { url, kubeconfig: adminKubeconfigPath });

  return {
    port,
    url,
    caCertPem: pki.ca.certPem,
    adminKubeconfigPath,
    async close() {
      deadlines.close();
      publisher.stop();
      watches.stopAll();
      registry.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setImmediate(() => server.closeAllConnections());
      });
    },
  };
}

/** /api/v1/<more> and /apis/<group>/<version>/<more>, but not the paths with routes of their own (node proxy, metrics.k8s.io, reviews). */
const RESOURCE_PATH = /^\/(api\/[^/?]+|apis\/(?!metrics\.k8s\.io\/|authentication\.k8s\.io\/|authorization\.k8s\.io\/)[^/?]+\/[^/?]+)\/[^/?]/;
const NODE_PROXY_PATH = /^\/api\/v1\/nodes\/[^/?]+\/proxy([/?]|$)/;
function isResourcePath(url: string): boolean {
  return RESOURCE_PATH.test(url) && !NODE_PROXY_PATH.test(url);
}

async function serveResource(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext): Promise<void> {
  const { pathname, query } = splitTarget(req.url ?? '/');
  const ri = resolveRequest(req.method ?? 'GET', pathname, query);
  if (!ri) throw notFoundPath();
  req.requestInfo = ri;
  await handleResource(req, res, ri, query, req.user ?? { name: '', groups: [] }, ctx);
}

async function bootstrapNamespaces(registry: Registry, log: Logger): Promise<void> {
  const info = findByResource('', 'v1', 'namespaces');
  if (!info) return;
  const store = registry.store(info);
  for (const name of SYSTEM_NAMESPACES) {
    try {
      await store.create('', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { fieldManager: 'ketch-apiserver' });
      log.info('namespace created', { namespace: name });
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
    }
  }
}

/** The built-in PriorityClasses (system-node-critical, system-cluster-critical), as kube-apiserver's post-start hook. */
async function bootstrapPriorityClasses(store: Store, log: Logger): Promise<void> {
  for (const pc of SYSTEM_PRIORITY_CLASSES) {
    try {
      await store.create(
        '',
        { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: pc.name }, value: pc.value, description: pc.description },
        { fieldManager: 'ketch-apiserver' },
      );
      log.info('priority class created', { name: pc.name });
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
    }
  }
}

/** exec, attach and portforward arrive as protocol upgrades: authenticate, then tunnel to the pod's node agent. */
/** Answers on a raw socket (an upgrade or CONNECT that Node's HTTP server handed over) with a Status, then closes it. */
function endWithStatus(socket: Duplex, err: unknown): void {
  const status: Status = (err instanceof ApiError ? err : errors.internal(String(err))).status;
  const body = JSON.stringify(status);
  socket.end(`HTTP/1.1 ${status.code} ${status.reason || 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

type WatchUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, ri: RequestInfo, q: URLSearchParams) => Promise<void>;

function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, authn: Authenticator, nodeProxy: NodeProxyDeps, watchUpgrade: WatchUpgrade): void {
  socket.on('error', () => socket.destroy());
  authn.authenticate(req).then((user) => {
    req.user = user;
    const { pathname, query } = splitTarget(req.url ?? '/');
    const ri = resolveRequest('GET', pathname, query);
    if (ri?.verb === 'watch') return watchUpgrade(req, socket, head, ri, query);
    if (!ri || ri.resource !== 'pods' || !['exec', 'attach', 'portforward'].includes(ri.subresource)) {
      throw errors.badRequest('this endpoint does not support protocol upgrades');
    }
    return proxyPodUpgrade(req, socket, head, ri.namespace, ri.name, ri.subresource, query, nodeProxy);
  }).catch((err: unknown) => {
    // After the handshake the socket belongs to the WebSocket: nothing more to answer on it.
    if (!socket.destroyed && socket.writable) endWithStatus(socket, err);
  });
}

export type { UserInfo } from './filters/authentication.js';
