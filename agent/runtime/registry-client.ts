// Pulls an image from an OCI distribution (v2) registry into the content store, verifying every digest.
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
// undici's own fetch (the one Node bundles is older): its dispatcher carries the cluster CA and the node's certificate.
import { Agent, defaultDispatcher, fetch, type RequestInit, type Response } from '../../lib/undici.js';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ContentStore, DigestMismatchError, sha256 } from './content-store.js';
import { RuntimeError } from '../cri/errors.js';
import {
  MANIFEST_ACCEPT,
  type Descriptor,
  type ImageConfig,
  type Manifest,
  isIndex,
  parseImageConfig,
  parseManifestOrIndex,
  pickPlatform,
} from './oci.js';
import { type ImageReference, formatReference } from './reference.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export interface RegistryOptions {
  /** Hosts (host or host:port) reached over plain HTTP. Loopback hosts always are. */
  insecureRegistries: string[];
  /** Registry host -> mirror endpoint, e.g. {"docker.io": "http://127.0.0.1:5000"}; tried before the registry itself. */
  mirrors: Record<string, string>;
  /**
   * The cluster's TLS material (files, read at each pull: a rotated certificate is picked up): registries whose
   * certificate the cluster CA signed (the built-in one) are trusted beside the system's CAs, and the node's client
   * certificate is presented to a registry that asks for one (the built-in registry's token endpoint takes it as the
   * node's identity). No flag names the built-in registry: its CA is the one the node already trusts.
   */
  clusterTls?: { caFile: string; certFile?: string; keyFile?: string };
}

export interface Credentials {
  username?: string;
  password?: string;
  /** base64("user:password"), as in a docker config.json. */
  auth?: string;
  /** A bearer token sent as is. */
  registryToken?: string;
  /** An OAuth2 refresh token, exchanged at the token endpoint. */
  identityToken?: string;
}

export interface PulledImage {
  manifestDigest: string;
  manifest: Manifest;
  configDigest: string;
  config: ImageConfig;
  /** The endpoint the image came from (a mirror or the registry). */
  source: string;
}

/**
 * How far a pull has come: the bytes of the manifest's config and layers, and how many of them are in the content
 * store (already there, or streamed so far). Read while the pull runs (the CRI's ImageStatus, the progress log line).
 */
export class PullProgress {
  totalBytes = 0;
  doneBytes = 0;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/**
 * The base URLs of a registry host, in the order tried: https, or plain http for one configured insecure; a loopback
 * host is tried over https first and then http (as Docker treats localhost registries), so the built-in registry on
 * 127.0.0.1 is reached over TLS and a plain test registry there still works.
 */
export function endpointsFor(host: string, opts: RegistryOptions): string[] {
  if (/^https?:\/\//.test(host)) return [host.replace(/\/+$/, '')];
  if (host === 'docker.io') return ['https://registry-1.docker.io'];
  if (opts.insecureRegistries.includes(host)) return [`http://${host}`];
  return isLoopback(host) ? [`https://${host}`, `http://${host}`] : [`https://${host}`];
}

/** The connection pool of one pull: the system CAs plus the cluster CA, and the node's client certificate. */
async function clusterDispatcher(opts: RegistryOptions): Promise<Agent | undefined> {
  const t = opts.clusterTls;
  if (!t) return undefined;
  const [ca, cert, key] = await Promise.all([readFile(t.caFile, 'utf8'), t.certFile ? readFile(t.certFile, 'utf8') : undefined, t.keyFile ? readFile(t.keyFile, 'utf8') : undefined]);
  return new Agent({ connect: { ca: [...rootCertificates, ca], ...(cert && key ? { cert, key } : {}) } });
}

/**
 * Whether credentials may be sent to `url`: over TLS, or to a host the operator named insecure (--insecure-registry,
 * or a mirror URL given with http://). A loopback registry is pulled from over plain HTTP, but gets no credentials
 * unless named.
 */
export function mayCarryCredentials(url: string, opts: RegistryOptions): boolean {
  const u = new URL(url);
  if (u.protocol === 'https:') return true;
  if (opts.insecureRegistries.includes(u.host)) return true;
  return Object.values(opts.mirrors).some((m) => m.startsWith('http://') && new URL(m).host === u.host);
}

/** Manifests and indexes larger than this are refused (containerd's limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function basicAuth(creds: Credentials): string | undefined {
  if (creds.auth) return `Basic ${creds.auth}`;
  if (creds.username || creds.password) {
    return `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
  }
  return undefined;
}

/** Parses `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /(\w+)=(?:"([^"]*)"|([^,\s]*))/g;
  for (let m = re.exec(header.slice(space + 1)); m; m = re.exec(header.slice(space + 1))) {
    if (m[1]) params[m[1].toLowerCase()] = m[2] ?? m[3] ?? '';
  }
  return { scheme, params };
}

/** One registry endpoint for one repository, remembering the Authorization it earned. */
class RegistrySession {
  private authorization: string | undefined;

  constructor(
    readonly base: string,
    private readonly repository: string,
    private readonly creds: Credentials,
    private readonly opts: RegistryOptions,
    private readonly dispatcher?: Agent,
  ) {
    if (creds.registryToken) this.authorization = `Bearer ${this.checked(base, creds.registryToken)}`;
  }

  /** `secret`, once `url` is known to be a place it may go; else the pull fails saying why. */
  private checked(url: string, secret: string): string {
    if (!mayCarryCredentials(url, this.opts)) {
      throw new RuntimeError('PermissionDenied', `${new URL(url).host} asks for credentials over plain HTTP: they are sent only over TLS or to a registry named with --insecure-registry`, false);
    }
    return secret;
  }

  async get(path: string, accept?: string[]): Promise<Response> {
    const url = `${this.base}/v2/${this.repository}/${path}`;
    let res = await this.send(url, accept);
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate');
      await res.body?.cancel();
      if (!challenge) throw new RuntimeError('PermissionDenied', `${url}: unauthorized, and no authentication challenge`, false);
      this.authorization = await this.answer(challenge);
      res = await this.send(url, accept);
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        throw new RuntimeError('PermissionDenied', `${this.base}: access to ${this.repository} denied (check the pull credentials)`, false);
      }
    }
    return res;
  }

  /** GET with redirects followed by hand: the Authorization header never goes to another origin (blob storage). */
  private async send(url: string, accept?: string[]): Promise<Response> {
    let target = new URL(url);
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept.join(', ');
      if (this.authorization && target.origin === new URL(this.base).origin) headers.authorization = this.authorization;
      const res = await fetch(target, this.init({ headers, redirect: 'manual' }));
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return res;
      await res.body?.cancel();
      if (hops >= 5) throw new RuntimeError('Unavailable', `${url}: too many redirects`, false);
      target = new URL(location, target);
    }
  }

  /** A request's options with this pull's connection pool. */
  private init(init: RequestInit): RequestInit {
    return { ...init, dispatcher: this.dispatcher ?? defaultDispatcher };
  }

  private async answer(header: string): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    const basic = basicAuth(this.creds);
    if (scheme === 'basic') {
      if (!basic) throw new RuntimeError('PermissionDenied', `${this.base} wants credentials and the pull request has none`, false);
      return this.checked(this.base, basic);
    }
    if (scheme !== 'bearer' || !params.realm) throw new RuntimeError('PermissionDenied', `${this.base}: unsupported auth challenge "${header}"`, false);
    const realm = new URL(params.realm);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? `repository:${this.repository}:pull`);
    let res: Response;
    if (this.creds.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.checked(params.realm, this.creds.identityToken), service: params.service ?? '', scope: realm.searchParams.get('scope') ?? '', client_id: 'ketch' });
      res = await fetch(params.realm, this.init({ method: 'POST', body: form, redirect: 'error' }));
    } else {
      // Without credentials the token endpoint may still hand out an anonymous token.
      res = await fetch(realm, this.init({ headers: basic ? { authorization: this.checked(realm.href, basic) } : {}, redirect: 'error' }));
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError('PermissionDenied', `token endpoint ${realm.origin}${realm.pathname} answered ${res.status}`, false);
    }
    const body = (await res.json()) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new RuntimeError('PermissionDenied', `token endpoint ${realm.origin} returned no token`, false);
    return `Bearer ${token}`;
  }
}

async function errorText(res: Response): Promise<string> {
  // The status line says what failed; a body cut off (the connection dropped) leaves just that to say.
  const text = await res.text().catch((err: unknown) => `(body unreadable: ${String(err)})`);
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = doc.errors?.[0];
    if (first) return `${first.code ?? ''}: ${first.message ?? ''}`.trim();
  } catch {
    // Not a registry error document (an HTML page from a proxy, say): its first bytes are shown as they are.
  }
  return text.slice(0, 200) || res.statusText;
}

/** The body, read as it comes and abandoned past `max` bytes (a hostile registry cannot make us buffer more). */
async function readCapped(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    throw new RuntimeError('FailedPrecondition', `${what} is ${declared} bytes, more than the ${max} allowed`, false);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > max) throw new RuntimeError('FailedPrecondition', `${what} is more than the ${max} bytes allowed`, false);
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

async function fetchManifest(s: RegistrySession, ref: string, expectedDigest: string | undefined, name: string): Promise<{ body: Buffer; digest: string; contentType: string | undefined }> {
  const res = await s.get(`manifests/${ref}`, MANIFEST_ACCEPT);
  if (res.status === 404) throw new RuntimeError('NotFound', `image "${name}" not found at ${s.base}: ${await errorText(res)}`);
  if (!res.ok) throw new RuntimeError('Unavailable', `${s.base}: fetching manifest of "${name}" failed: HTTP ${res.status} ${await errorText(res)}`, false);
  const body = await readCapped(res, MAX_MANIFEST_BYTES, `the manifest of "${name}"`);
  const digest = sha256(body);
  const want = expectedDigest ?? res.headers.get('docker-content-digest') ?? undefined;
  if (want && want !== digest) throw new DigestMismatchError(`manifest of ${name}`, want, digest);
  return { body, digest, contentType: res.headers.get('content-type') ?? undefined };
}

async function fetchBlob(s: RegistrySession, store: ContentStore, d: Descriptor, name: string, progress: PullProgress): Promise<void> {
  if (await store.has(d.digest)) {
    progress.doneBytes += d.size;
    return;
  }
  const res = await s.get(`blobs/${d.digest}`);
  if (res.status === 404) throw new RuntimeError('NotFound', `image "${name}": blob ${d.digest} not found at ${s.base}`);
  if (!res.ok || !res.body) throw new RuntimeError('Unavailable', `${s.base}: fetching blob ${d.digest} failed: HTTP ${res.status}`, false);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared !== d.size) {
    await res.body.cancel();
    throw new RuntimeError('FailedPrecondition', `size mismatch for blob ${d.digest} of ${name}: the manifest says ${d.size} bytes, the registry sends ${declared}`, false);
  }
  let streamed = 0;
  try {
    await store.putStream(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), d.digest, d.size, `blob ${d.digest} of ${name}`, (n) => {
      streamed += n;
      progress.doneBytes += n;
    });
  } catch (err) {
    // The bytes of a blob that failed are not in the store: the count says so.
    progress.doneBytes -= streamed;
    throw err;
  }
}

async function pullFrom(base: string, ref: ImageReference, store: ContentStore, creds: Credentials, opts: RegistryOptions, dispatcher: Agent | undefined, progress: PullProgress): Promise<PulledImage> {
  const name = formatReference(ref);
  const s = new RegistrySession(base, ref.repository, creds, opts, dispatcher);
  let got = await fetchManifest(s, ref.digest ?? ref.tag ?? 'latest', ref.digest, name);
  let doc = parseManifestOrIndex(got.body, got.contentType);
  await store.putBytes(got.body, got.digest, `manifest of ${name}`);
  if (isIndex(doc)) {
    const chosen = pickPlatform(doc, name);
    got = await fetchManifest(s, chosen.digest, chosen.digest, name);
    doc = parseManifestOrIndex(got.body, got.contentType);
    if (isIndex(doc)) throw new RuntimeError('FailedPrecondition', `image "${name}": nested index is not supported`, false);
    await store.putBytes(got.body, got.digest, `manifest of ${name}`);
  }
  const manifest = doc;
  progress.totalBytes = manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
  progress.doneBytes = 0;
  await fetchBlob(s, store, manifest.config, name, progress);
  const config = parseImageConfig(await store.read(manifest.config.digest));
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new RuntimeError('FailedPrecondition', `image "${name}": ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`, false);
  }
  // Three downloads at a time.
  const queue = [...manifest.layers];
  const worker = async (): Promise<void> => {
    for (let d = queue.shift(); d; d = queue.shift()) await fetchBlob(s, store, d, name, progress);
  };
  await Promise.all([worker(), worker(), worker()]);
  return { manifestDigest: got.digest, manifest, configDigest: manifest.config.digest, config, source: base };
}

function isFallbackWorthy(err: unknown): boolean {
  // A mirror that lacks the image, or cannot be reached, hands over to the next endpoint; a bad digest does not.
  if (err instanceof DigestMismatchError) return false;
  if (err instanceof RuntimeError) return err.code === 'NotFound' || err.code === 'Unavailable';
  return true;
}

export async function pullImage(ref: ImageReference, store: ContentStore, opts: RegistryOptions, creds: Credentials = {}, progress = new PullProgress()): Promise<PulledImage> {
  const endpoints: string[] = [];
  const mirror = opts.mirrors[ref.domain];
  if (mirror) endpoints.push(...endpointsFor(mirror, opts));
  endpoints.push(...endpointsFor(ref.domain, opts));
  const dispatcher = await clusterDispatcher(opts);
  let firstError: unknown;
  try {
    for (const [i, base] of endpoints.entries()) {
      try {
        return await pullFrom(base, ref, store, creds, opts, dispatcher, progress);
      } catch (err) {
        const last = i === endpoints.length - 1;
        firstError ??= err;
        if (last || !isFallbackWorthy(err)) throw normalize(firstError instanceof RuntimeError && firstError.code === 'NotFound' ? firstError : err, base);
        log.info('image pull from an endpoint failed, trying the next', { image: formatReference(ref), endpoint: base, error: String(err) });
      }
    }
  } finally {
    await dispatcher?.close();
  }
  throw new Error('unreachable');
}

function normalize(err: unknown, base: string): unknown {
  if (err instanceof RuntimeError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new RuntimeError('Unavailable', `registry ${base} unreachable: ${detail}`, false);
}
