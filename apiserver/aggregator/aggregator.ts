// kube-aggregator inside this server: APIServices say which group-versions are served here (local, created for the
// built-in groups as kube lists them) and which by another server behind a Service. Requests for those are proxied
// there with the front proxy's client certificate and X-Remote-User/X-Remote-Group headers; an availability check
// sets each APIService's Available condition and fetches its resources, which discovery merges.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { ApiError, errors } from '../../api/errors.js';
import { RESOURCES, apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import type { APIService } from '../../api/schemas/extensions.js';
import type { Logger } from '../../lib/logger.js';
import type { ServiceResolver } from '../admission/webhook/client.js';
import { sendError } from '../http/responses.js';
import { rfc3339, type Obj } from '../registry/object.js';
import type { Clock } from '../registry/rest.js';
import type { Store } from '../registry/store.js';
import { GROUP_HEADER, USER_HEADER, type FrontProxyPki } from './front-proxy.js';

/** kube-aggregator's priorities of the built-in groups (group minimum, version). */
const PRIORITIES: Record<string, [number, number]> = {
  '': [18000, 1],
  apps: [17800, 15],
  'authentication.k8s.io': [17700, 15],
  'authorization.k8s.io': [17600, 15],
  autoscaling: [17500, 15],
  batch: [17400, 15],
  'certificates.k8s.io': [17300, 15],
  'networking.k8s.io': [17200, 15],
  policy: [17100, 15],
  'rbac.authorization.k8s.io': [17000, 15],
  'storage.k8s.io': [16800, 15],
  'apiextensions.k8s.io': [16700, 15],
  'admissionregistration.k8s.io': [16700, 15],
  'scheduling.k8s.io': [16600, 15],
  'coordination.k8s.io': [16500, 15],
  'apiregistration.k8s.io': [18000, 15],
  'metrics.k8s.io': [100, 100],
};

/** What discovery adds for aggregated group-versions: their resources, and the built-in ones they replace. */
export interface AggregatedDiscovery {
  resources: ResourceInfo[];
  /** apiVersions served by another server now (metrics.k8s.io/v1beta1 by a real metrics-server). */
  replaced: ReadonlySet<string>;
}

interface Backend {
  service: APIService;
  resources: ResourceInfo[];
}

const gvOfPath = /^\/apis\/([^/?]+)\/([^/?]+)(?:[/?]|$)/;
const STRIPPED = /^(authorization|impersonate-.*|x-remote-.*|host|connection|upgrade)$/i;

export class Aggregator {
  private readonly backends = new Map<string, Backend>();
  private timer: NodeJS.Timeout | undefined;
  private watch: { close(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly apiServices: Store,
    private readonly resolver: ServiceResolver,
    private readonly pki: FrontProxyPki,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly checkIntervalMs = 10_000,
  ) {}

  /** Creates the local APIServices, follows the others and checks them every interval. */
  async start(localGroupVersions: readonly { group: string; version: string }[]): Promise<void> {
    for (const gv of localGroupVersions) await this.ensureLocal(gv.group, gv.version);
    const w = this.apiServices.watch('', {});
    this.watch = w;
    void (async () => {
      for await (const ev of w) {
        const obj = ev.object as Obj;
        if (ev.type === 'DELETED') this.backends.delete(this.key(obj));
        else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') await this.track(obj as unknown as APIService);
      }
    })().catch((err: unknown) => this.log.error('apiservice watch ended', { error: String(err) }));
    this.timer = setInterval(() => void this.checkAll(), this.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
    if (this.timer) clearInterval(this.timer);
  }

  private key(o: Obj): string {
    const spec = (o as unknown as APIService).spec;
    return spec ? apiVersionOf({ group: spec.group ?? '', version: spec.version ?? '' }) : '';
  }

  private async ensureLocal(group: string, version: string): Promise<void> {
    const [gp, vp] = PRIORITIES[group] ?? [1000, 100];
    const name = `${version}.${group}`;
    try {
      await this.apiServices.create('', { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name, labels: { 'kube-aggregator.kubernetes.io/automanaged': 'onstart' } }, spec: { group, version, groupPriorityMinimum: gp, versionPriority: vp } });
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
    }
  }

  private async track(svc: APIService): Promise<void> {
    const gv = this.key(svc as unknown as Obj);
    if (!svc.spec?.service) {
      this.backends.delete(gv);
      await this.setAvailable(svc, 'True', 'Local', 'Local APIServices are always available');
      return;
    }
    const prev = this.backends.get(gv);
    this.backends.set(gv, { service: svc, resources: prev?.resources ?? [] });
    if (!prev || JSON.stringify(prev.service.spec) !== JSON.stringify(svc.spec)) await this.check(gv);
  }

  private async checkAll(): Promise<void> {
    for (const gv of [...this.backends.keys()]) await this.check(gv);
  }

  /** The availability check: the group-version's discovery document, fetched through the Service. */
  private async check(gv: string): Promise<void> {
    const b = this.backends.get(gv);
    if (!b) return;
    try {
      const doc = (await this.fetchJson(b.service, `/apis/${gv}`)) as { resources?: { name: string; kind: string; namespaced: boolean; verbs: string[]; singularName?: string; shortNames?: string[]; categories?: string[] }[] };
      const [group, version] = [b.service.spec?.group ?? '', b.service.spec?.version ?? ''];
      const subs = (name: string): string[] => (doc.resources ?? []).filter((r) => r.name.startsWith(`${name}/`)).map((r) => r.name.slice(name.length + 1));
      b.resources = (doc.resources ?? [])
        .filter((r) => !r.name.includes('/'))
        .map((r) => ({ group, version, kind: r.kind, resource: r.name, singular: r.singularName || r.kind.toLowerCase(), namespaced: r.namespaced, shortNames: r.shortNames ?? [], categories: r.categories ?? [], subresources: subs(r.name), verbs: r.verbs }));
      await this.setAvailable(b.service, 'True', 'Passed', 'all checks passed');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const reason = /not found/.test(why) ? 'ServiceNotFound' : /no endpoints/.test(why) ? 'MissingEndpoints' : 'FailedDiscoveryCheck';
      await this.setAvailable(b.service, 'False', reason, `failing or missing response from https://${b.service.spec?.service?.name ?? ''}.${b.service.spec?.service?.namespace ?? ''}.svc/apis/${gv}: ${why}`);
    }
  }

  private async setAvailable(svc: APIService, status: string, reason: string, message: string): Promise<void> {
    const cur = svc.status?.conditions?.find((c) => c.type === 'Available');
    if (cur && cur.status === status && cur.reason === reason && cur.message === message) return;
    const lastTransitionTime = cur && cur.status === status && cur.lastTransitionTime ? cur.lastTransitionTime : rfc3339(this.clock.now());
    try {
      await this.apiServices.update('', svc.metadata.name ?? '', (o) => (o ? { ...o, status: { conditions: [{ type: 'Available', status, reason, message, lastTransitionTime }] } } : o as never), { subresource: 'status', fieldManager: 'ketch-aggregator' });
    } catch (err) {
      // Gone meanwhile, or the server is stopping: nothing to report.
      if (!(err instanceof ApiError && err.code === 404) && !this.stopped) this.log.warn('apiservice status not written', { apiservice: svc.metadata.name, error: String(err) });
    }
  }

  /** TLS options towards the APIService's server: its caBundle (or none checked) and the front proxy's certificate. */
  private async connection(svc: APIService): Promise<RequestOptions> {
    const ref = svc.spec?.service;
    if (!ref?.name || !ref.namespace) throw new Error('the APIService names no service');
    const at = await this.resolver.resolve(ref.namespace, ref.name, ref.port ?? 443);
    const ca = svc.spec?.caBundle ? Buffer.from(svc.spec.caBundle, 'base64').toString('utf8') : undefined;
    return {
      host: at.host,
      port: at.port,
      servername: `${ref.name}.${ref.namespace}.svc`,
      cert: this.pki.client.certPem,
      key: this.pki.client.keyPem,
      ...(ca ? { ca } : {}),
      rejectUnauthorized: !svc.spec?.insecureSkipTLSVerify,
      agent: false,
    };
  }

  private async fetchJson(svc: APIService, path: string): Promise<unknown> {
    const opts = await this.connection(svc);
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ ...opts, path, method: 'GET', headers: { Accept: 'application/json', [USER_HEADER]: 'system:kube-aggregator', [GROUP_HEADER]: 'system:masters' }, timeout: 5000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`bad status from ${path}: ${res.statusCode ?? 0}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
      req.on('error', reject);
      req.end();
    });
  }

  /** Whether the request is for an aggregated group-version (then proxy() serves it). */
  handles(url: string): boolean {
    const m = gvOfPath.exec(url);
    return !!m && this.backends.has(`${m[1] ?? ''}/${m[2] ?? ''}`);
  }

  /** Proxies the request to the APIService's server, as the front proxy: the user in headers, the proxy's certificate. */
  async proxy(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = gvOfPath.exec(req.url ?? '');
    const b = m ? this.backends.get(`${m[1] ?? ''}/${m[2] ?? ''}`) : undefined;
    if (!b) return void sendError(res, errors.notFound({ group: '', resource: '' }));
    let opts: RequestOptions;
    try {
      opts = await this.connection(b.service);
    } catch (err) {
      sendError(res, errors.unavailable(`service unavailable: ${(err as Error).message}`));
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !STRIPPED.test(k)) headers[k] = v;
    const user = req.user;
    if (user) {
      headers[USER_HEADER] = user.name;
      headers[GROUP_HEADER] = [...user.groups];
      if (user.uid) headers['X-Remote-Uid'] = user.uid;
    }
    headers['X-Forwarded-For'] = req.socket.remoteAddress ?? '';
    await new Promise<void>((resolve) => {
      const up = httpsRequest({ ...opts, method: req.method ?? 'GET', path: req.url ?? '/', headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on('end', resolve);
        upRes.on('error', () => resolve());
      });
      up.on('error', (err) => {
        if (!res.headersSent) sendError(res, errors.unavailable(`error trying to reach service: ${err.message}`));
        else res.destroy();
        resolve();
      });
      res.on('close', () => {
        up.destroy();
        resolve();
      });
      req.pipe(up);
    });
  }

  /** The aggregated group-versions for discovery. */
  discovery(): AggregatedDiscovery {
    const replaced = new Set(this.backends.keys());
    return { resources: [...this.backends.values()].flatMap((b) => (b.resources.length ? b.resources : [])), replaced };
  }

  /** The group-versions with an APIService, aggregated or local, in discovery's terms (group list). */
  aggregatedGroupVersions(): { group: string; version: string }[] {
    return [...this.backends.values()].map((b) => ({ group: b.service.spec?.group ?? '', version: b.service.spec?.version ?? '' }));
  }
}

/** The built-in group-versions that get local APIServices. */
export function localGroupVersions(extra: readonly { group: string; version: string }[] = []): { group: string; version: string }[] {
  const seen = new Set<string>();
  const out: { group: string; version: string }[] = [];
  for (const r of [...RESOURCES, ...extra]) {
    const k = `${r.group}/${r.version}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push({ group: r.group, version: r.version });
    }
  }
  return out;
}
