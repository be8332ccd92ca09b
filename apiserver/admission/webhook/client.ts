// Calls a webhook (admission, CRD conversion) as kube-apiserver does: HTTPS POST of a JSON review to the config's url,
// or to a Service reached through its Endpoints (verified as <name>.<namespace>.svc), trusting only the caBundle
// when one is given; every failure is an Error whose message reads as Go's (`Post "https://...": ...`).
import { Agent, request } from 'node:https';
import type { Obj } from '../../registry/object.js';

export interface ClientConfig {
  url?: string | undefined;
  service?: { namespace: string; name: string; path?: string | undefined; port?: number | undefined } | undefined;
  caBundle?: string | undefined;
}

/** Finds where a Service's port is served: one ready address of its Endpoints and the matching target port. */
export interface ServiceResolver {
  resolve(namespace: string, name: string, port: number): Promise<{ host: string; port: number }>;
}

export class WebhookCallError extends Error {}

/**
 * Connections to webhooks are kept and reused (kube's clients do too): a TLS handshake per call would cost more than
 * most webhooks' own work. The agent keys its sockets by host, port, servername and CA, so configurations never share one.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64, timeout: 60_000 });

type Ports = { name?: string; port: number }[];

/** The first ready address and the port that serves the Service port `sp` (by name, or the only one). */
function firstTarget(groups: { ips: string[]; ports: Ports }[], sp: { name?: string | undefined }): { host: string; port: number } | undefined {
  for (const g of groups) {
    const target = g.ports.find((p) => (sp.name ? p.name === sp.name : true)) ?? (g.ports.length === 1 ? g.ports[0] : undefined);
    const ip = g.ips[0];
    if (ip && target) return { host: ip, port: target.port };
  }
  return undefined;
}

/**
 * A resolver over the stores: the Service's port, then its EndpointSlices (discovery.k8s.io/v1, by the
 * kubernetes.io/service-name label, ready endpoints only) or, when it has none, its core/v1 Endpoints.
 */
export function endpointsResolver(
  get: (resource: 'services' | 'endpoints', namespace: string, name: string) => Promise<Obj | undefined>,
  slices: (namespace: string, service: string) => Promise<Obj[]> = async () => [],
): ServiceResolver {
  return {
    async resolve(namespace, name, port) {
      const svc = await get('services', namespace, name);
      if (!svc) throw new WebhookCallError(`service "${name}" not found`);
      const ports = ((svc.spec as { ports?: { name?: string; port: number }[] } | undefined)?.ports ?? []);
      const sp = ports.find((p) => p.port === port);
      if (!sp) throw new WebhookCallError(`no service port ${port} found for service "${name}"`);
      const fromSlices = (await slices(namespace, name)).map((sl) => {
        const eps = ((sl as { endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[] }).endpoints ?? []).filter((e) => e.conditions?.ready !== false);
        return { ips: eps.flatMap((e) => e.addresses ?? []), ports: ((sl as { ports?: Ports }).ports ?? []) };
      });
      const ep = await get('endpoints', namespace, name);
      const subsets = ((ep?.subsets ?? []) as { addresses?: { ip: string }[]; ports?: Ports }[]).map((s) => ({ ips: (s.addresses ?? []).map((a) => a.ip), ports: s.ports ?? [] }));
      const at = firstTarget(fromSlices, sp) ?? firstTarget(subsets, sp);
      if (!at) throw new WebhookCallError(`no endpoints available for service "${name}"`);
      return at;
    },
  };
}

/** The URL a request shows in messages, and where and how to connect. */
async function target(cc: ClientConfig, resolver: ServiceResolver, timeoutSeconds: number): Promise<{ shown: string; host: string; port: number; path: string; servername: string }> {
  const query = `?timeout=${timeoutSeconds}s`;
  if (cc.url) {
    const u = new URL(cc.url);
    const port = u.port ? Number(u.port) : 443;
    const host = u.hostname.replace(/^\[|\]$/g, '');
    return { shown: `${cc.url}${query}`, host, port, path: `${u.pathname}${u.search || query}`, servername: /^[\d.]+$|:/.test(host) ? '' : host };
  }
  const s = cc.service;
  if (!s) throw new WebhookCallError('neither url nor service is set');
  const port = s.port ?? 443;
  const dns = `${s.name}.${s.namespace}.svc`;
  const path = s.path ?? '/';
  const shown = `https://${dns}:${port}${path}${query}`;
  try {
    const at = await resolver.resolve(s.namespace, s.name, port);
    return { shown, host: at.host, port: at.port, path: `${path}${query}`, servername: dns };
  } catch (err) {
    throw new WebhookCallError(`Post "${shown}": ${(err as Error).message}`);
  }
}

/** POSTs body as JSON and returns the parsed JSON answer; rejects with a WebhookCallError on any failure or timeout. */
export async function postJson(cc: ClientConfig, body: unknown, opts: { timeoutSeconds: number; resolver: ServiceResolver; maxBytes?: number }): Promise<unknown> {
  const t = await target(cc, opts.resolver, opts.timeoutSeconds);
  const payload = Buffer.from(JSON.stringify(body));
  const ca = cc.caBundle ? Buffer.from(cc.caBundle, 'base64').toString('utf8') : undefined;
  const max = opts.maxBytes ?? 3 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => reject(new WebhookCallError(`Post "${t.shown}": ${why}`));
    const req = request(
      {
        host: t.host,
        port: t.port,
        path: t.path,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': payload.length },
        ...(ca ? { ca } : {}),
        ...(t.servername ? { servername: t.servername } : {}),
        agent,
        timeout: opts.timeoutSeconds * 1000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            req.destroy();
            fail('response body too large');
          } else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) return reject(new WebhookCallError(`an error on the server ("${text.slice(0, 200)}") has prevented the request from succeeding`));
          try {
            resolve(JSON.parse(text) as unknown);
          } catch {
            reject(new WebhookCallError(`received invalid webhook response: ${text.slice(0, 200)}`));
          }
        });
        res.on('error', (err) => fail(err.message));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      fail('context deadline exceeded');
    }, opts.timeoutSeconds * 1000);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => {
      req.destroy();
      fail('context deadline exceeded');
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? `dial tcp ${t.host}:${t.port}: connect: connection refused` : err.message;
      fail(why);
    });
    req.end(payload);
  });
}
