// Starts a real etcd server for tests and benchmarks: random free loopback ports, a temp data dir, stopped afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { createCa, DAY_MS, generateKeyPair, signCertificate, type CertPair } from '../../lib/x509.js';
import { freePort, waitFor } from './util.js';

export interface EtcdServer {
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** TLS for clients and peers: etcd's certificate (SAN 127.0.0.1, server and client auth) and the CA clients must be signed by. */
export interface EtcdTlsFiles {
  ca: CertPair;
  server: CertPair;
  /** A client certificate of the CA, for etcd's own health check. */
  client: CertPair;
}

export interface EtcdStartOptions {
  progressIntervalMs?: number;
  /** An existing member data dir (e.g. restored from a snapshot with --name test and this peer port); removed at stop. */
  dataDir?: string;
  peerPort?: number;
  /** TLS on the client and peer ports, client certificates required. */
  tls?: EtcdTlsFiles;
}

export async function startEtcd(opts: EtcdStartOptions = {}): Promise<EtcdServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ketch-etcd-'));
  const clientPort = await freePort();
  const peerPort = opts.peerPort ?? (await freePort());
  const scheme = opts.tls ? 'https' : 'http';
  const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
  const tlsArgs = opts.tls ? tlsFlags(dataDir, opts.tls) : [];
  let stderr = '';
  const proc: ChildProcess = spawn(
    'etcd',
    [
      '--name', 'test',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `${scheme}://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `${scheme}://127.0.0.1:${peerPort}`,
      '--initial-cluster', `test=${scheme}://127.0.0.1:${peerPort}`,
      ...tlsArgs,
      // Room for a 1.5 MiB value plus the request's own framing (the store enforces 1.5 MiB itself).
      '--max-request-bytes', String(2 * 1024 * 1024),
      '--experimental-watch-progress-notify-interval', `${opts.progressIntervalMs ?? 1000}ms`,
      '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exited = false;
  proc.on('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`etcd exited at start: ${stderr}`);
      return opts.tls ? httpsHealthy(endpoint, opts.tls) : ((await fetch(`${endpoint}/health`).catch(() => undefined))?.ok ?? false);
    },
    { timeoutMs: 20_000, what: 'etcd to answer /health' },
  );
  return {
    endpoint,
    dataDir,
    stop: async () => {
      if (!exited) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** etcd's flags for TLS on the client and peer ports, with client certificates required; the files go in dir. */
function tlsFlags(dir: string, tls: EtcdTlsFiles): string[] {
  const file = (name: string, pem: string): string => {
    const path = join(dir, name);
    writeFileSync(path, pem, { mode: 0o600 });
    return path;
  };
  const ca = file('ca.crt', tls.ca.certPem);
  const cert = file('server.crt', tls.server.certPem);
  const key = file('server.key', tls.server.keyPem);
  return [
    '--cert-file', cert, '--key-file', key, '--trusted-ca-file', ca, '--client-cert-auth',
    '--peer-cert-file', cert, '--peer-key-file', key, '--peer-trusted-ca-file', ca, '--peer-client-cert-auth',
  ];
}

/** GET /health over TLS with the test client certificate. */
function httpsHealthy(endpoint: string, tls: EtcdTlsFiles): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/health`, { ca: tls.ca.certPem, cert: tls.client.certPem, key: tls.client.keyPem }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** A CA, etcd's certificate for 127.0.0.1 (server and client auth: peers use it both ways) and a client certificate. */
export async function makeEtcdTls(clientName = 'ketch-apiserver-etcd-client'): Promise<EtcdTlsFiles> {
  const ca = await createCa('etcd-ca');
  const leaf = async (commonName: string, usages: string[], names: { dns?: string[]; ips?: string[] }): Promise<CertPair> => {
    const keys = await generateKeyPair();
    const now = Date.now();
    const certPem = await signCertificate(ca, { subject: { commonName }, publicKey: keys.publicKey, usages, ...names, notBefore: new Date(now - 60_000), notAfter: new Date(now + DAY_MS) });
    return { certPem, keyPem: keys.keyPem };
  };
  return {
    ca,
    server: await leaf('etcd', ['digital signature', 'key encipherment', 'server auth', 'client auth'], { dns: ['localhost'], ips: ['127.0.0.1'] }),
    client: await leaf(clientName, ['digital signature', 'key encipherment', 'client auth'], {}),
  };
}
