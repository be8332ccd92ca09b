// The API server's own Prometheus metrics, served at /metrics as kube-apiserver does (not metrics.k8s.io: see
// nodeproxy/metrics-api.ts). Each API server has its own prom-client Registry, so several servers in one process do not collide.
//
//   apiserver_request_total{verb,group,version,resource,subresource,scope,component,code}      counter
//   apiserver_request_duration_seconds{verb,group,version,resource,subresource,scope,component} histogram
//   apiserver_longrunning_requests{verb="WATCH",component}                                     gauge (open watches)
//   etcd_request_duration_seconds{operation,type}                                              histogram
//
// Requests are counted once answered, after authentication (kube-apiserver counts no 401s either); watches and
// upgrades when they end, and their lifetime stays out of the latency histogram (as WATCH and CONNECT in kube-apiserver). Label values
// are bounded: verbs are kube's fixed set, and a resource or subresource outside the resource table is reported as
// resource="" like non-resource paths (discovery, /version, /metrics). No names, namespaces or paths.
//
// Storage latency comes from a Storage wrapper (instrumentStorage) around the backend the registry writes through.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Gauge, Registry } from 'prom-client';
import { findByResource, isRegistered, OTHER_VERSIONS, REVIEWS, RESOURCES } from '../../api/resources.js';
import type { RequestInfo, Verb } from '../http/request-info.js';
import type { Filter } from './chain.js';
import { LabeledCounter, LabeledHistogram } from './series.js';
import type { Logger } from '../../lib/logger.js';
import type { DeleteOptions, KeyValue, ListOptions, ListResult, Storage, StorageWatch, UpdateFn, UpdateOptions, WatchOptions } from '../storage/interface.js';

/** kube-apiserver's buckets for apiserver_request_duration_seconds and etcd_request_duration_seconds. */
const LATENCY_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];
const COMPONENT = 'apiserver';

type RequestLabel = 'verb' | 'group' | 'version' | 'resource' | 'subresource' | 'scope' | 'component';
type RequestLabels = Record<RequestLabel, string>;
export type StorageOperation = 'get' | 'list' | 'create' | 'update' | 'delete' | 'count' | 'currentRevision' | 'compact';

const VERBS: Record<Verb, string> = {
  get: 'GET',
  list: 'LIST',
  watch: 'WATCH',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETECOLLECTION',
};
/** Subresources kube-apiserver serves as CONNECT: long-running, out of the latency histogram. */
const CONNECT_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy']);
/** Methods reported as themselves on non-resource paths; any other is "other" (kube's OtherRequestMethod). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** group/version/resource → its subresources, for every resource this server answers (stored, reviews, metrics.k8s.io). */
const KNOWN = new Map<string, ReadonlySet<string>>();
for (const r of [...RESOURCES, ...OTHER_VERSIONS, ...REVIEWS]) KNOWN.set(`${r.group}/${r.version}/${r.resource}`, new Set(r.resource === 'nodes' ? [...r.subresources, 'proxy'] : r.subresources));
for (const resource of ['nodes', 'pods']) KNOWN.set(`metrics.k8s.io/v1beta1/${resource}`, new Set());

/** Resource name → its group/version keys in KNOWN: the per-request check allocates no string. */
const BY_RESOURCE = new Map<string, { group: string; version: string; subresources: ReadonlySet<string> }[]>();
for (const [key, subresources] of KNOWN) {
  const [group = '', version = '', resource = ''] = key.split('/');
  BY_RESOURCE.set(resource, [...(BY_RESOURCE.get(resource) ?? []), { group, version, subresources }]);
}

function isKnown(ri: RequestInfo): boolean {
  const rows = BY_RESOURCE.get(ri.resource);
  for (const row of rows ?? []) if (row.group === ri.group && row.version === ri.version) return ri.subresource === '' || row.subresources.has(ri.subresource);
  // Custom resources served now (their CRDs bound the label values).
  const custom = findByResource(ri.group, ri.version, ri.resource);
  return !!custom && isRegistered(custom) && (ri.subresource === '' || custom.subresources.includes(ri.subresource));
}

/** kube-apiserver's CleanScope. */
function scopeOf(ri: RequestInfo): string {
  if (ri.name !== '' || ri.verb === 'create') return 'resource';
  return ri.namespace !== '' ? 'namespace' : 'cluster';
}

function verbOf(ri: RequestInfo, req: IncomingMessage): string {
  if (CONNECT_SUBRESOURCES.has(ri.subresource)) return 'CONNECT';
  if (ri.verb === 'patch' && req.headers['content-type']?.startsWith('application/apply-patch')) return 'APPLY';
  return VERBS[ri.verb];
}

function labelsOf(req: IncomingMessage): RequestLabels {
  const ri = req.requestInfo;
  if (ri && isKnown(ri)) {
    return { verb: verbOf(ri, req), group: ri.group, version: ri.version, resource: ri.resource, subresource: ri.subresource, scope: scopeOf(ri), component: COMPONENT };
  }
  const method = req.method ?? 'GET';
  return { verb: METHODS.has(method) ? method : 'other', group: '', version: '', resource: '', subresource: '', scope: '', component: COMPONENT };
}

const CODES: string[] = [];
const codeLabel = (code: number): string => (CODES[code] ??= String(code));

/** Another component's metrics in the Prometheus text format, appended to this server's at each scrape. */
export interface MetricsSource {
  /** Who it is, for the log when it fails. */
  name: string;
  text(): Promise<string>;
}

/** At most this many storage `type` label values; past it, "other" (keys come from the resource table: never reached). */
const MAX_STORAGE_TYPES = 256;

export class ApiServerMetrics {
  readonly registry = new Registry();
  private readonly requests: LabeledCounter<RequestLabel | 'code'>;
  private readonly latency: LabeledHistogram<RequestLabel>;
  private readonly storageLatency: LabeledHistogram<'operation' | 'type'>;
  /** Storage key's `<group>/<resource>` → the type label ("pods", "deployments.apps"). */
  private readonly storageTypes = new Map<string, string>();
  private readonly sources: MetricsSource[] = [];

  /** openWatches is read at each scrape (WatchLimiter.size); log tells of a metrics source that failed. */
  constructor(
    openWatches: () => number,
    private readonly log?: Logger,
  ) {
    const registers = [this.registry];
    const requestLabels: RequestLabel[] = ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'];
    this.requests = new LabeledCounter(
      'apiserver_request_total',
      'Counter of apiserver requests broken out for each verb, API resource, scope, component and HTTP response code.',
      [...requestLabels, 'code'],
      this.registry,
    );
    this.latency = new LabeledHistogram(
      'apiserver_request_duration_seconds',
      'Response latency distribution in seconds for each verb, group, version, resource, subresource, scope and component (watches and CONNECT excluded).',
      requestLabels,
      LATENCY_BUCKETS,
      this.registry,
    );
    new Gauge({
      name: 'apiserver_longrunning_requests',
      help: 'Gauge of all active long-running apiserver requests: the open watch streams.',
      labelNames: ['verb', 'component'],
      registers,
      collect() {
        this.set({ verb: 'WATCH', component: COMPONENT }, openWatches());
      },
    });
    this.storageLatency = new LabeledHistogram('etcd_request_duration_seconds', 'Storage request latency in seconds for each operation and object type.', ['operation', 'type'], LATENCY_BUCKETS, this.registry);
  }

  /**
   * The metrics filter, outermost but for recovery: times every request, and records each authenticated one once its
   * handler is done (when no answer was sent by then, as a handed-on upgrade, when its connection closes).
   */
  readonly filter: Filter = (req, res, next) => {
    const started = performance.now();
    return next(req, res).then(() => {
      if (req.user) this.record(req, res, started);
    });
  };

  private record(req: IncomingMessage, res: ServerResponse, startedMs: number): void {
    if (res.headersSent || res.destroyed) this.observeRequest(req, res, startedMs);
    else res.once('close', () => this.observeRequest(req, res, startedMs));
  }

  addSource(source: MetricsSource): void {
    this.sources.push(source);
  }

  /**
   * GET /metrics: the Prometheus text format, this server's metrics then each source's (their metric names differ:
   * workqueue_*, scheduler_*). A source that fails is left out of this scrape and logged.
   */
  async serve(res: ServerResponse): Promise<void> {
    const parts = await Promise.all([
      this.registry.metrics(),
      ...this.sources.map((s) =>
        s.text().catch((err: unknown) => {
          this.log?.warn('metrics source failed', { source: s.name, error: String(err) });
          return '';
        }),
      ),
    ]);
    const text = parts.filter((p) => p !== '').map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
    res.writeHead(200, { 'Content-Type': this.registry.contentType, 'Cache-Control': 'no-cache, private', 'X-Content-Type-Options': 'nosniff' });
    res.end(text);
  }

  /** The storage with every call timed into etcd_request_duration_seconds. */
  instrumentStorage(storage: Storage): Storage {
    return new TimedStorage(storage, this);
  }

  observeStorage(operation: StorageOperation, key: string, startedMs: number): void {
    this.storageLatency.observe({ operation, type: this.storageType(key) }, (performance.now() - startedMs) / 1000);
  }

  private observeRequest(req: IncomingMessage, res: ServerResponse, startedMs: number): void {
    const l = labelsOf(req);
    this.requests.inc({
      verb: l.verb,
      group: l.group,
      version: l.version,
      resource: l.resource,
      subresource: l.subresource,
      scope: l.scope,
      component: l.component,
      code: codeLabel(res.statusCode),
    });
    if (l.verb !== 'WATCH' && l.verb !== 'CONNECT') this.latency.observe(l, (performance.now() - startedMs) / 1000);
  }

  /** `/registry/<group>/<resource>/...` → "<resource>" for core, "<resource>.<group>" otherwise (kube's type label); '' for whole-store calls. */
  private storageType(key: string): string {
    const ROOT = '/registry/';
    if (key === '') return '';
    if (!key.startsWith(ROOT)) return 'other';
    const groupEnd = key.indexOf('/', ROOT.length);
    if (groupEnd < 0) return 'other';
    const end = key.indexOf('/', groupEnd + 1);
    const groupResource = key.slice(ROOT.length, end < 0 ? key.length : end);
    let type = this.storageTypes.get(groupResource);
    if (type === undefined) {
      if (this.storageTypes.size >= MAX_STORAGE_TYPES) return 'other';
      const group = key.slice(ROOT.length, groupEnd);
      const resource = groupResource.slice(group.length + 1);
      type = group === 'core' ? resource : `${resource}.${group}`;
      this.storageTypes.set(groupResource, type);
    }
    return type;
  }
}

/**
 * A Storage that times each call of the one it wraps: one performance.now() before, one histogram observation after
 * (failures too, as kube-apiserver's etcd3 store). guaranteedUpdate is one "update": the backend's own get and update
 * calls inside it go to the backend directly, so they are not counted twice; its time includes the callback's.
 * Watches are long-running and not timed.
 */
class TimedStorage implements Storage {
  constructor(
    private readonly inner: Storage,
    private readonly metrics: ApiServerMetrics,
  ) {}

  /** Runs one storage call and observes its duration, failed or not. */
  private async timed<T>(operation: StorageOperation, key: string, call: Promise<T>, t: number): Promise<T> {
    try {
      return await call;
    } finally {
      this.metrics.observeStorage(operation, key, t);
    }
  }

  create(key: string, value: Uint8Array): Promise<KeyValue> {
    const t = performance.now();
    return this.timed('create', key, this.inner.create(key, value), t);
  }

  get(key: string): Promise<KeyValue | undefined> {
    const t = performance.now();
    return this.timed('get', key, this.inner.get(key), t);
  }

  list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    const t = performance.now();
    return this.timed('list', prefix, this.inner.list(prefix, opts), t);
  }

  update(key: string, value: Uint8Array, expectedRevision: number): Promise<KeyValue> {
    const t = performance.now();
    return this.timed('update', key, this.inner.update(key, value, expectedRevision), t);
  }

  guaranteedUpdate(key: string, tryUpdate: UpdateFn, opts?: UpdateOptions): Promise<KeyValue> {
    const t = performance.now();
    return this.timed('update', key, this.inner.guaranteedUpdate(key, tryUpdate, opts), t);
  }

  delete(key: string, opts?: DeleteOptions): Promise<KeyValue> {
    const t = performance.now();
    return this.timed('delete', key, this.inner.delete(key, opts), t);
  }

  watch(key: string, opts?: WatchOptions): StorageWatch {
    return this.inner.watch(key, opts);
  }

  count(prefix: string): Promise<number> {
    const t = performance.now();
    return this.timed('count', prefix, this.inner.count(prefix), t);
  }

  currentRevision(): Promise<number> {
    const t = performance.now();
    return this.timed('currentRevision', '', this.inner.currentRevision(), t);
  }

  compact(revision: number): Promise<void> {
    const t = performance.now();
    return this.timed('compact', '', this.inner.compact(revision), t);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
