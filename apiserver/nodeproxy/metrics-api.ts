// metrics.k8s.io/v1beta1 (what metrics-server serves, built in): NodeMetrics and PodMetrics read on request from the
// agents' Summary API (/stats/summary, the kubelet's), so that `kubectl top node|pod` works with no add-on.
// Nodes whose agent does not answer are left out, as metrics-server leaves out nodes it could not scrape.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { errors } from '../../api/errors.js';
import { queryBool } from '../../api/query.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { Logger } from '../../lib/logger.js';
import { limiter } from '../../lib/limit.js';
import { sendError, sendJson } from '../http/responses.js';
import { agentEndpoint, agentTls, type NodeProxyDeps, type ProxyNode } from './node-proxy.js';

export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';
const API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;
/** The sampling window the agents' CPU rates stand for (between two of their samples, at most this long). */
const WINDOW = '10s';
const SCRAPE_TIMEOUT_MS = 5_000;
const SCRAPE_CONCURRENCY = 16;
const SCRAPE_DEADLINE_MS = 10_000;

/** Discovery entries: served here, not stored, so not in api/ RESOURCES. */
export const METRICS_RESOURCES: ResourceInfo[] = [
  { group: METRICS_GROUP, version: METRICS_VERSION, kind: 'NodeMetrics', resource: 'nodes', singular: '', namespaced: false, shortNames: [], categories: [], subresources: [], verbs: ['get', 'list'] },
  { group: METRICS_GROUP, version: METRICS_VERSION, kind: 'PodMetrics', resource: 'pods', singular: '', namespaced: true, shortNames: [], categories: [], subresources: [], verbs: ['get', 'list'] },
];

/** The parts of the agents' Summary API read here (agent/stats.ts writes it). */
interface Usage {
  time?: string;
  usageNanoCores?: number;
  workingSetBytes?: number;
}
export interface SummaryDoc {
  node?: { nodeName?: string; cpu?: Usage; memory?: Usage };
  pods?: { podRef?: { name?: string; namespace?: string; uid?: string }; containers?: { name?: string; cpu?: Usage; memory?: Usage }[] }[];
}

interface MetaObject {
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; creationTimestamp?: string };
}
export interface MetricsPod extends MetaObject {
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

export interface MetricsDeps {
  listNodes(labelSelector?: string): Promise<(ProxyNode & MetaObject)[]>;
  listPods(namespace: string, labelSelector?: string, fieldSelector?: string): Promise<MetricsPod[]>;
  /** The node's Summary (GET /stats/summary on its agent). */
  summary(node: ProxyNode & MetaObject): Promise<SummaryDoc>;
  now(): Date;
  log: Logger;
}

/** Summary over HTTPS from the node's agent, with the API server's kubelet-client certificate. */
export function fetchSummary(proxy: NodeProxyDeps): (node: ProxyNode & MetaObject) => Promise<SummaryDoc> {
  return (node) => {
    const { host, port } = agentEndpoint(node.metadata.name, node, proxy);
    const tls = agentTls(proxy);
    return new Promise<SummaryDoc>((resolve, reject) => {
      const r = httpsRequest({ host, port, path: '/stats/summary', method: 'GET', ...tls, timeout: SCRAPE_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 64 << 20) r.destroy(new Error('summary larger than 64 MiB'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`agent answered ${res.statusCode ?? '?'}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as SummaryDoc);
          } catch (err) {
            reject(err as Error);
          }
        });
        res.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new Error(`no answer within ${SCRAPE_TIMEOUT_MS / 1000}s`)));
      r.on('error', reject);
      r.end();
    });
  };
}

const cpu = (u: Usage | undefined): string => `${Math.max(0, Math.round(u?.usageNanoCores ?? 0))}n`;
const memory = (u: Usage | undefined): string => `${Math.max(0, Math.round((u?.workingSetBytes ?? 0) / 1024))}Ki`;

/** Scrapes the given nodes (bounded concurrency); a node that fails is logged and left out. */
async function scrape(nodes: (ProxyNode & MetaObject)[], deps: MetricsDeps): Promise<Map<string, SummaryDoc>> {
  const limit = limiter(SCRAPE_CONCURRENCY);
  const out = new Map<string, SummaryDoc>();
  // Many unreachable agents must not hold the request: nodes not reached by the deadline are left out.
  const deadline = deps.now().getTime() + SCRAPE_DEADLINE_MS;
  await Promise.all(
    nodes.map((n) =>
      limit(async () => {
        if (deps.now().getTime() > deadline) return;
        try {
          out.set(n.metadata.name, await deps.summary(n));
        } catch (err) {
          deps.log.debug('node metrics not scraped', { node: n.metadata.name, error: String(err) });
        }
      }),
    ),
  );
  return out;
}

export async function nodeMetrics(deps: MetricsDeps, labelSelector?: string, name?: string): Promise<unknown[]> {
  let nodes = await deps.listNodes(labelSelector);
  if (name !== undefined) nodes = nodes.filter((n) => n.metadata.name === name);
  const summaries = await scrape(nodes, deps);
  const items: unknown[] = [];
  for (const n of nodes) {
    const s = summaries.get(n.metadata.name)?.node;
    if (!s) continue;
    items.push({
      metadata: { name: n.metadata.name, creationTimestamp: deps.now().toISOString(), ...(n.metadata.labels ? { labels: n.metadata.labels } : {}) },
      timestamp: s.cpu?.time ?? s.memory?.time ?? deps.now().toISOString(),
      window: WINDOW,
      usage: { cpu: cpu(s.cpu), memory: memory(s.memory) },
    });
  }
  return items;
}

export async function podMetrics(deps: MetricsDeps, namespace: string, labelSelector?: string, fieldSelector?: string, name?: string): Promise<unknown[]> {
  let pods = (await deps.listPods(namespace, labelSelector, fieldSelector)).filter((p) => p.spec?.nodeName && p.status?.phase === 'Running');
  if (name !== undefined) pods = pods.filter((p) => p.metadata.name === name);
  const nodeNames = new Set(pods.map((p) => p.spec?.nodeName ?? ''));
  const nodes = (await deps.listNodes()).filter((n) => nodeNames.has(n.metadata.name));
  const summaries = await scrape(nodes, deps);
  const byPod = new Map<string, NonNullable<SummaryDoc['pods']>[number]>();
  for (const s of summaries.values()) for (const p of s.pods ?? []) byPod.set(`${p.podRef?.namespace ?? ''}/${p.podRef?.name ?? ''}/${p.podRef?.uid ?? ''}`, p);
  const items: unknown[] = [];
  for (const pod of pods) {
    const s = byPod.get(`${pod.metadata.namespace ?? ''}/${pod.metadata.name}/${pod.metadata.uid ?? ''}`);
    if (!s?.containers?.length) continue;
    items.push({
      metadata: {
        name: pod.metadata.name,
        namespace: pod.metadata.namespace,
        creationTimestamp: deps.now().toISOString(),
        ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}),
      },
      timestamp: s.containers[0]?.cpu?.time ?? deps.now().toISOString(),
      window: WINDOW,
      containers: s.containers.map((c) => ({ name: c.name ?? '', usage: { cpu: cpu(c.cpu), memory: memory(c.memory) } })),
    });
  }
  return items;
}

const PATH = new RegExp(`^/apis/${METRICS_GROUP.replace(/\./g, '\\.')}/${METRICS_VERSION}(?:/namespaces/([^/]+))?/(nodes|pods)(?:/([^/]+))?/?$`);

/** Whether this request is for metrics.k8s.io objects (not discovery). */
export function isMetricsRequest(path: string): boolean {
  return PATH.test(path);
}

/** GET .../nodes[/NAME], .../pods, .../namespaces/NS/pods[/NAME]: lists and objects; anything else is a Status. */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, deps: MetricsDeps): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const m = PATH.exec(url.pathname);
    if (!m) throw errors.notFound({ group: METRICS_GROUP, resource: url.pathname.split('/')[4] ?? '', name: '' });
    if (req.method !== 'GET') throw errors.methodNotAllowed(`${req.method ?? ''} is not supported on ${METRICS_GROUP} (get and list only)`);
    const q = url.searchParams;
    if (queryBool(q.get('watch'))) throw errors.badRequest('metrics.k8s.io does not support watch');
    const namespace = m[1] ? decodeURIComponent(m[1]) : undefined;
    const resource = m[2] as 'nodes' | 'pods';
    const name = m[3] ? decodeURIComponent(m[3]) : undefined;
    const labelSelector = q.get('labelSelector') ?? undefined;
    const fieldSelector = q.get('fieldSelector') ?? undefined;
    if (resource === 'nodes' && namespace !== undefined) throw errors.notFound({ group: METRICS_GROUP, resource: 'nodes', name: name ?? '' });
    const items = resource === 'nodes' ? await nodeMetrics(deps, labelSelector, name) : await podMetrics(deps, namespace ?? '', labelSelector, fieldSelector, name);
    const kind = resource === 'nodes' ? 'NodeMetrics' : 'PodMetrics';
    if (name !== undefined) {
      const item = items[0];
      if (!item) throw errors.notFound({ group: METRICS_GROUP, resource: resource, name });
      sendJson(res, 200, { kind, apiVersion: API_VERSION, ...(item as object) });
      return;
    }
    sendJson(res, 200, { kind: `${kind}List`, apiVersion: API_VERSION, metadata: {}, items });
  } catch (err) {
    sendError(res, err);
  }
}
