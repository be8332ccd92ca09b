// The routes at the end of the handler chain. Resource requests, most of the traffic, go straight to the resource
// handler: express's routing and request decoration would cost a third of a small request's CPU. Upgrades go to the
// upgrade handler; the other paths (discovery, OpenAPI, health, /metrics, node proxy, metrics.k8s.io, reviews) to
// express, which falls back to the resource handler (its 404s) for paths it does not know.
import express from 'express';
import type { Handler } from '../filters/chain.js';
import type { ApiServerMetrics } from '../filters/metrics.js';
import { aggregatedContentType, aggregatedDiscovery, type DiscoveryExtra, apiGroupDoc, apiGroupList, apiResourceList, apiVersions, VERSION_INFO, wantsAggregated } from '../handlers/discovery.js';
import { openapiHandler, type OpenApiSource } from '../handlers/openapi.js';
import { openapiV2Handler } from '../handlers/openapi-v2.js';
import { notFoundPath, sendError, sendJson } from '../http/responses.js';
import { upgradeOf } from '../http/upgrades.js';
import { isMetricsRequest, serveMetrics, type MetricsDeps } from '../nodeproxy/metrics-api.js';
import type { NodeProxyDeps } from '../nodeproxy/node-proxy.js';
import { proxyNode } from '../nodeproxy/node-stats.js';
import { serveReview, type ReviewDeps } from '../reviews/reviews.js';

export interface RouteDeps {
  resource: Handler;
  upgrade: Handler;
  metrics: ApiServerMetrics;
  nodeProxy: NodeProxyDeps;
  metricsApi: MetricsDeps;
  reviews: ReviewDeps;
  /** host:port as clients reach the server (legacy /api discovery names it); known once it listens. */
  serverAddress(): string;
  /** OpenAPI documents beyond the built-in ones (custom resources). */
  openapi?: OpenApiSource;
  /** Group-versions served by other servers behind APIServices: proxied there, merged into discovery. */
  aggregator?: { handles(url: string): boolean; proxy: Handler; discovery(): DiscoveryExtra };
}

/** /api/v1/<more> and /apis/<group>/<version>/<more>, but not the paths with routes of their own (node proxy, metrics.k8s.io, reviews). */
const RESOURCE_PATH = /^\/(api\/[^/?]+|apis\/(?!metrics\.k8s\.io\/|authentication\.k8s\.io\/|authorization\.k8s\.io\/)[^/?]+\/[^/?]+)\/[^/?]/;
const NODE_PROXY_PATH = /^\/api\/v1\/nodes\/[^/?]+\/proxy([/?]|$)/;
function isResourcePath(url: string): boolean {
  return RESOURCE_PATH.test(url) && !NODE_PROXY_PATH.test(url);
}

/** The handler at the end of the chain. */
export function routes(deps: RouteDeps): Handler {
  const app = otherRoutes(deps);
  return (req, res) => {
    if (deps.aggregator?.handles(req.url ?? '/')) return deps.aggregator.proxy(req, res);
    if (upgradeOf(req)) return deps.upgrade(req, res);
    if (isResourcePath(req.url ?? '/')) return deps.resource(req, res);
    // express routes answer without telling when they are done: done is when the response closes.
    return new Promise<void>((resolve) => {
      res.once('close', resolve);
      app(req, res);
    });
  };
}

function otherRoutes(deps: RouteDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  app.get('/version', (_req, res) => sendJson(res, 200, VERSION_INFO));
  app.get('/metrics', (_req, res) => void deps.metrics.serve(res).catch((err: unknown) => sendError(res, err)));
  for (const path of ['/healthz', '/livez', '/readyz']) {
    app.get([path, `${path}/*`], (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, private', 'X-Content-Type-Options': 'nosniff' });
      res.end('ok');
    });
  }
  discoveryRoutes(app, deps);
  app.get(['/openapi/v3', '/openapi/v3/*'], (req, res) => openapiHandler(req, res, deps.openapi));
  app.get('/openapi/v2', (req, res) => openapiV2Handler(req, res, deps.openapi));
  app.all(['/api/v1/nodes/:name/proxy', '/api/v1/nodes/:name/proxy/*'], (req, res) => {
    const prefix = `/api/v1/nodes/${req.params.name ?? ''}/proxy`;
    const url = new URL(req.url, 'https://localhost');
    proxyNode(res, req.params.name ?? '', url.pathname.slice(prefix.length), url.search, deps.nodeProxy, req).catch((err: unknown) => sendError(res, err));
  });
  // metrics.k8s.io (kubectl top): read from the agents on request; discovery lists it beside the stored resources.
  app.all('/apis/metrics.k8s.io/v1beta1/*', (req, res, next) => {
    if (isMetricsRequest(req.path)) void serveMetrics(req, res, deps.metricsApi);
    else next();
  });
  // authentication.k8s.io and authorization.k8s.io reviews (kubectl auth whoami / can-i, TokenReview): answered, not stored.
  app.all(['/apis/authentication.k8s.io/*', '/apis/authorization.k8s.io/*'], (req, res) => {
    serveReview(req, res, req.user ?? { name: '', groups: [] }, deps.reviews).catch((err: unknown) => sendError(res, err));
  });
  app.use((req, res) => void deps.resource(req, res));
  return app;
}

/** Legacy discovery (/api, /apis, /api/v1, /apis/<g>/<v>) and aggregated discovery (apidiscovery.k8s.io/v2). */
function discoveryRoutes(app: express.Express, deps: RouteDeps): void {
  const extra = (): DiscoveryExtra | undefined => deps.aggregator?.discovery();
  app.get('/api', (req, res) => {
    const aggregated = wantsAggregated(req.headers.accept);
    if (aggregated) sendJson(res, 200, aggregatedDiscovery(true, aggregated), aggregatedContentType(aggregated));
    else sendJson(res, 200, apiVersions(deps.serverAddress()));
  });
  app.get('/apis', (req, res) => {
    const aggregated = wantsAggregated(req.headers.accept);
    if (aggregated) sendJson(res, 200, aggregatedDiscovery(false, aggregated, extra()), aggregatedContentType(aggregated));
    else sendJson(res, 200, apiGroupList(extra()));
  });
  app.get('/api/:version', (req, res) => {
    const doc = apiResourceList('', req.params.version ?? '');
    if (doc) sendJson(res, 200, doc);
    else sendError(res, notFoundPath());
  });
  app.get('/apis/:group', (req, res) => {
    const doc = apiGroupDoc(req.params.group ?? '', extra());
    if (doc) sendJson(res, 200, doc);
    else sendError(res, notFoundPath());
  });
  app.get('/apis/:group/:version', (req, res) => {
    const doc = apiResourceList(req.params.group ?? '', req.params.version ?? '', extra());
    if (doc) sendJson(res, 200, doc);
    else sendError(res, notFoundPath());
  });
}
