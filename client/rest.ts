// A typed REST client for the Kubernetes API built from a kubeconfig: TLS (CA, client certificates), bearer tokens,
// JSON bodies, Status errors as ApiError, and watches as async iterators. Given several servers, requests go through a
// client-side balancer (balancer.ts) that fails over between them.
import { Agent, request as httpsRequest } from 'node:https';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { ApiError, errors, type Status } from '../api/errors.js';
import { listOptionsQuery, type ListOptions } from '../api/list-options.js';
import { realClock, type Clock } from '../lib/clock.js';
import { failoverVerdict, NOT_SENT_CODE, ServerBalancer } from './balancer.js';
import type { ClientConfig } from './kubeconfig.js';
import { createdMeta, type CreatedMeta } from './created-meta.js';

/** What a client needs to know about a resource to build its URLs. */
export interface ResourceRef {
  group: string;
  version: string;
  resource: string;
  namespaced: boolean;
}

export interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
}

export interface ListLike<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  /** Per-request timeout; watches and streams have none. */
  timeoutMs?: number;
}

export type { ListOptions };

/** A watch: the list options that apply to one, and a signal that ends it. */
export interface WatchOptions extends Pick<ListOptions, 'labelSelector' | 'fieldSelector' | 'resourceVersion' | 'allowWatchBookmarks' | 'timeoutSeconds' | 'sendInitialEvents'> {
  signal?: AbortSignal;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

function queryString(q: Query | undefined): string {
  if (!q) return '';
  let p: URLSearchParams | undefined;
  // Most requests have no query: no URLSearchParams for them.
  for (const k in q) {
    const v = q[k];
    if (v !== undefined && v !== '') (p ??= new URLSearchParams()).set(k, String(v));
  }
  const s = p?.toString();
  return s ? `?${s}` : '';
}

/** One try of a request on one of several servers: where it is tracked, and how long it may take before another is tried. */
interface Attempt {
  open: Set<OpenRequest>;
  deadlineMs: number | undefined;
}

/** Where requests to one server go: request options from its parsed address (a URL per request costs more than the rest). */
interface Target {
  server: string;
  protocol: string;
  hostname: string;
  port: string;
}

function targetOf(server: string): Target {
  const url = new URL(server);
  // An IPv6 literal's brackets are part of URL.hostname but not of the request option.
  return { server, protocol: url.protocol, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port };
}

/** How a client with several servers fails over (defaults: health checks every 2 s of 2 s each, attempts of 4 s). */
export interface FailoverOptions {
  clock?: Clock;
  healthCheckMs?: number;
  probeTimeoutMs?: number;
  /**
   * Before the last server is tried, how long one may take: a read (and a watch's start) until its answer begins, a
   * write until its connection is up (a write that was sent may have been served, so it is never sent twice).
   */
  attemptTimeoutMs?: number;
}

/** A request open on one server, closed when the balancer marks that server down. */
interface OpenRequest {
  idempotent: boolean;
  close(err: Error): void;
}

const isIdempotent = (method: string): boolean => method === 'GET' || method === 'HEAD';

export class RestClient {
  private agent: Agent | HttpAgent | undefined;
  private readonly https: boolean;
  /** Credentials may go on the wire: over TLS, or over a local Unix socket (config.socketPath). */
  private readonly credentialsSafe: boolean;
  private readonly targets: Map<string, Target>;
  private readonly single: Target | undefined;
  /** Set when the config names several servers. */
  readonly balancer: ServerBalancer | undefined;
  readonly namespace: string;
  private readonly clock: Clock;
  /** Per server, the requests and streams open on it (only with several servers). */
  private readonly openOnServer = new Map<string, Set<OpenRequest>>();

  constructor(
    readonly config: ClientConfig,
    private readonly userAgent = 'ketch/0.1',
    private readonly failover: FailoverOptions = {},
  ) {
    this.clock = failover.clock ?? realClock;
    const servers = config.servers?.length ? config.servers : [config.server];
    this.targets = new Map(servers.map((s) => [s, targetOf(s)]));
    const protocols = new Set([...this.targets.values()].map((t) => t.protocol));
    if (protocols.size > 1) throw new Error(`the API servers ${servers.join(', ')} mix http and https`);
    this.https = protocols.has('https:') && !config.socketPath;
    this.credentialsSafe = this.https || !!config.socketPath;
    this.namespace = config.namespace;
    this.agent = config.socketPath
      ? new HttpAgent({ keepAlive: true, maxSockets: 64 })
      : this.https
      ? new Agent({
          keepAlive: true,
          maxSockets: 64,
          ...(config.ca ? { ca: config.ca } : {}),
          ...(config.cert && config.key ? { cert: config.cert, key: config.key } : {}),
          rejectUnauthorized: !config.insecureSkipTLSVerify,
        })
      : undefined;
    if (servers.length === 1) this.single = this.targets.get(servers[0]!);
    else {
      for (const s of servers) this.openOnServer.set(s, new Set());
      this.balancer = new ServerBalancer(servers, {
        probe: (server, signal) => this.probe(server, signal),
        onDown: (server) => this.closeReadsOn(server),
        clock: this.clock,
        ...(failover.healthCheckMs ? { healthCheckMs: failover.healthCheckMs } : {}),
        ...(failover.probeTimeoutMs ? { probeTimeoutMs: failover.probeTimeoutMs } : {}),
      });
    }
  }

  /**
   * Uses a new client certificate from now on (a rotated one), as the kubelet's certificate manager does: new
   * connections present it, and the open ones are closed so that nothing goes on as the old identity (watches
   * reconnect from their last resourceVersion).
   */
  setClientCertificate(cert: string, key: string): void {
    const old = this.agent;
    if (!old || !this.https) return;
    this.config.cert = cert;
    this.config.key = key;
    this.agent = new Agent({ ...(old as Agent).options, cert, key });
    old.destroy();
  }

  /**
   * Opens a request and returns the response stream once headers arrive; non-2xx answers become ApiError. With several
   * servers, a request that a server could not take goes to the next healthy one (see failoverVerdict).
   */
  async open(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const balancer = this.balancer;
    if (!balancer) return this.openOn(this.single!, method, path, opts);
    let failure: unknown;
    const attempts = balancer.servers.length;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const server = balancer.pick();
      const deadlineMs = attempt < attempts - 1 ? (this.failover.attemptTimeoutMs ?? 4000) : undefined;
      try {
        return await this.openOn(this.targets.get(server)!, method, path, opts, { open: this.openOnServer.get(server)!, deadlineMs });
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        const verdict = failoverVerdict(err, method);
        if (verdict === 'keep') throw err;
        balancer.fail(server, err instanceof Error ? err.message : String(err));
        if (verdict === 'mark') throw err;
        failure = err;
      }
    }
    throw failure;
  }

  /** Whether server serves (GET /readyz with this client's credentials): the balancer's health check. */
  private async probe(server: string, signal: AbortSignal): Promise<boolean> {
    const res = await this.openOn(this.targets.get(server)!, 'GET', '/readyz', { signal });
    res.resume();
    return true;
  }

  /** A server was marked down: its reads go to another server, and its watches resume there from their last revision. */
  private closeReadsOn(server: string): void {
    const open = this.openOnServer.get(server);
    if (!open) return;
    for (const r of [...open]) {
      if (r.idempotent) r.close(Object.assign(new Error(`api server ${server} marked down`), { code: 'ECONNRESET' }));
    }
  }

  private async openOn(target: Target, method: string, path: string, opts: RequestOptions, attempt?: Attempt): Promise<IncomingMessage> {
    const fullPath = path + queryString(opts.query);
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, Accept: opts.accept ?? 'application/json' };
    // Credentials go only over TLS, as with client-go, or over a local socket.
    const token = this.config.tokenSource?.() ?? this.config.token;
    if (token && this.credentialsSafe) headers.Authorization = `Bearer ${token}`;
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const send = this.https ? httpsRequest : httpRequest;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(
        {
          ...(this.config.socketPath ? { socketPath: this.config.socketPath } : { protocol: target.protocol, hostname: target.hostname, port: target.port }),
          path: fullPath,
          method,
          headers,
          ...(this.agent ? { agent: this.agent } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
        resolve,
      );
      if (opts.timeoutMs) {
        req.setTimeout(opts.timeoutMs, () => req.destroy(errors.timeout(`request ${method} ${path} timed out after ${opts.timeoutMs} ms`)));
      }
      req.on('error', reject);
      if (attempt) this.track(req, method, path, attempt);
      req.end(payload);
    });
    const code = res.statusCode ?? 0;
    if (code >= 200 && code < 300) return res;
    const text = await readAll(res);
    throw toApiError(code, text, `${method} ${path}`);
  }

  /**
   * Keeps req in its server's open set until it closes, and ends it at the attempt's deadline: a read that has no answer
   * yet, or any request whose connection is not up yet (nothing was sent, so another server may take it).
   */
  private track(req: ClientRequest, method: string, path: string, attempt: Attempt): void {
    const idempotent = isIdempotent(method);
    let res: IncomingMessage | undefined;
    const entry: OpenRequest = { idempotent, close: (err) => (res ? res.destroy(err) : req.destroy(err)) };
    attempt.open.add(entry);
    let sent = false;
    req.once('socket', (socket) => {
      if (req.reusedSocket) sent = true;
      else socket.once(this.https ? 'secureConnect' : 'connect', () => (sent = true));
    });
    const timer =
      attempt.deadlineMs === undefined
        ? undefined
        : this.clock.setTimer(attempt.deadlineMs, () => {
            if (!sent) req.destroy(Object.assign(new Error(`${method} ${path}: no connection within ${attempt.deadlineMs} ms`), { code: NOT_SENT_CODE }));
            else if (idempotent) req.destroy(errors.timeout(`${method} ${path}: no answer within ${attempt.deadlineMs} ms`));
            // A write that was sent may have been served: it keeps its own timeout and is not sent again.
          });
    req.once('response', (r) => {
      res = r;
      timer?.cancel();
    });
    req.once('close', () => {
      timer?.cancel();
      attempt.open.delete(entry);
    });
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const text = await this.requestText(method, path, opts);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  /** The body of a request's answer, undecoded. */
  async requestText(method: string, path: string, opts: RequestOptions = {}): Promise<string> {
    return readAll(await this.open(method, path, { timeoutMs: 60_000, ...opts }));
  }

  /** A client for one resource type. */
  resource<T extends ObjectLike>(ref: ResourceRef): ResourceClient<T> {
    return new ResourceClient<T>(this, ref);
  }
}

export class ResourceClient<T extends ObjectLike> {
  constructor(
    readonly rest: RestClient,
    readonly ref: ResourceRef,
  ) {}

  /** /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUB]] */
  path(namespace?: string, name?: string, sub?: string): string {
    const { group, version, resource, namespaced } = this.ref;
    let p = group ? `/apis/${group}/${version}` : `/api/${version}`;
    if (namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${resource}`;
    if (name) p += `/${encodeURIComponent(name)}`;
    if (sub) p += `/${sub}`;
    return p;
  }

  get(namespace: string | undefined, name: string, sub?: string): Promise<T> {
    return this.rest.request<T>('GET', this.path(namespace, name, sub));
  }

  list(namespace?: string, opts: ListOptions = {}): Promise<ListLike<T>> {
    return this.rest.request<ListLike<T>>('GET', this.path(namespace), { query: listOptionsQuery({ ...opts, watch: false }) });
  }

  /** Every page of a list, read at one resourceVersion. */
  async listAll(namespace?: string, opts: ListOptions = {}, pageSize = 500): Promise<ListLike<T>> {
    const first = await this.list(namespace, { ...opts, limit: pageSize });
    const items = [...first.items];
    let cont = first.metadata.continue;
    while (cont) {
      const page = await this.list(namespace, { ...opts, limit: pageSize, continue: cont });
      items.push(...page.items);
      cont = page.metadata.continue;
    }
    return { ...first, metadata: { resourceVersion: first.metadata.resourceVersion }, items };
  }

  create(namespace: string | undefined, obj: T, query: Query = {}): Promise<T> {
    return this.rest.request<T>('POST', this.path(namespace), { body: obj, query });
  }

  /**
   * A create from an encoded body that decodes only the created object's name, uid and resourceVersion (a writer that
   * needs no more, such as a controller's pod creates, skips decoding the object it sent and its managed fields).
   */
  async createEncoded(namespace: string | undefined, body: string, query: Query = {}): Promise<CreatedMeta> {
    return createdMeta(await this.rest.requestText('POST', this.path(namespace), { body, query }));
  }

  update(obj: T, query: Query = {}): Promise<T> {
    return this.rest.request<T>('PUT', this.path(obj.metadata?.namespace, obj.metadata?.name), { body: obj, query });
  }

  updateStatus(obj: T): Promise<T> {
    return this.rest.request<T>('PUT', this.path(obj.metadata?.namespace, obj.metadata?.name, 'status'), { body: obj });
  }

  patch(namespace: string | undefined, name: string, patch: unknown, type: PatchType = 'merge', opts: { sub?: string; query?: Query } = {}): Promise<T> {
    return this.rest.request<T>('PATCH', this.path(namespace, name, opts.sub), {
      body: typeof patch === 'string' ? patch : JSON.stringify(patch),
      contentType: PATCH_CONTENT_TYPES[type],
      query: opts.query ?? {},
    });
  }

  delete(namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<T | Status> {
    const { dryRun, ...rest } = opts;
    return this.rest.request<T | Status>('DELETE', this.path(namespace, name), {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', ...rest, ...(dryRun ? { dryRun: ['All'] } : {}) },
    });
  }

  /**
   * Watches as an async iterator. When the server ends the stream (timeout, restart) it reconnects from the last
   * resourceVersion seen (events and bookmarks). An expired resourceVersion throws ApiError 410 (the caller relists);
   * aborting the signal ends the iteration.
   */
  async *watch(namespace: string | undefined, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const { signal, ...options } = opts;
    let rv = opts.resourceVersion;
    while (!signal?.aborted) {
      let res: IncomingMessage;
      try {
        res = await this.rest.open('GET', this.path(namespace), {
          query: listOptionsQuery({ ...options, watch: true, ...(rv !== undefined ? { resourceVersion: rv } : {}) }),
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
      try {
        for await (const ev of readWatchEvents<T>(res)) {
          if (ev.type === 'ERROR') {
            const st = ev.object as unknown as Status;
            throw toApiError(st.code || 500, JSON.stringify(st), 'watch');
          }
          const evRv = ev.object.metadata?.resourceVersion;
          if (evRv) rv = evRv;
          yield ev;
        }
      } catch (err) {
        if (signal?.aborted) return;
        if (err instanceof ApiError) throw err;
        // A broken connection: reconnect from the last revision below.
      } finally {
        res.destroy();
      }
      if (opts.timeoutSeconds) return; // the caller asked for a bounded watch
    }
  }
}

/** Whether bytes [start, end) hold anything but spaces, tabs and carriage returns. */
function hasText(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return true;
  }
  return false;
}

/**
 * The events of a watch response: one JSON object a line (the ketch and Kubernetes watch stream). Lines are cut from
 * the bytes and decoded one by one: no string of a whole chunk (a corked write carries dozens of events), and a
 * character split between two chunks stays whole.
 */
export async function* readWatchEvents<T>(res: AsyncIterable<unknown>): AsyncGenerator<WatchEvent<T>> {
  // The start of a line that chunks have not finished yet, in pieces: joined once, when its end comes (a large object
  // over many chunks is not copied again with each of them).
  let pending: Buffer[] = [];
  for await (const chunk of res) {
    const piece = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    let nl = piece.indexOf(0x0a);
    if (nl < 0) {
      if (piece.length) pending.push(piece);
      continue;
    }
    let start = 0;
    if (pending.length) {
      // The pending line's end is in this chunk: join it with that end only.
      const line = Buffer.concat([...pending, piece.subarray(0, nl)]);
      pending = [];
      if (hasText(line, 0, line.length)) yield JSON.parse(line.toString('utf8')) as WatchEvent<T>;
      start = nl + 1;
      nl = piece.indexOf(0x0a, start);
    }
    for (; nl >= 0; nl = piece.indexOf(0x0a, start)) {
      if (hasText(piece, start, nl)) yield JSON.parse(piece.toString('utf8', start, nl)) as WatchEvent<T>;
      start = nl + 1;
    }
    if (start < piece.length) pending.push(piece.subarray(start));
  }
  const rest = Buffer.concat(pending);
  if (!hasText(rest, 0, rest.length)) return;
  let ev: WatchEvent<T>;
  try {
    ev = JSON.parse(rest.toString('utf8')) as WatchEvent<T>;
  } catch {
    return; // an event cut off with the connection: a watch from the last revision seen sends it again
  }
  yield ev;
}

function readAll(res: IncomingMessage): Promise<string> {
  // Stream events, not an async iterator: a few promise hops fewer per response on the hot paths (binds, status).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
}

/** The Status in an error response's body, or undefined when the body is something else (a proxy's page, text). */
export function statusOf(text: string): Partial<Status> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined; // not JSON, so not a Status: the caller reports the raw body instead
  }
  return typeof body === 'object' && body !== null && (body as Partial<Status>).kind === 'Status' ? (body as Partial<Status>) : undefined;
}

function toApiError(code: number, text: string, what: string): ApiError {
  const st = statusOf(text);
  if (st) return ApiError.fromStatus({ ...(st as Status), code: st.code ?? code });
  const reason = code === 401 ? 'Unauthorized' : code === 403 ? 'Forbidden' : code === 404 ? 'NotFound' : code === 410 ? 'Expired' : 'InternalError';
  return new ApiError(code, reason, `${what}: ${code} ${text.slice(0, 200)}`);
}
