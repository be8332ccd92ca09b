// `npm run bench:registry`: push and pull throughput (MB/s) and manifest GET/s of the built-in registry and of
// Debian's docker-registry (distribution 2.8) in the same run, on the same blobs, both plain HTTP on loopback without
// auth (as test/support/local-registry.ts runs distribution), each in a process of its own, plus the built-in one
// over HTTPS for reference.
// BENCH_BLOBS (default 8) blobs of BENCH_BLOB_MB (default 16) MiB; BENCH_MANIFEST_GETS (default 20000) GETs with
// BENCH_CONCURRENCY (default 16) in flight; each measurement runs registry by registry in turn, best of BENCH_ROUNDS (3).
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePki, issueCert } from '../../apiserver/pki/pki.js';
import { startRegistry as startDistribution } from '../support/runtime/registry.js';

const BLOBS = Number(process.env.BENCH_BLOBS ?? 8);
const BLOB_MB = Number(process.env.BENCH_BLOB_MB ?? 16);
const GETS = Number(process.env.BENCH_MANIFEST_GETS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Target {
  name: string;
  url: string;
  ca?: string;
}

interface Client {
  call(method: string, path: string, body?: Buffer, headers?: Record<string, string>): Promise<{ status: number; headers: IncomingMessage['headers']; bytes: number; body?: Buffer }>;
}

function client(t: Target): Client {
  const u = new URL(t.url);
  const https = u.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: CONCURRENCY, ...(t.ca ? { ca: t.ca } : {}) }) : new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY });
  const send = https ? httpsRequest : httpRequest;
  return {
    call(method, path, body, headers = {}) {
      return new Promise((resolve, reject) => {
        const req = send({ host: u.hostname, port: u.port, method, path, agent, headers: { ...headers, 'content-length': String(body?.length ?? 0) } }, (res) => {
          let bytes = 0;
          const keep: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (bytes < 64 * 1024) keep.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body: Buffer.concat(keep) }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
    },
  };
}

async function pushBlob(c: Client, repo: string, data: Buffer): Promise<void> {
  const start = await c.call('POST', `/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`upload start ${start.status}`);
  const loc = new URL(String(start.headers.location), 'http://x');
  loc.searchParams.set('digest', sha(data));
  const put = await c.call('PUT', `${loc.pathname}${loc.search}`, data, { 'content-type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`upload ${put.status}`);
}

async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  }));
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

async function measure(t: Target, blobs: Buffer[], round: number): Promise<{ push: number; pull: number; gets: number }> {
  const c = client(t);
  const repo = `bench/r${round}`;
  const mb = (blobs.length * BLOB_MB);
  let t0 = process.hrtime.bigint();
  await inParallel(blobs, 4, (b) => pushBlob(c, repo, b));
  const push = mb / seconds(t0);
  t0 = process.hrtime.bigint();
  await inParallel(blobs, 4, async (b) => {
    const r = await c.call('GET', `/v2/${repo}/blobs/${sha(b)}`);
    if (r.status !== 200 || r.bytes !== b.length) throw new Error(`pull ${r.status} ${r.bytes}`);
  });
  const pull = mb / seconds(t0);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: blobs.map(sha) } }));
  await pushBlob(c, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: blobs.map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(b), size: b.length })),
    }),
  );
  const put = await c.call('PUT', `/v2/${repo}/manifests/v1`, manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
  if (put.status !== 201) throw new Error(`manifest ${put.status}`);
  const refs = Array.from({ length: GETS }, (_, i) => (i % 2 ? 'v1' : sha(manifest)));
  t0 = process.hrtime.bigint();
  await inParallel(refs, CONCURRENCY, async (ref) => {
    const r = await c.call('GET', `/v2/${repo}/manifests/${ref}`, undefined, { accept: 'application/vnd.oci.image.manifest.v1+json' });
    if (r.status !== 200 || r.bytes !== manifest.length) throw new Error(`manifest GET ${r.status}`);
  });
  const gets = GETS / seconds(t0);
  return { push, pull, gets };
}

/** Our registry in a child process (tsx), as distribution runs in its own; resolves once it listens. */
async function startOurs(root: string, tls?: { cert: string; key: string }): Promise<{ url: string; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./registry-bench-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, root, ...(tls ? [tls.cert, tls.key] : [])], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`registry-bench-server exited ${code}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, stop: async () => void (child.kill('SIGTERM'), await exited) };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'ketch-regbench-'));
  const distribution = await startDistribution();
  const ours = await startOurs(join(work, 'plain'));
  const pki = await ensurePki(join(work, 'pki'));
  const tls = await issueCert(pki.ca, { commonName: 'bench', usage: 'server', ips: ['127.0.0.1'] });
  await writeFile(join(work, 'tls.crt'), tls.certPem);
  await writeFile(join(work, 'tls.key'), tls.keyPem);
  const oursTls = await startOurs(join(work, 'tls'), { cert: join(work, 'tls.crt'), key: join(work, 'tls.key') });
  const targets: Target[] = [
    { name: 'docker-registry 2.8 (http)', url: distribution.url },
    { name: 'ketch registry (http)', url: ours.url },
    { name: 'ketch registry (https)', url: oursTls.url, ca: pki.ca.certPem },
  ];
  try {
    const blobs = Array.from({ length: BLOBS }, () => randomBytes(BLOB_MB * 1024 * 1024));
    const best = new Map<string, { push: number; pull: number; gets: number }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const r = await measure(t, blobs, round);
        const b = best.get(t.name);
        best.set(t.name, b ? { push: Math.max(b.push, r.push), pull: Math.max(b.pull, r.pull), gets: Math.max(b.gets, r.gets) } : r);
      }
    }
    console.log(`registry benchmark: ${BLOBS} blobs of ${BLOB_MB} MiB (4 at a time), ${GETS} manifest GETs (${CONCURRENCY} in flight), best of ${ROUNDS}`);
    console.log(`${'registry'.padEnd(28)} ${'push MB/s'.padStart(10)} ${'pull MB/s'.padStart(10)} ${'manifest GET/s'.padStart(15)}`);
    for (const t of targets) {
      const r = best.get(t.name)!;
      console.log(`${t.name.padEnd(28)} ${r.push.toFixed(0).padStart(10)} ${r.pull.toFixed(0).padStart(10)} ${r.gets.toFixed(0).padStart(15)}`);
    }
    const d = best.get(targets[0]!.name)!;
    const o = best.get(targets[1]!.name)!;
    console.log(`ratio ketch/distribution (http): push ${(o.push / d.push).toFixed(2)}, pull ${(o.pull / d.pull).toFixed(2)}, manifest GET ${(o.gets / d.gets).toFixed(2)} (target >= 1.0)`);
  } finally {
    await ours.stop();
    await oursTls.stop();
    await distribution.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
