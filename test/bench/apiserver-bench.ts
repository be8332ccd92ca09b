// `npm run bench:apiserver`: the API server over HTTPS beside its own storage backend used directly, in one run.
//
// The API server runs in a child process (so that it does not share a core with the load generator) over an
// instrumented Storage; the raw figures are measured in that child on the same Storage, with the bytes the API server
// stored for a pod and the same concurrency. Measured: pod creates/s (c=1, c=64), gets/s, listing 10,000 pods (ms and
// bytes), and watch fan-out to 1,000 watchers (delivery latency of one change, and the storage watches open meanwhile).
//
// Creates have two baselines. The target (API at least half as fast) is judged on the raw engine, defined as in
// storage-bench.ts: raw better-sqlite3 inserts with the same durability (WAL, synchronous=FULL, one transaction per
// insert; synchronous, so concurrency 1 either way) for embedded, raw etcd3 puts for etcd. Our own Storage is printed
// beside it: the embedded one group-commits concurrent writes (64 per fsync), which no HTTPS server can reach half of.
//
// A third line per concurrency is the ceiling for an API server in Node on this machine: a minimal HTTPS server in the
// same child (same TLS settings, same client) that only parses the JSON body, writes it with the same Storage.create the
// API server uses, and answers 201 with a body of a created pod's size. API / ceiling is what the API server's own work
// per request costs; ceiling / raw engine is what Node's HTTPS plus the storage write allow at all. When the ceiling is
// itself under half the raw engine, no Node HTTPS API can meet the target at that concurrency.
//
// Two load generators drive the creates: h2load (nghttp2's load generator, in C; Debian's nghttp2-client), which the
// target is judged on, and undici (Node's HTTP client) in this process. On 2 cores the client shares the machine with
// the server: undici's own CPU per request (and its event loop at c=1) is part of what it measures, h2load's much less.
// h2load sends HTTP/1.1 over TLS with a bearer token (it has no client certificates), one request in flight per
// connection, for H2LOAD_SECONDS after a warm-up in which the connections are made; pods are named by generateName.
//
// A last line compares creates by a non-admin user with --authorization-mode=Node,RBAC and 1,000 RoleBindings against
// AlwaysAllow (two API servers in the same run; BENCH_AUTHZ=0 leaves it out).
//
// BENCH_OPS (creates per round, default 2000), BENCH_WATCHERS (1000), BENCH_LIST (10000), BENCH_BACKENDS (embedded,etcd),
// BENCH_CHILD_NODE_ARGS (node flags for the API server child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer as createHttpsServer, request, type RequestOptions, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { Pool, type Dispatcher } from 'undici';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findByResource } from '../../api/resources.js';
import { prefixKey } from '../../api/keys.js';
import { parseAuthorizationModes, startApiServer } from '../../apiserver/index.js';
import { openStorage, type Storage } from '../../apiserver/storage/index.js';
import { startEtcd } from '../support/etcd-server.js';
import { benchExtensions } from './extension-bench.js';
import { InstrumentedStorage } from '../support/instrumented-storage.js';

const OPS = Number(process.env.BENCH_OPS ?? 2000);
const WATCHERS = Number(process.env.BENCH_WATCHERS ?? 1000);
const LIST_N = Number(process.env.BENCH_LIST ?? 10_000);
const ROUNDS = 3;
const H2LOAD_SECONDS = 2;
const CHANGES = 20;
const PODS_PREFIX = prefixKey(findByResource('', 'v1', 'pods')!);
const RUN = Date.now().toString(36);

/** Runs `total` calls of op with `concurrency` in flight; returns ops per second. */
async function rate(total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await op(next++);
    }),
  );
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const median = (xs: number[]): number => percentile(xs, 50);

// ---- the child: API server + raw storage operations on request -------------------------------------------------

type ChildOp =
  | { op: 'raw-creates'; key: string; total: number; concurrency: number; round: string }
  | { op: 'engine-creates'; key: string; total: number; concurrency: number; round: string }
  | { op: 'floor-sample'; key: string }
  | { op: 'raw-gets'; prefix: string; total: number; concurrency: number }
  | { op: 'raw-list'; prefix: string }
  | { op: 'watches' }
  | { op: 'cpu' }
  | { op: 'stop' };
type ChildRequest = ChildOp & { id: number };

interface Ready {
  port: number;
  /** The minimal HTTPS server: JSON.parse, one raw engine write, a fixed 201 answer. */
  floorPort: number;
  dataDir: string;
}

async function child(): Promise<void> {
  const dataDir = process.env.BENCH_DATA_DIR!;
  const etcd = process.env.BENCH_ETCD;
  const inner = await openStorage({ dataDir, ketchVersion: 'bench', ...(etcd ? { etcdServers: [etcd] } : {}) });
  const st = new InstrumentedStorage(inner);
  const storage = st.storage;
  const modes = process.env.BENCH_AUTHZ_MODES ? parseAuthorizationModes([process.env.BENCH_AUTHZ_MODES]) : undefined;
  const api = await startApiServer({ dataDir, securePort: 0, bindAddress: '127.0.0.1', storage, maxWatches: WATCHERS + 100, ...(modes ? { authorizationModes: modes } : {}) });
  const engine = rawEngine(dataDir, etcd);
  const floor = await startFloorServer(dataDir, storage);
  const send = (m: unknown): void => void process.send!(m);
  process.on('message', (m: ChildRequest) => {
    const reply = (v: unknown): void => send({ id: m.id, value: v });
    void (async () => {
      switch (m.op) {
        case 'raw-creates': {
          // The bytes the API server stored for a sample pod: raw writes carry exactly the same payload.
          const sample = await storage.get(m.key);
          if (!sample) throw new Error(`no sample at ${m.key}`);
          return reply(await rate(m.total, m.concurrency, (i) => storage.create(`/raw/${m.round}/${i}`, sample.value)));
        }
        case 'engine-creates': {
          const sample = await storage.get(m.key);
          if (!sample) throw new Error(`no sample at ${m.key}`);
          return reply(await engine.creates(m.total, m.concurrency, m.round, Buffer.from(sample.value)));
        }
        case 'floor-sample': {
          const sample = await storage.get(m.key);
          if (!sample) throw new Error(`no sample at ${m.key}`);
          floor.sample = Buffer.from(sample.value);
          return reply(true);
        }
        case 'raw-gets': {
          const { items } = await storage.list(m.prefix, { limit: 1000 });
          return reply(await rate(m.total, m.concurrency, (i) => storage.get(items[i % items.length]!.key)));
        }
        case 'raw-list': {
          const t0 = performance.now();
          const r = await storage.list(m.prefix);
          return reply({ ms: performance.now() - t0, items: r.items.length, bytes: r.items.reduce((n, kv) => n + kv.value.byteLength, 0) });
        }
        case 'watches':
          return reply({ pods: st.openWatches(PODS_PREFIX), total: st.openWatches(), keys: st.openWatchKeys() });
        case 'cpu': {
          const u = process.cpuUsage();
          return reply(u.user + u.system);
        }
        case 'stop':
          await api.close();
          floor.server.close();
          await inner.close();
          engine.close();
          reply(true);
          process.exit(0);
      }
    })().catch((err: unknown) => send({ id: m.id, error: String((err as Error).stack ?? err) }));
  });
  send({ ready: { port: api.port, floorPort: floor.port, dataDir } satisfies Ready });
}

/** The ceiling: Node's HTTPS server with the API server's TLS settings, doing per request only what any create must. */
async function startFloorServer(dataDir: string, storage: Storage): Promise<{ server: HttpsServer; port: number; sample: Buffer }> {
  const pki = (f: string): string => readFileSync(join(dataDir, 'pki', f), 'utf8');
  let seq = 0;
  const state = { sample: Buffer.from('{}') };
  const server = createHttpsServer({ key: pki('serving.key'), cert: pki('serving.crt'), ca: pki('ca.crt'), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const obj = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata?: { name?: string } };
      storage
        .create(`/floor/${RUN}/${obj.metadata?.name ?? ''}/${seq++}`, state.sample)
        .then(() => {
          res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': state.sample.length });
          res.end(state.sample);
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, { server, port: (server.address() as AddressInfo).port });
}

/** The raw engine under our Storage, used as in storage-bench.ts: the baseline the create target is judged on. */
interface RawEngine {
  creates(total: number, c: number, round: string, value: Buffer): Promise<number>;
  close(): void;
}

function rawEngine(dataDir: string, etcd: string | undefined): RawEngine {
  if (etcd) {
    const client = new Etcd3({ hosts: [etcd] });
    return {
      creates: (total, c, round, value) => rate(total, c, (i) => client.put(`/raw-engine/${round}/${i}`).value(value).exec()),
      close: () => client.close(),
    };
  }
  const db = new Database(join(dataDir, 'raw-engine.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)');
  const ins = db.prepare('INSERT INTO kv(key, value) VALUES (?, ?)');
  return {
    // better-sqlite3 is synchronous: one insert per transaction whatever the concurrency.
    creates: (total, _c, round, value) => rate(total, 1, async (i) => ins.run(`/raw-engine/${round}/${i}`, value)),
    close: () => db.close(),
  };
}

// ---- the parent: load generator ----------------------------------------------------------------------------------

interface Server {
  proc: ChildProcess;
  port: number;
  floorPort: number;
  tls: Pick<RequestOptions, 'ca' | 'cert' | 'key'>;
  ask<T>(req: ChildOp): Promise<T>;
}

async function startChild(dataDir: string, etcd?: string, authorizationModes?: string): Promise<Server> {
  const proc = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
    env: {
      ...process.env,
      BENCH_CHILD: '1',
      BENCH_DATA_DIR: dataDir,
      KETCH_LOG_LEVEL: 'warn',
      ...(etcd ? { BENCH_ETCD: etcd } : {}),
      ...(authorizationModes ? { BENCH_AUTHZ_MODES: authorizationModes } : {}),
    },
  });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const ready = new Promise<Ready>((resolve, reject) => {
    proc.on('message', (m: { ready?: Ready; id?: number; value?: unknown; error?: string }) => {
      if (m.ready) return resolve(m.ready);
      const w = waiting.get(m.id!);
      waiting.delete(m.id!);
      if (m.error) w?.reject(new Error(m.error));
      else w?.resolve(m.value);
    });
    proc.once('exit', (code) => reject(new Error(`API server child exited (${code})`)));
  });
  const { port, floorPort } = await ready;
  const pki = (f: string): string => readFileSync(join(dataDir, 'pki', f), 'utf8');
  return {
    proc,
    port,
    floorPort,
    // The super-admin (system:masters, allowed before any authorizer), as the admin was before kubeadm 1.29's split: the
    // throughput lines keep measuring the same path; what authorization costs is benchAuthorization's line.
    tls: { ca: pki('ca.crt'), cert: pki('super-admin.crt'), key: pki('super-admin.key') },
    ask: <T>(req: ChildOp) =>
      new Promise<T>((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        proc.send({ ...req, id });
      }),
  };
}

interface Reply {
  status: number;
  body: Buffer;
}

/**
 * The load generator: undici (the HTTP client behind Node's fetch), one keep-alive connection per request in flight.
 * Measured against a minimal Node HTTPS server at c=64, requests from node:https cost that server 60-69 us of CPU each
 * and requests from undici 35 us: node:https would make the client part of what is measured.
 */
function client(srv: Server, sockets: number, port = srv.port): (method: string, path: string, body?: unknown, contentType?: string) => Promise<Reply> {
  const pool = new Pool(`https://127.0.0.1:${port}`, { connections: sockets, connect: { ...srv.tls, servername: 'localhost' } });
  return async (method, path, body, contentType = 'application/json') => {
    const res = await pool.request({
      method: method as Dispatcher.HttpMethod,
      path,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
  };
}

/**
 * h2load against `url`: `c` connections, HTTP/1.1 over TLS, each POSTing `bodyFile` with one request in flight, for
 * H2LOAD_SECONDS after a 300 ms warm-up (connections are made during the warm-up). Returns requests/s of the main
 * duration; any failed request or non-2xx answer is an error.
 */
function h2load(url: string, c: number, bodyFile: string, token: string): Promise<number> {
  const args = ['--h1', `-c${c}`, '-D', `${H2LOAD_SECONDS}s`, '--warm-up-time=300ms', '-d', bodyFile];
  for (const h of [`authorization: Bearer ${token}`, 'content-type: application/json', 'accept: application/json']) args.push('-H', h);
  return new Promise((resolve, reject) => {
    execFile('h2load', [...args, url], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new Error('h2load not found: install Debian\'s nghttp2-client (scripts/install-deps.sh does)') : err);
      const rate = /finished in [^,]+, ([\d.]+) req\/s/.exec(stdout);
      const done = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
      const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
      if (!rate || !done || !codes) return reject(new Error(`h2load: unexpected output:\n${stdout}`));
      const bad = [done[2], done[3], done[4], codes[2], codes[3], codes[4]].map(Number);
      if (bad.some((n) => n > 0) || Number(done[1]) === 0) return reject(new Error(`h2load: requests failed or were not 2xx:\n${stdout}`));
      resolve(Number(rate[1]));
    });
  });
}

const pod = (name: string, extra: Record<string, string> = {}): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'bench' }, annotations: extra },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], resources: { requests: { cpu: '100m', memory: '64Mi' } } }] },
});

async function must(p: Promise<Reply>, want: number): Promise<Reply> {
  const r = await p;
  if (r.status !== want) throw new Error(`HTTP ${r.status} (wanted ${want}): ${r.body.toString('utf8').slice(0, 300)}`);
  return r;
}

/** Whether a create cell meets the target, and when not, whether any Node HTTPS server could have (the ceiling). */
function verdict(backend: string, c: number, api: number, ceiling: number): string {
  const cell = `${backend} c=${c}: API/raw ${api.toFixed(2)}, ceiling/raw ${ceiling.toFixed(2)}`;
  if (api >= 0.5) return `${cell}: target met`;
  if (ceiling < 0.5) return `${cell}: target missed; the ceiling itself is under 0.5, so no Node HTTPS server meets it on this machine`;
  return `${cell}: target missed`;
}
const verdicts: string[] = [];

interface Row {
  backend: string;
  metric: string;
  api: string;
  raw: string;
  ratio: string;
}
const rows: Row[] = [];
function record(backend: string, metric: string, api: number, unit: string, raw?: number): void {
  const fmt = (v: number): string => `${v.toFixed(unit === 'ms' ? 1 : 0)} ${unit}`;
  const row = { backend, metric, api: fmt(api), raw: raw === undefined ? '' : fmt(raw), ratio: raw === undefined ? '' : (api / raw).toFixed(2) };
  rows.push(row);
  process.stderr.write(`  ${backend} ${metric}: ${row.api}${raw === undefined ? '' : ` (raw ${row.raw}, ratio ${row.ratio})`}\n`);
}

async function benchBackend(backend: string, etcd?: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-apiserver-bench-'));
  const srv = await startChild(dataDir, etcd);
  try {
    const call = client(srv, 64);
    for (const ns of ['bench', 'bench-list', 'bench-watch']) await must(call('POST', '/api/v1/namespaces', { metadata: { name: ns } }), 201);
    const pods = (ns: string): string => `/api/v1/namespaces/${ns}/pods`;
    await must(call('POST', pods('bench'), pod('sample')), 201);
    const sampleKey = `${PODS_PREFIX}bench/sample`;
    await srv.ask({ op: 'floor-sample', key: sampleKey });
    const floorCall = client(srv, 64, srv.floorPort);
    const token = readFileSync(join(dataDir, 'token-file'), 'utf8').split(',')[0]!;
    const bodyFile = join(dataDir, 'h2load-pod.json');
    writeFileSync(bodyFile, JSON.stringify({ ...(pod('') as object), metadata: { generateName: 'h2-', labels: { app: 'bench' } } }));
    const native = (port: number, c: number): Promise<number> => h2load(`https://127.0.0.1:${port}${pods('bench')}`, c, bodyFile, token);

    // Creates: alternating rounds (engine, storage, API, engine, ...) so that noise on the shared machine hits all alike.
    const engineName = etcd ? 'raw etcd3 puts' : 'raw SQLite inserts, WAL, synchronous=FULL, 1 txn each';
    for (const c of [1, 64]) {
      const engine: number[] = [];
      const raw: number[] = [];
      const api: number[] = [];
      const cpu: number[] = [];
      const floor: number[] = [];
      const apiNative: number[] = [];
      const floorNative: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const tag = `${RUN}-c${c}-${round}`;
        engine.push(await srv.ask<number>({ op: 'engine-creates', key: sampleKey, total: OPS, concurrency: c, round: tag }));
        raw.push(await srv.ask<number>({ op: 'raw-creates', key: sampleKey, total: OPS, concurrency: c, round: tag }));
        const cpu0 = await srv.ask<number>({ op: 'cpu' });
        api.push(await rate(OPS, c, (i) => must(call('POST', pods('bench'), pod(`c${c}-${round}-${i}`)), 201)));
        cpu.push(((await srv.ask<number>({ op: 'cpu' })) - cpu0) / OPS);
        floor.push(await rate(OPS, c, (i) => must(floorCall('POST', pods('bench'), pod(`f${c}-${round}-${i}`)), 201)));
        apiNative.push(await native(srv.port, c));
        floorNative.push(await native(srv.floorPort, c));
      }
      record(backend, `pod creates/s c=${c}, h2load, vs raw engine (${engineName}) [TARGET: ratio >= 0.5]`, median(apiNative), 'ops/s', median(engine));
      record(backend, `ceiling c=${c}, h2load: minimal Node HTTPS server + ketch Storage.create per request, vs raw engine`, median(floorNative), 'ops/s', median(engine));
      record(backend, `pod creates/s c=${c}, h2load, vs that ceiling`, median(apiNative), 'ops/s', median(floorNative));
      record(backend, `pod creates/s c=${c}, undici, vs raw engine`, median(api), 'ops/s', median(engine));
      record(backend, `pod creates/s c=${c}, undici, vs ketch Storage directly`, median(api), 'ops/s', median(raw));
      record(backend, `ceiling c=${c}, undici: minimal Node HTTPS server + ketch Storage.create per request, vs raw engine`, median(floor), 'ops/s', median(engine));
      record(backend, `API server CPU per create c=${c} (undici rounds)`, median(cpu), 'µs');
      verdicts.push(verdict(backend, c, median(apiNative) / median(engine), median(floorNative) / median(engine)));
    }
    for (const c of [1, 64]) {
      const raw = await srv.ask<number>({ op: 'raw-gets', prefix: `${PODS_PREFIX}bench/`, total: OPS, concurrency: c });
      const cpu0 = await srv.ask<number>({ op: 'cpu' });
      const api = await rate(OPS, c, (i) => must(call('GET', `${pods('bench')}/c64-0-${i % OPS}`), 200));
      const cpu = ((await srv.ask<number>({ op: 'cpu' })) - cpu0) / OPS;
      record(backend, `pod gets/s c=${c}`, api, 'ops/s', raw);
      record(backend, `API server CPU per get c=${c}`, cpu, 'µs');
    }

    // Listing 10,000 pods.
    await rate(LIST_N, 64, (i) => must(call('POST', pods('bench-list'), pod(`p${String(i).padStart(6, '0')}`)), 201));
    const lists: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await must(call('GET', pods('bench-list')), 200);
      lists.push(performance.now() - t0);
      bytes = r.body.length;
    }
    const rawList = await srv.ask<{ ms: number; items: number; bytes: number }>({ op: 'raw-list', prefix: `${PODS_PREFIX}bench-list/` });
    if (rawList.items !== LIST_N) throw new Error(`raw list has ${rawList.items} pods, not ${LIST_N}`);
    record(backend, `list ${LIST_N} pods (median of 5)`, median(lists), 'ms', rawList.ms);
    record(backend, `list ${LIST_N} pods, bytes`, bytes, 'B', rawList.bytes);

    await benchWatch(backend, srv, call, pods('bench-watch'));
    await benchExtensions({ backend, call: (m, p, b) => call(m, p, b), must, rate, median, record, ops: OPS, rounds: ROUNDS, run: RUN });
  } finally {
    await srv.ask({ op: 'stop' }).catch(() => srv.proc.kill());
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** 1,000 watchers of one namespace's pods; each of CHANGES changes is timed from its request to every watcher. */
async function benchWatch(backend: string, srv: Server, call: ReturnType<typeof client>, path: string): Promise<void> {
  await must(call('POST', path, pod('watched')), 201);
  const rv = (JSON.parse((await must(call('GET', path), 200)).body.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity, ...srv.tls });
  const lat: number[] = [];
  let marker = '';
  let sentAt = 0;
  let pending = 0;
  let allIn: (() => void) | undefined;
  const streams: { destroy(): void }[] = [];
  const open = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: srv.port, path: `${path}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`, agent }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`watch: HTTP ${res.statusCode}`));
        let seen = '';
        let tail = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          // The change is found by its marker (no JSON parsing here: the parent must not be the bottleneck).
          const text = tail + chunk;
          tail = chunk.slice(-64);
          if (!marker || seen === marker || !text.includes(marker)) return;
          seen = marker;
          lat.push(performance.now() - sentAt);
          if (--pending === 0) allIn?.();
        });
        resolve();
      });
      req.on('error', reject);
      req.end();
      streams.push(req);
    });
  try {
    for (let i = 0; i < WATCHERS; i += 50) await Promise.all(Array.from({ length: Math.min(50, WATCHERS - i) }, open));
    const watches = await srv.ask<{ pods: number; total: number; keys: string[] }>({ op: 'watches' });
    for (let i = 0; i < CHANGES; i++) {
      const seq = `${RUN}-${i}`;
      marker = `"seq":"${seq}"`;
      pending = WATCHERS;
      const done = new Promise<void>((r) => (allIn = r));
      sentAt = performance.now();
      await must(call('PATCH', `${path}/watched`, { metadata: { annotations: { seq } } }, 'application/merge-patch+json'), 200);
      await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${WATCHERS - pending} of ${WATCHERS} watchers got change ${i}`)), 30_000))]);
    }
    record(backend, `watch delivery to ${WATCHERS} watchers p50`, percentile(lat, 50), 'ms');
    record(backend, `watch delivery to ${WATCHERS} watchers p99`, percentile(lat, 99), 'ms');
    rows.push({ backend, metric: `storage watches open with ${WATCHERS} pod watchers`, api: `${watches.pods} on pods (${watches.total} in all)`, raw: '', ratio: '' });
    process.stderr.write(`  ${backend} storage watches open: ${watches.pods} on pods; all: ${watches.keys.join(' ')}\n`);
    if (watches.pods !== 1) throw new Error(`expected exactly one storage watch on pods, found ${watches.pods}`);
  } finally {
    for (const s of streams) s.destroy();
    agent.destroy();
  }
}

/**
 * What authorization costs a create by a user outside system:masters (whom the chain allows before any authorizer):
 * two API servers on the embedded store, one with --authorization-mode=Node,RBAC and 1,000 RoleBindings in place
 * (the user's own binding among them), one with AlwaysAllow and the same objects; h2load POSTs pods as that user
 * (a token-file user), rounds alternating between the two.
 */
async function benchAuthorization(): Promise<void> {
  const G = 'rbac.authorization.k8s.io';
  const USER_TOKEN = `bench-user-${RUN}`;
  const servers: { mode: string; dir: string; srv?: Server }[] = [{ mode: 'Node,RBAC', dir: '' }, { mode: 'AlwaysAllow', dir: '' }];
  try {
    for (const s of servers) {
      s.dir = mkdtempSync(join(tmpdir(), 'ketch-apiserver-bench-authz-'));
      writeFileSync(join(s.dir, 'token-file'), `admin-${RUN},admin,admin,"system:masters"\n${USER_TOKEN},bench-user,bench-user,"bench-users"\n`, { mode: 0o600 });
      s.srv = await startChild(s.dir, undefined, s.mode);
      const call = client(s.srv, 16);
      await must(call('POST', '/api/v1/namespaces', { metadata: { name: 'bench' } }), 201);
      const role = { apiVersion: `${G}/v1`, kind: 'Role', metadata: { name: 'pod-writer', namespace: 'bench' }, rules: [{ verbs: ['create', 'get', 'list'], apiGroups: [''], resources: ['pods'] }] };
      await must(call('POST', `/apis/${G}/v1/namespaces/bench/roles`, role), 201);
      // 999 bindings for other users and groups, then the user's own: a decision looks among what applies to the user.
      await rate(1000, 16, (i) => {
        const subject = i === 999 ? { kind: 'User', apiGroup: G, name: 'bench-user' } : { kind: i % 2 ? 'User' : 'Group', apiGroup: G, name: `other-${i}` };
        const rb = { apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { name: `rb-${i}`, namespace: 'bench' }, roleRef: { apiGroup: G, kind: 'Role', name: 'pod-writer' }, subjects: [subject] };
        return must(call('POST', `/apis/${G}/v1/namespaces/bench/rolebindings`, rb), 201);
      });
    }
    const bodyFile = join(servers[0]!.dir, 'h2load-pod.json');
    writeFileSync(bodyFile, JSON.stringify({ ...(pod('') as object), metadata: { generateName: 'authz-', labels: { app: 'bench' } } }));
    for (const c of [1, 64]) {
      const rates = new Map<string, number[]>(servers.map((s) => [s.mode, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of servers) rates.get(s.mode)!.push(await h2load(`https://127.0.0.1:${s.srv!.port}/api/v1/namespaces/bench/pods`, c, bodyFile, USER_TOKEN));
      }
      record('embedded', `pod creates/s c=${c}, h2load, non-admin user, Node,RBAC with 1,000 RoleBindings vs AlwaysAllow [TARGET: ratio >= 0.9]`, median(rates.get('Node,RBAC')!), 'ops/s', median(rates.get('AlwaysAllow')!));
    }
  } finally {
    for (const s of servers) {
      await s.srv?.ask({ op: 'stop' }).catch(() => s.srv?.proc.kill());
      if (s.dir) rmSync(s.dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const backends = (process.env.BENCH_BACKENDS ?? 'embedded,etcd').split(',');
  process.stderr.write(`API server benchmark: ${OPS} creates per round, ${LIST_N} pods listed, ${WATCHERS} watchers (BENCH_OPS, BENCH_LIST, BENCH_WATCHERS, BENCH_BACKENDS)\n`);
  process.stderr.write(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  if (backends.includes('embedded')) await benchBackend('embedded');
  if (process.env.BENCH_AUTHZ !== '0') await benchAuthorization();
  if (backends.includes('etcd')) {
    const etcd = await startEtcd();
    try {
      await benchBackend('etcd', etcd.endpoint);
    } finally {
      await etcd.stop();
    }
  }
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  console.log(line(['backend', 'measurement', 'API server (HTTPS)', 'baseline named in the measurement (same run)', 'ratio']));
  console.log(line(['---', '---', '---:', '---:', '---:']));
  for (const r of rows) console.log(line([r.backend, r.metric, r.api, r.raw, r.ratio]));
  console.log(`\ncreates/s target (API >= 0.5 x raw engine, h2load):`);
  for (const v of verdicts) console.log(`- ${v}`);
  console.log(`\nload average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

if (process.env.BENCH_CHILD === '1') await child();
else await main();
