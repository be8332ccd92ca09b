// `npx tsx test/bench/dns-bench.ts`: cluster DNS queries/s and p99 beside a minimal dns-packet responder, in one run.
//
// Each server runs alone in a child process (its own event loop, as in the agent), on a UDP socket made the same way
// (udp4, 4 MiB kernel buffers). The load comes from dnsperf (DNS-OARC's load generator, in C; Debian's dnsperf) in
// another process, DNS_BENCH_INFLIGHT queries in flight for DNS_BENCH_SECONDS, with -v so that every query's latency is
// printed and the p99 computed here. Two query sets, both what pods send most:
//   - service: A for svc-N.bench.svc.cluster.local over DNS_BENCH_SERVICES services (each with 3 endpoints);
//   - search miss: A for a name outside the cluster tried under the pod's first search domain (ndots:5), NXDOMAIN.
// The baseline answers the same questions with the same records (one A, or NXDOMAIN with the SOA) after decoding with
// dns-packet, and nothing else. The target is cluster / baseline >= 0.8 in queries/s; rounds alternate which server
// goes first and the median round is printed. The cluster DNS runs as configured (its answer cache on: pods repeat
// the same questions) and with the cache off, which shows the cost of decoding and answering each query. Server CPU
// per query is printed too: on a busy machine queries/s swing with what else runs, CPU per query much less.
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { ClusterDnsServer } from '../../agent/dns/server.js';
import { StaticSource } from '../../agent/dns/testing/static-source.js';
import { namespace, service, slice } from '../../agent/dns/testing/fixtures.js';

const SECONDS = Number(process.env.DNS_BENCH_SECONDS ?? 5);
const SERVICES = Number(process.env.DNS_BENCH_SERVICES ?? 1000);
const INFLIGHT = Number(process.env.DNS_BENCH_INFLIGHT ?? 64);
const ROUNDS = Number(process.env.DNS_BENCH_ROUNDS ?? 3);
const BUFFER = 4 << 20;
const TARGET = 0.8;

type Kind = 'cluster' | 'uncached' | 'baseline';
const ipOf = (i: number): string => `10.96.${(i >> 8) & 255}.${i & 255}`;

/** The cluster DNS over SERVICES services of namespace bench, each with three ready endpoints. */
async function serveCluster(answerCacheSize?: number): Promise<number> {
  const services = new StaticSource(Array.from({ length: SERVICES }, (_, i) => service('bench', `svc-${i}`, { clusterIP: ipOf(i), clusterIPs: [ipOf(i)], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] })));
  const slices = new StaticSource(Array.from({ length: SERVICES }, (_, i) => slice('bench', `svc-${i}`, `svc-${i}-x`, [0, 1, 2].map((j) => ({ ip: `10.42.${j}.${i & 255}` })), [{ name: 'http', port: 8080 }])));
  const server = new ClusterDnsServer({ sources: { services, endpointSlices: slices, namespaces: new StaticSource([namespace('bench')]) }, address: '127.0.0.1', port: 0, upstreams: [], udpBufferBytes: BUFFER, answerCacheSize });
  return (await server.start()).port;
}

/** The baseline: decode, answer the same records, encode; on the same kind of socket. */
async function serveBaseline(): Promise<number> {
  const sock = createSocket({ type: 'udp4', recvBufferSize: BUFFER, sendBufferSize: BUFFER });
  const soa: Answer = { name: 'cluster.local', type: 'SOA', ttl: 5, class: 'IN', data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 } };
  sock.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? '';
    const hit = name.startsWith('svc-');
    const i = hit ? Number(name.slice(4, name.indexOf('.'))) : 0;
    const p: Packet = {
      type: 'response',
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (q.flags ?? 0 & dnsPacket.RECURSION_DESIRED) | (hit ? 0 : 3),
      questions: q.questions,
      answers: hit ? [{ name, type: 'A', ttl: 5, class: 'IN', data: ipOf(i) }] : [],
      authorities: hit ? [] : [soa],
    };
    sock.send(dnsPacket.encode(p), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return sock.address().port;
}

async function child(kind: Kind): Promise<void> {
  const port = kind === 'baseline' ? await serveBaseline() : await serveCluster(kind === 'uncached' ? 0 : undefined);
  // The parent asks for the CPU time used so far around each run: CPU per query does not depend on what else runs.
  process.on('message', () => {
    const u = process.cpuUsage();
    process.send!({ cpuUs: u.user + u.system });
  });
  process.send!({ port });
}

function cpuOf(proc: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    proc.once('message', (m: { cpuUs: number }) => resolve(m.cpuUs));
    proc.send('cpu');
  });
}

function startChild(kind: Kind): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, DNS_BENCH_CHILD: kind, KETCH_LOG_LEVEL: 'warn' } });
  return new Promise((resolve, reject) => {
    proc.once('message', (m: { port: number }) => resolve({ proc, port: m.port }));
    proc.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
}

interface Result {
  qps: number;
  /** Server CPU time per answered query (user + system), microseconds. */
  cpuUs: number;
  p99ms: number;
  lost: number;
  rcodes: string;
}

/** dnsperf against a port; p99 from the per-query latencies of -v. */
async function dnsperf(port: number, file: string): Promise<Result> {
  const { stdout } = await promisify(execFile)('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(SECONDS), '-q', String(INFLIGHT), '-v'], { maxBuffer: 1 << 30 });
  const lat: number[] = [];
  const codes = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const f = line.split(' ');
    lat.push(Number(f[f.length - 1]));
    codes.set(f[1]!, (codes.get(f[1]!) ?? 0) + 1);
  }
  lat.sort((a, b) => a - b);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { qps, cpuUs: 0, p99ms: (lat[Math.floor(lat.length * 0.99)] ?? 0) * 1000, lost, rcodes: [...codes].map(([c, n]) => `${c} ${n}`).join(', ') };
}

async function measure(kind: Kind, file: string): Promise<Result> {
  const { proc, port } = await startChild(kind);
  try {
    await dnsperf(port, file); // warm-up: JIT, socket buffers
    const before = await cpuOf(proc);
    const r = await dnsperf(port, file);
    const answered = r.qps * SECONDS;
    return { ...r, cpuUs: ((await cpuOf(proc)) - before) / Math.max(1, answered) };
  } finally {
    proc.removeAllListeners('exit');
    proc.kill();
  }
}

const median = (rs: Result[]): Result => rs.slice().sort((a, b) => a.qps - b.qps)[Math.floor(rs.length / 2)]!;
const fmt = (r: Result): string => `${Math.round(r.qps).toLocaleString('en-US').padStart(8)} q/s  ${r.cpuUs.toFixed(1).padStart(5)} us CPU/q  p99 ${r.p99ms.toFixed(2).padStart(6)} ms  lost ${r.lost}  (${r.rcodes})`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ketch-dns-bench-'));
  try {
    const sets = {
      service: join(dir, 'service.txt'),
      'search miss': join(dir, 'miss.txt'),
    };
    writeFileSync(sets.service, Array.from({ length: SERVICES }, (_, i) => `svc-${(i * 7919) % SERVICES}.bench.svc.cluster.local A`).join('\n') + '\n');
    writeFileSync(sets['search miss'], Array.from({ length: 1000 }, (_, i) => `host${i}.example.com.bench.svc.cluster.local A`).join('\n') + '\n');
    console.log(`cluster DNS vs a minimal dns-packet responder: dnsperf, ${INFLIGHT} in flight, ${SECONDS} s per run, ${ROUNDS} rounds, ${SERVICES} services`);
    for (const [name, file] of Object.entries(sets)) {
      const runs: Record<Kind, Result[]> = { cluster: [], uncached: [], baseline: [] };
      for (let r = 0; r < ROUNDS; r++) {
        const order: Kind[] = r % 2 ? ['baseline', 'uncached', 'cluster'] : ['cluster', 'uncached', 'baseline'];
        for (const k of order) runs[k].push(await measure(k, file));
      }
      const c = median(runs.cluster);
      const u = median(runs.uncached);
      const b = median(runs.baseline);
      const ratio = c.qps / b.qps;
      console.log(`\n${name}:`);
      console.log(`  cluster DNS             ${fmt(c)}`);
      console.log(`  cluster DNS, no cache   ${fmt(u)}`);
      console.log(`  baseline                ${fmt(b)}`);
      console.log(`  ratio ${ratio.toFixed(2)} (target >= ${TARGET}): ${ratio >= TARGET ? 'met' : 'MISSED'}; without the answer cache ${(u.qps / b.qps).toFixed(2)}; CPU per query baseline/cluster ${(b.cpuUs / c.cpuUs).toFixed(2)}, uncached ${(b.cpuUs / u.cpuUs).toFixed(2)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.DNS_BENCH_CHILD) await child(process.env.DNS_BENCH_CHILD as Kind);
else await main();
