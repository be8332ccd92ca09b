// The built-in registry: storage, HTTP(S) listener and token auth wired together. `ketch registry` and `ketch up`
// start it with startRegistry(); startClusterRegistry() adds what a cluster gives it (the CA, the API server's reviews).
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { issueCert, servingNames, type CertPair } from '../apiserver/pki/pki.js';
import { SERVER_TLS } from '../lib/tls.js';
import type { RestClient } from '../client/rest.js';
import { RegistryApp } from './app.js';
import { type ClusterAuth, TokenService, apiServerAuth, loadOrCreateKey } from './auth.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import { RwLock } from './lock.js';
import { RegistryStore } from './store.js';
import { Uploads } from './uploads.js';
import { logger } from '../lib/logger.js';

const log = logger('registry');

export const DEFAULT_REGISTRY_PORT = 5443;
export const DEFAULT_GC: Omit<GcOptions, 'dryRun'> = { graceMs: 60 * 60_000, uploadTtlMs: 24 * 3600_000 };

export interface RegistryServerOptions {
  /** Storage root (blobs, repositories, uploads, the token key). */
  root: string;
  port: number;
  host?: string;
  /** Serve HTTPS with this certificate; without it plain HTTP (loopback tests and benchmarks). */
  tls?: CertPair & {
    /** Accept client certificates signed by this CA as cluster credentials (user CN, groups O), as the API server does. */
    clientCaPem?: string;
  };
  /** Bearer token auth through the cluster; without it every request is allowed. */
  auth?: { cluster: ClusterAuth; anonymousPull?: boolean; realm?: string; service?: string };
  gc?: Partial<Omit<GcOptions, 'dryRun'>>;
  /** The largest blob accepted (default 32 GiB). */
  maxBlobBytes?: number;
}

export interface RunningRegistry {
  /** e.g. https://127.0.0.1:5443 */
  url: string;
  /** host:port as image references name it. */
  host: string;
  port: number;
  store: RegistryStore;
  gc(opts?: Partial<GcOptions>): Promise<GcReport>;
  close(): Promise<void>;
}

export async function startRegistry(opts: RegistryServerOptions): Promise<RunningRegistry> {
  const store = new RegistryStore(opts.root);
  await store.init();
  const uploads = new Uploads(store, opts.maxBlobBytes ?? 32 * 1024 ** 3);
  const lock = new RwLock();
  const gcDefaults = { ...DEFAULT_GC, ...opts.gc };
  const tokens = opts.auth
    ? new TokenService({
        cluster: opts.auth.cluster,
        key: await loadOrCreateKey(join(opts.root, 'token.key')),
        ...(opts.auth.service ? { service: opts.auth.service } : {}),
        ...(opts.auth.anonymousPull ? { anonymousPull: true } : {}),
      })
    : undefined;
  const app = new RegistryApp({
    store,
    uploads,
    lock,
    ...(tokens ? { tokens } : {}),
    ...(opts.auth ? { cluster: opts.auth.cluster } : {}),
    ...(opts.auth?.realm ? { realm: opts.auth.realm } : {}),
    gc: gcDefaults,
  });
  const clientCa = opts.tls?.clientCaPem;
  const server: Server = opts.tls
    ? createHttpsServer({ ...SERVER_TLS, cert: opts.tls.certPem, key: opts.tls.keyPem, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}) }, app.handle)
    : createHttpServer(app.handle);
  server.keepAliveTimeout = 65_000;
  // Uploads of large layers may take long; the socket timeout is what guards against stalled clients.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.setTimeout(5 * 60_000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const url = `${opts.tls ? 'https' : 'http'}://${shownHost}:${port}`;
  log.info('registry listening', { url, root: opts.root, auth: Boolean(opts.auth), tls: Boolean(opts.tls) });
  return {
    url,
    host: `${shownHost}:${port}`,
    port,
    store,
    gc: (o = {}) => collectGarbage(store, uploads, lock, { ...gcDefaults, ...o }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * A serving certificate for the registry signed by the cluster CA (`pkiDir`/ca.crt, ca.key as `ketch server` writes
 * them), for this host's names and addresses plus `extraNames`; written to root/tls/ for other tools.
 */
export async function registryServingCert(pkiDir: string, root: string, extraNames: string[] = []): Promise<CertPair & { clientCaPem: string }> {
  const ca = { certPem: await readFile(join(pkiDir, 'ca.crt'), 'utf8'), keyPem: await readFile(join(pkiDir, 'ca.key'), 'utf8') };
  const pair = await issueCert(ca, { commonName: 'ketch-registry', usage: 'server', ...servingNames(extraNames) });
  await mkdir(join(root, 'tls'), { recursive: true, mode: 0o700 });
  await writeFile(join(root, 'tls', 'registry.crt'), pair.certPem, { mode: 0o644 });
  await writeFile(join(root, 'tls', 'registry.key'), pair.keyPem, { mode: 0o600 });
  await writeFile(join(root, 'tls', 'ca.crt'), ca.certPem, { mode: 0o644 });
  return { ...pair, clientCaPem: ca.certPem };
}

export interface ClusterRegistryOptions {
  root: string;
  port: number;
  host?: string;
  /** The cluster's PKI directory (ca.crt and ca.key). */
  pkiDir: string;
  /** A client of the API server allowed to create TokenReviews and SubjectAccessReviews. */
  rest: RestClient;
  anonymousPull?: boolean;
  gc?: Partial<Omit<GcOptions, 'dryRun'>>;
}

/** The registry as a cluster runs it: HTTPS with the cluster CA, tokens checked and actions authorized by the API server. */
export async function startClusterRegistry(o: ClusterRegistryOptions): Promise<RunningRegistry> {
  await mkdir(o.root, { recursive: true, mode: 0o700 });
  const tls = await registryServingCert(o.pkiDir, o.root, o.host ? [o.host] : []);
  return startRegistry({
    root: o.root,
    port: o.port,
    ...(o.host ? { host: o.host } : {}),
    tls,
    auth: { cluster: apiServerAuth(o.rest), ...(o.anonymousPull ? { anonymousPull: true } : {}) },
    ...(o.gc ? { gc: o.gc } : {}),
  });
}
