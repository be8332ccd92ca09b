// The OCI distribution spec v1.1 over node:http: routes, authorization of each route, and the handlers.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { type Access, type ClusterAuth, type Principal, type TokenService } from './auth.js';
import { RegistryError, blobUnknown, digestInvalid, manifestUnknown, nameUnknown, sendError, unsupported } from './errors.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import type { RwLock } from './lock.js';
import { MEDIA, parseManifest } from './manifests.js';
import { checkName, checkReference, hexOf } from './names.js';
import type { RegistryStore } from './store.js';
import { type Upload, Uploads, uploadHeaders } from './uploads.js';
import { logger } from '../lib/logger.js';

const log = logger('registry');

/** The largest manifest accepted (distribution's default). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The most tags or repositories one page lists. */
const MAX_PAGE = 10_000;

export interface AppOptions {
  store: RegistryStore;
  uploads: Uploads;
  lock: RwLock;
  /** Without it, every request is allowed (tests and benchmarks on loopback only). */
  tokens?: TokenService;
  /** Checks the cluster tokens of admin requests (POST /ketch/gc). */
  cluster?: ClusterAuth;
  /** Token endpoint URL for challenges; default: this server's /auth/token as the client reached it. */
  realm?: string;
  gc: Omit<GcOptions, 'dryRun'>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, q: URLSearchParams) => Promise<void>;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

const DIST_HEADERS = { 'docker-distribution-api-version': 'registry/2.0' };

function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: Buffer | string): void {
  const buf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  res.writeHead(status, { ...DIST_HEADERS, ...headers, 'content-length': String(buf?.length ?? 0) });
  res.end(buf);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, { 'content-type': 'application/json', ...headers }, JSON.stringify(value));
}

/** Reads a request body of at most `max` bytes; a larger one is refused with 413 before it is all read. */
async function readCapped(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) throw new RegistryError(413, 'SIZE_INVALID', `body larger than ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new RegistryError(413, 'SIZE_INVALID', `body larger than ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** `n` and `last` of a paginated list: the page, and the Link header to the next one. */
function paginate(all: string[], q: URLSearchParams, path: string): { items: string[]; link?: string } {
  const nParam = q.get('n');
  const last = q.get('last') ?? '';
  let n = MAX_PAGE;
  if (nParam !== null) {
    if (!/^\d+$/.test(nParam)) throw new RegistryError(400, 'PAGINATION_NUMBER_INVALID', 'n must be a whole number', { n: nParam.slice(0, 20) });
    n = Math.min(Number(nParam), MAX_PAGE);
  }
  const after = last ? all.filter((x) => x > last) : all;
  const items = after.slice(0, n);
  if (after.length <= n || items.length === 0) return { items };
  const next = new URLSearchParams({ n: String(n), last: items[items.length - 1] ?? '' });
  return { items, link: `<${path}?${next.toString()}>; rel="next"` };
}

const bodyPresent = (req: IncomingMessage): boolean => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

export class RegistryApp {
  private readonly routes: Route[];

  constructor(private readonly o: AppOptions) {
    const NAME = '(.+)';
    this.routes = [
      { pattern: /^\/v2\/?$/, methods: { GET: (q, r) => this.base(q, r), HEAD: (q, r) => this.base(q, r) } },
      { pattern: /^\/auth\/token$/, methods: { GET: (q, r, _m, p) => this.token(q, r, p), POST: (q, r, _m, p) => this.token(q, r, p) } },
      { pattern: /^\/v2\/_catalog$/, methods: { GET: (q, r, _m, p) => this.catalog(q, r, p) } },
      { pattern: /^\/ketch\/gc$/, methods: { POST: (q, r, _m, p) => this.gcEndpoint(q, r, p) } },
      { pattern: /^\/healthz$/, methods: { GET: async (_q, r) => send(r, 200, { 'content-type': 'text/plain' }, 'ok') } },
      { pattern: new RegExp(`^/v2/${NAME}/tags/list$`), methods: { GET: (q, r, m, p) => this.tagsList(q, r, m, p) } },
      {
        pattern: new RegExp(`^/v2/${NAME}/manifests/([^/]+)$`),
        methods: { GET: (q, r, m) => this.getManifest(q, r, m, false), HEAD: (q, r, m) => this.getManifest(q, r, m, true), PUT: (q, r, m) => this.putManifest(q, r, m), DELETE: (q, r, m) => this.deleteManifest(q, r, m) },
      },
      {
        pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/([^/]*)$`),
        methods: { POST: (q, r, m, p) => this.startUpload(q, r, m, p), GET: (q, r, m) => this.uploadStatus(q, r, m), PATCH: (q, r, m) => this.patchUpload(q, r, m), PUT: (q, r, m, p) => this.putUpload(q, r, m, p), DELETE: (q, r, m) => this.cancelUpload(q, r, m) },
      },
      {
        pattern: new RegExp(`^/v2/${NAME}/blobs/([^/]+)$`),
        methods: { GET: (q, r, m) => this.getBlob(q, r, m, false), HEAD: (q, r, m) => this.getBlob(q, r, m, true), DELETE: (q, r, m) => this.deleteBlob(q, r, m) },
      },
      { pattern: new RegExp(`^/v2/${NAME}/referrers/([^/]+)$`), methods: { GET: (q, r, m, p) => this.referrers(q, r, m, p) } },
    ];
  }

  /** The request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.dispatch(req, res).catch((err: unknown) => {
      const head = req.method === 'HEAD';
      if (err instanceof RegistryError) return sendError(res, err, head);
      if (req.destroyed && !req.complete) {
        // The client went away mid-request (an interrupted push): nothing to answer.
        log.debug('registry client went away', { method: req.method, url: (req.url ?? '').slice(0, 300) });
        return void res.destroy();
      }
      log.error('registry request failed', { method: req.method, url: (req.url ?? '').slice(0, 300), error: err instanceof Error ? err.message : String(err) });
      sendError(res, new RegistryError(500, 'UNKNOWN', 'internal error'), head);
    });
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const query = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
    // Encoded bytes, dot segments and empty segments never name anything here: refuse them before routing.
    if (path.includes('%') || path.includes('//') || /(^|\/)\.\.?(\/|$)/.test(path)) throw new RegistryError(404, 'NAME_INVALID', 'invalid path');
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      const handler = route.methods[req.method ?? ''];
      if (!handler) throw unsupported(`method ${req.method ?? ''} not allowed here`);
      if (m[1] !== undefined && path.startsWith('/v2/')) checkName(m[1]);
      return handler(req, res, m, query);
    }
    throw new RegistryError(404, 'NAME_UNKNOWN', 'no route');
  }

  private realm(req: IncomingMessage): string {
    if (this.o.realm) return this.o.realm;
    const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
    return `${tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/auth/token`;
  }

  /** Throws 401 unless the request's token grants `need`. */
  private async authorize(req: IncomingMessage, need: Access | undefined): Promise<void> {
    if (!this.o.tokens) return;
    await this.o.tokens.check(req.headers.authorization, need, this.realm(req));
  }

  /** Whether the request's token grants `need`, without failing. */
  private async granted(req: IncomingMessage, need: Access): Promise<boolean> {
    return this.authorize(req, need).then(
      () => true,
      (err: unknown) => {
        if (err instanceof RegistryError) return false;
        throw err;
      },
    );
  }

  private repo(name: string, ...actions: string[]): Access {
    return { type: 'repository', name, actions };
  }

  private async base(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.authorize(req, undefined);
    sendJson(res, 200, {});
  }

  private async token(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    if (!this.o.tokens) return sendJson(res, 200, { token: 'anonymous', access_token: 'anonymous', expires_in: 3600 });
    let params = q;
    if (req.method === 'POST') {
      const form = new URLSearchParams((await readCapped(req, 64 * 1024)).toString('utf8'));
      params = new URLSearchParams([...q, ...form]);
    }
    sendJson(res, 200, await this.o.tokens.issue(params, req.headers.authorization, certificateUser(req)));
  }

  private async catalog(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    await this.authorize(req, { type: 'registry', name: 'catalog', actions: ['*'] });
    const page = paginate(await this.o.store.repositories(), q, '/v2/_catalog');
    sendJson(res, 200, { repositories: page.items }, page.link ? { link: page.link } : {});
  }

  private async tagsList(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, q: URLSearchParams): Promise<void> {
    const name = m[1]!;
    await this.authorize(req, this.repo(name, 'pull'));
    if (!(await this.o.store.repositoryExists(name))) throw nameUnknown(name);
    const page = paginate(await this.o.store.tagList(name), q, `/v2/${name}/tags/list`);
    sendJson(res, 200, { name, tags: page.items }, page.link ? { link: page.link } : {});
  }

  private async getManifest(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, head: boolean): Promise<void> {
    const name = m[1]!;
    const ref = m[2]!;
    await this.authorize(req, this.repo(name, 'pull'));
    const { tag, digest: byDigest } = checkReference(ref);
    const digest = byDigest ?? (await this.o.store.resolveTag(name, tag ?? ''));
    const found = digest ? await this.o.store.manifest(name, digest) : undefined;
    if (!found) throw manifestUnknown(ref);
    const headers = { 'content-type': found.meta.mediaType, 'docker-content-digest': found.digest, etag: `"${found.digest}"` };
    if (head) {
      res.writeHead(200, { ...DIST_HEADERS, ...headers, 'content-length': String(found.body.length) });
      res.end();
      return;
    }
    send(res, 200, headers, found.body);
  }

  private async putManifest(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    const name = m[1]!;
    const ref = m[2]!;
    await this.authorize(req, this.repo(name, 'push'));
    const { tag, digest: named } = checkReference(ref);
    const body = await readCapped(req, MAX_MANIFEST_BYTES);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (named && named !== digest) throw digestInvalid('manifest digest did not match the reference', { expected: named, actual: digest });
    const parsed = parseManifest(body, req.headers['content-type']);
    const release = await this.o.lock.read();
    try {
      for (const b of parsed.blobs) {
        if ((await this.o.store.repoBlobSize(name, b)) === undefined) throw new RegistryError(400, 'MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: b });
      }
      for (const c of parsed.manifests) {
        if (!(await this.o.store.revision(name, c))) throw new RegistryError(400, 'MANIFEST_BLOB_UNKNOWN', 'manifest unknown to registry', { digest: c });
      }
      this.o.store.track([digest, ...parsed.blobs, ...parsed.manifests]);
      await this.o.store.putManifest(
        name,
        digest,
        body,
        {
          mediaType: parsed.mediaType,
          size: body.length,
          ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
          ...(parsed.subject ? { subject: parsed.subject } : {}),
          ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
        },
        tag,
      );
    } finally {
      release();
    }
    log.info('manifest pushed', { repository: name, reference: ref, digest });
    send(res, 201, { location: `/v2/${name}/manifests/${digest}`, 'docker-content-digest': digest, ...(parsed.subject ? { 'oci-subject': parsed.subject } : {}) });
  }

  private async deleteManifest(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    const name = m[1]!;
    const ref = m[2]!;
    await this.authorize(req, this.repo(name, 'delete'));
    const { tag, digest } = checkReference(ref);
    const done = digest ? await this.o.store.deleteManifest(name, digest) : await this.o.store.deleteTag(name, tag ?? '');
    if (!done) throw manifestUnknown(ref);
    log.info('manifest deleted', { repository: name, reference: ref });
    send(res, 202, {});
  }

  private async getBlob(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, head: boolean): Promise<void> {
    const name = m[1]!;
    const digest = m[2]!;
    await this.authorize(req, this.repo(name, 'pull'));
    hexOf(digest);
    const size = await this.o.store.repoBlobSize(name, digest);
    if (size === undefined) throw blobUnknown(digest);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'docker-content-digest': digest, etag: `"${digest}"`, 'accept-ranges': 'bytes' };
    if (head) {
      // A client that finds a blob is about to push a manifest naming it: keep it young for the collector.
      await this.o.store.touchLink(name, digest, 60_000);
      res.writeHead(200, { ...DIST_HEADERS, ...headers, 'content-length': String(size) });
      res.end();
      return;
    }
    const range = parseRange(req.headers.range, size);
    if (range === 'invalid') {
      res.writeHead(416, { ...DIST_HEADERS, 'content-range': `bytes */${size}`, 'content-length': '0' });
      res.end();
      return;
    }
    const [start, end] = range ?? [0, size - 1];
    res.writeHead(range ? 206 : 200, { ...DIST_HEADERS, ...headers, 'content-length': String(Math.max(end - start + 1, 0)), ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}) });
    if (size === 0 || end < start) return void res.end();
    await pipeline(createReadStream(this.o.store.blobPath(digest), { start, end, highWaterMark: 1 << 20 }), res);
  }

  private async deleteBlob(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    const name = m[1]!;
    const digest = m[2]!;
    await this.authorize(req, this.repo(name, 'delete'));
    hexOf(digest);
    if (!(await this.o.store.unlinkBlob(name, digest))) throw blobUnknown(digest);
    send(res, 202, { 'docker-content-digest': digest });
  }

  private async startUpload(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, q: URLSearchParams): Promise<void> {
    const name = m[1]!;
    if (m[2]) throw unsupported('POST starts an upload at /blobs/uploads/');
    await this.authorize(req, this.repo(name, 'push'));
    const mount = q.get('mount');
    const from = q.get('from');
    if (mount && from) {
      hexOf(mount);
      // A mount needs pull rights on the source; without them (or the blob), the client uploads as usual.
      if (checkNameSafe(from) && (await this.granted(req, this.repo(from, 'pull'))) && (await this.o.store.repoBlobSize(from, mount)) !== undefined) {
        await this.o.store.linkBlob(name, mount);
        return send(res, 201, { location: `/v2/${name}/blobs/${mount}`, 'docker-content-digest': mount });
      }
    }
    const upload = await this.o.uploads.start(name);
    const digest = q.get('digest');
    if (digest) {
      await this.finishUpload(upload, digest, req);
      return send(res, 201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
    }
    if (bodyPresent(req)) await this.o.uploads.append(upload, req);
    send(res, 202, uploadHeaders(upload));
  }

  private async finishUpload(upload: Upload, digest: string, req: IncomingMessage): Promise<void> {
    try {
      hexOf(digest);
    } catch (err) {
      await this.o.uploads.cancel(upload);
      throw err;
    }
    await this.o.uploads.finish(upload, digest, bodyPresent(req) ? req : undefined);
    log.debug('blob pushed', { repository: upload.name, digest });
  }

  private async upload(req: IncomingMessage, m: RegExpExecArray, action: string): Promise<Upload> {
    const name = m[1]!;
    await this.authorize(req, this.repo(name, action));
    if (!m[2]) throw new RegistryError(404, 'BLOB_UPLOAD_UNKNOWN', 'no upload named');
    return this.o.uploads.get(name, m[2]);
  }

  private async uploadStatus(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    send(res, 204, uploadHeaders(await this.upload(req, m, 'push')));
  }

  private async patchUpload(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    const upload = await this.upload(req, m, 'push');
    const cr = req.headers['content-range'];
    let start: number | undefined;
    let end: number | undefined;
    if (cr !== undefined) {
      const r = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(cr.trim());
      if (!r) throw new RegistryError(416, 'BLOB_UPLOAD_INVALID', 'invalid Content-Range', { range: cr.slice(0, 100) }, uploadHeaders(upload));
      start = Number(r[1]);
      end = Number(r[2]);
      if (end < start) throw new RegistryError(416, 'BLOB_UPLOAD_INVALID', 'invalid Content-Range', { range: cr.slice(0, 100) }, uploadHeaders(upload));
    }
    await this.o.uploads.append(upload, req, start, end);
    send(res, 202, uploadHeaders(upload));
  }

  private async putUpload(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, q: URLSearchParams): Promise<void> {
    const upload = await this.upload(req, m, 'push');
    const digest = q.get('digest');
    if (!digest) throw digestInvalid('the digest parameter is required to end an upload');
    await this.finishUpload(upload, digest, req);
    send(res, 201, { location: `/v2/${upload.name}/blobs/${digest}`, 'docker-content-digest': digest });
  }

  private async cancelUpload(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    await this.o.uploads.cancel(await this.upload(req, m, 'push'));
    send(res, 204, {});
  }

  private async referrers(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, q: URLSearchParams): Promise<void> {
    const name = m[1]!;
    const subject = m[2]!;
    await this.authorize(req, this.repo(name, 'pull'));
    hexOf(subject);
    const artifactType = q.get('artifactType');
    const manifests: Record<string, unknown>[] = [];
    for (const digest of (await this.o.store.referrers(name, subject)).sort()) {
      const meta = await this.o.store.revision(name, digest);
      if (!meta || (artifactType && meta.artifactType !== artifactType)) continue;
      manifests.push({
        mediaType: meta.mediaType,
        digest,
        size: meta.size,
        ...(meta.artifactType ? { artifactType: meta.artifactType } : {}),
        ...(meta.annotations ? { annotations: meta.annotations } : {}),
      });
    }
    const headers: Record<string, string> = { 'content-type': MEDIA.ociIndex, ...(artifactType ? { 'oci-filters-applied': 'artifactType' } : {}) };
    send(res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
  }

  /** POST /ketch/gc: a cluster token allowed to deletecollection registry repositories runs the collector. */
  private async gcEndpoint(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    if (this.o.tokens || this.o.cluster) {
      const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const user = certificateUser(req) ?? (token && this.o.cluster ? await this.o.cluster.authenticate(token) : undefined);
      if (!user) throw new RegistryError(401, 'UNAUTHORIZED', 'a cluster token is required');
      if (!(await this.o.cluster?.authorize(user, { verb: 'deletecollection' }))) throw new RegistryError(403, 'DENIED', `${user.name} may not collect the registry's garbage`);
    }
    const graceParam = q.get('graceSeconds');
    const report: GcReport = await collectGarbage(this.o.store, this.o.uploads, this.o.lock, {
      ...this.o.gc,
      ...(graceParam !== null && /^\d+$/.test(graceParam) ? { graceMs: Number(graceParam) * 1000 } : {}),
      dryRun: q.get('dryRun') === 'true',
    });
    sendJson(res, 200, report);
  }
}

/** The user of a client certificate the cluster CA signed (CN, groups from O), as the API server reads one. */
function certificateUser(req: IncomingMessage): Principal | undefined {
  const socket = req.socket as TLSSocket;
  if (!socket.encrypted || !socket.authorized) return undefined;
  const subject = socket.getPeerCertificate()?.subject as { CN?: string | string[]; O?: string | string[] } | undefined;
  const cn = Array.isArray(subject?.CN) ? subject.CN[0] : subject?.CN;
  if (!cn) return undefined;
  const o = subject?.O;
  return { name: cn, groups: [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'] };
}

function checkNameSafe(name: string): boolean {
  try {
    checkName(name);
    return true;
  } catch {
    return false;
  }
}

/** One `bytes=a-b` range (or `a-`, `-n`); undefined for none, 'invalid' when it cannot be served. */
function parseRange(header: string | undefined, size: number): [number, number] | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (!m[1] && !m[2])) return 'invalid';
  let start: number;
  let end: number;
  if (!m[1]) {
    start = Math.max(size - Number(m[2]), 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  }
  if (start >= size || end < start) return 'invalid';
  return [start, end];
}

