// `npm run bench:density`: kube's ClusterLoader2 load test in small. A real `ketch server` (built, as users run it)
// on the embedded store or a real etcd, `ketch agent --hollow --count N` (a fake: nodes without a runtime that mark
// the pods bound to them Running) in a process of its own, then D Deployments of P/D replicas created at once. Prints
// the time from the creates until every pod is Running (pods/s end to end), the RSS of every control-plane process
// sampled each second (peak and at the end, and bytes per pod held), API latency percentiles during the run (the
// server's apiserver_request_duration_seconds, mutating and read, and a user's own requests measured from outside),
// and the CPU per pod of each component. The targets (issue 25) are checked for 1,000 nodes and 30,000 pods on the
// embedded store: all Running within 60 s of the creates (>= 500 pods/s), combined RSS <= 512 MB at the end, mutating
// p99 <= 1 s; other sizes print the same figures without a target.
//   BENCH_SCALES   sizes, NODESxPODS, comma-separated (default "1000x30000,5000x150000")
//   BENCH_STORES   "embedded", "etcd" or both (default "embedded,etcd")
//   BENCH_DEPLOYMENTS  Deployments per run (default 10)
//   BENCH_TIMEOUT  seconds to wait for every pod Running before printing how far it got (default: 300, or a second per
//                  150 pods when more: 1,000 s at 150,000, which the embedded store's 5,000-node run needs)
//   BENCH_SERVER_ARGS  extra `ketch server` flags, space-separated (e.g. "--single-process"); --cluster-cidr is
//                  10.128.0.0/9 unless given here (a /24 for each of up to 32,768 nodes)
//   BENCH_SERVER_NODE_ARGS  node flags for the server, space-separated (e.g. "--max-semi-space-size=4")
//   BENCH_SERVER_ENV  extra environment of the server, space-separated NAME=VALUE (e.g. "MALLOC_ARENA_MAX=2")
//   BENCH_PROFILE  a directory: CPU profiles of the server (node --cpu-prof)
//   BENCH_SERVER_STDOUT  a file the server's stdout is appended to (for V8's --trace-gc and similar node flags)
//   BENCH_HEAP_SNAPSHOTS  a directory: at the end of each run, a heap snapshot of every server thread (SIGUSR2) is
//                  moved there, with a summary by constructor (test/bench/heap-summary.ts)
//   BENCH_SETTLE   seconds of quiet after the run before the settled RSS and thread memory are read (default 15)
//   BENCH_BASELINE a built ketch checkout (e.g. main's): each size and store also runs with its `ketch server`
//                  first (same hollow agent, same load), and the ratio of the two pods/s is printed
//   BENCH_ROUNDS   with BENCH_BASELINE, rounds of the pair (default 1), alternating which goes first; prints each
//                  round's ratios (pods/s, RSS at the end, control-plane CPU per pod) and their medians: this machine's
//                  speed moves by up to 20% between runs minutes apart, so a single pair can mislead
// Before and after each run a speed probe (test/bench/speed-probe.ts: a fixed work on one core, timed) shows how fast
// the machine was at that moment, apart from the build; the rounds' ratios carry its ratio too.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Deployment, Node, Pod } from '../../api/index.js';
import { DEPLOYMENTS, loadClientConfig, NAMESPACES, NODES, PODS, refFor, RestClient, type ObjectLike } from '../../client/index.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';
import { freePort } from '../support/util.js';
import { summarizeHeapSnapshot } from './heap-summary.js';
import { commOf, componentsOf, cpuMs, processTree, rssBytes } from './proc.js';
import { speedProbeMs } from './speed-probe.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCALES = (process.env.BENCH_SCALES ?? '1000x30000,5000x150000').split(',').filter(Boolean).map((s) => {
  const [n, p] = s.split('x').map(Number);
  if (!n || !p) throw new Error(`BENCH_SCALES: "${s}" is not NODESxPODS`);
  return { nodes: n, pods: p };
});
const STORES = (process.env.BENCH_STORES ?? 'embedded,etcd').split(',').filter(Boolean) as Array<'embedded' | 'etcd'>;
const DEPLOYMENT_COUNT = Number(process.env.BENCH_DEPLOYMENTS ?? 10);
const TIMEOUT_S = process.env.BENCH_TIMEOUT ? Number(process.env.BENCH_TIMEOUT) : undefined;
/** How long a run waits for every pod Running (BENCH_TIMEOUT, else 300 s or a second per 150 pods). */
const timeoutS = (pods: number): number => TIMEOUT_S ?? Math.max(300, Math.ceil(pods / 150));
const SERVER_ARGS = (process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
const PROFILE = process.env.BENCH_PROFILE;
const SERVER_STDOUT = process.env.BENCH_SERVER_STDOUT;
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
const SERVER_ENV = Object.fromEntries((process.env.BENCH_SERVER_ENV ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const BASELINE = process.env.BENCH_BASELINE;
const HEAP_SNAPSHOTS = process.env.BENCH_HEAP_SNAPSHOTS;
const SETTLE_S = Number(process.env.BENCH_SETTLE ?? 15);
const ROUNDS = BASELINE ? Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1)) : 1;
const NS = 'density';
/** 32,768 node /24s (the default 10.42.0.0/16 has 256), apart from the default service range 10.96.0.0/16. */
const CLUSTER_CIDR = '10.128.0.0/9';
const CONFIGMAPS = refFor('v1', 'ConfigMap');
/** The targets, checked for this size on the embedded store. */
const TARGET = { nodes: 1000, pods: 30000, seconds: 60, rssMB: 512, mutatingP99s: 1 };

const say = (s: string): boolean => process.stderr.write(s + '\n');
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
const MB = 1e6;

// ---- the server's latency histograms ----

type Histo = Map<number, number>; // upper bound (s) -> cumulative count
interface Latency {
  mutating: Histo;
  read: Histo;
}
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY', 'DELETECOLLECTION']);
const READ = new Set(['GET', 'LIST']);

function parseLatency(text: string): Latency {
  const out: Latency = { mutating: new Map(), read: new Map() };
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_duration_seconds_bucket{')) continue;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    const le = /le="([^"]*)"/.exec(line)?.[1] ?? '';
    const h = MUTATING.has(verb) ? out.mutating : READ.has(verb) ? out.read : undefined;
    if (!h) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    h.set(bound, (h.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** The p-th percentile of the requests between two scrapes, as the upper bound of its bucket (Prometheus' histogram_quantile without interpolation). */
function histoPct(before: Histo, after: Histo, p: number): { le: number; n: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const b of bounds) if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= (p / 100) * total) return { le: b, n: total };
  return { le: NaN, n: total };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** Request counts by verb and (sub)resource from /metrics (the pipeline's progress: pods created, bound, Running). */
function counts(text: string): { created: number; bound: number; status: number } {
  let created = 0;
  let bound = 0;
  let status = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('resource="pods"') || !/code="20[01]"/.test(line)) continue;
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    const verb = /verb="([^"]*)"/.exec(line)?.[1];
    const sub = /subresource="([^"]*)"/.exec(line)?.[1];
    if (verb === 'POST' && sub === '') created += n;
    else if (verb === 'POST' && sub === 'binding') bound += n;
    else if ((verb === 'PUT' || verb === 'PATCH') && sub === 'status') status += n;
  }
  return { created, bound, status };
}

// ---- processes we start ----

interface Proc {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A `ketch` command from the build, resolving once a line of its stderr matches `ready`. */
function startKetch(args: string[], ready: RegExp, tag: string, nodeArgs: string[] = [], repo = REPO, env: Record<string, string> = {}, stdoutFile?: string): Promise<Proc> {
  const out = stdoutFile ? openSync(stdoutFile, 'a') : 'ignore';
  const child = spawn(process.execPath, [...nodeArgs, join(repo, 'bin/ketch.js'), ...args], {
    cwd: REPO,
    stdio: ['ignore', out, 'pipe'],
    env: { ...process.env, KETCH_LOG_LEVEL: process.env.KETCH_LOG_LEVEL ?? 'warn', ...env },
  });
  if (typeof out === 'number') closeSync(out);
  let stopping = false;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    stopping = true;
    if (child.exitCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${tag} exited with ${code}`));
    child.once('exit', onExit);
    let lines = 0;
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (ready.test(line)) {
        child.off('exit', onExit);
        resolve({ child, stop });
      } else if (!stopping && lines++ < 200 && !/^\s+(export|kubectl)/.test(line)) process.stderr.write(`  [${tag}] ${line.slice(0, 400)}\n`);
    });
  });
}

// ---- the run ----

const deployment = (name: string, replicas: number): Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: NS },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name, group: 'load' } },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '10m', memory: '10Mi' } } }] },
    },
  },
});

interface RunResult {
  /** 'this' build or 'baseline' (BENCH_BASELINE's server). */
  build: string;
  /** Which round of the pair (BENCH_ROUNDS), from 1. */
  round: number;
  store: string;
  nodes: number;
  pods: number;
  running: number;
  seconds: number;
  podsPerSec: number;
  complete: boolean;
  rssEndMB: number;
  /** SETTLE_S seconds later, the run over. */
  rssSettledMB: number;
  rssPeakMB: number;
  rssIdleMB: number;
  bytesPerPod: number;
  perComponent: Array<{ name: string; rssEndMB?: number; cpuMsPerPod: number }>;
  mutatingP99s: number;
  mutatingP50s: number;
  readP99s: number;
  requests: { mutating: number; read: number };
  userMutatingP99ms: number;
  userReadP99ms: number;
  etcdRssMB?: number;
  load: string;
  /** The speed probe (test/bench/speed-probe.ts) just before the run and just after it: ms of a fixed work, higher is slower. */
  probeMs: { before: number; after: number };
}

/** A user beside the load: one ConfigMap created, updated, read and deleted in turn, timed from outside. */
function startUser(rest: RestClient): { stop(): Promise<{ mutating: number[]; read: number[] }> } {
  const cms = rest.resource<ObjectLike & { data?: Record<string, string> }>(CONFIGMAPS);
  const lat = { mutating: [] as number[], read: [] as number[] };
  let stopped = false;
  const timed = async (bucket: number[], op: () => Promise<unknown>): Promise<void> => {
    const t = performance.now();
    await op();
    bucket.push(performance.now() - t);
  };
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const name = `user-${i}`;
      try {
        await timed(lat.mutating, () => cms.create(NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } }));
        await timed(lat.read, () => cms.get(NS, name));
        await timed(lat.mutating, () => cms.patch(NS, name, { data: { j: String(i) } }, 'merge'));
        await timed(lat.read, () => rest.resource(DEPLOYMENTS).list(NS));
        await timed(lat.mutating, () => cms.delete(NS, name));
      } catch (err) {
        say(`  user request failed: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return lat;
    },
  };
}

async function runOnce(store: 'embedded' | 'etcd', nodes: number, pods: number, build: 'this' | 'baseline'): Promise<Omit<RunResult, 'round' | 'probeMs'>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-density-'));
  let etcd: EtcdServer | undefined;
  let server: Proc | undefined;
  let agent: Proc | undefined;
  const samples: number[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    if (store === 'etcd') etcd = await startEtcd();
    const port = await freePort();
    // A cluster CIDR with a /24 for every node, as a cluster of this size is set up (the default /16 has 256: the other
    // nodes' CIDR allocation would fail and retry, with an event each time, all through the run).
    const cidr = SERVER_ARGS.includes('--cluster-cidr') ? [] : ['--cluster-cidr', CLUSTER_CIDR];
    const serverArgs = ['server', '--data-dir', dataDir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--snapshot-schedule', '0', ...cidr, ...(etcd ? ['--etcd-servers', etcd.endpoint] : []), ...SERVER_ARGS];
    const serverRepo = build === 'baseline' && BASELINE ? BASELINE : REPO;
    server = await startKetch(build === 'baseline' ? serverArgs.filter((a) => a !== '--single-process') : serverArgs, /ketch server is up/, 'server', [...SERVER_NODE_ARGS, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [])], serverRepo, SERVER_ENV, SERVER_STDOUT);
    const kubeconfig = join(dataDir, 'admin.kubeconfig');
    const rest = new RestClient(loadClientConfig({ kubeconfig }), 'density-bench');
    const serverPid = server.child.pid!;
    const tree = (): number[] => processTree(serverPid);
    const rssNow = (): number => tree().reduce((s, p) => s + rssBytes(p), 0);
    sampler = setInterval(() => samples.push(rssNow()), 1000);

    const t0 = performance.now();
    agent = await startKetch(['agent', '--hollow', '--count', String(nodes), '--kubeconfig', kubeconfig], /hollow nodes registered/, 'hollow');
    const ready = async (): Promise<number> => (await rest.resource<Node>(NODES).list(undefined, { resourceVersion: '0' })).items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    while ((await ready()) < nodes) await new Promise((r) => setTimeout(r, 500));
    say(`  ${nodes} hollow nodes Ready after ${((performance.now() - t0) / 1000).toFixed(1)} s (load ${load()})`);
    await rest.resource(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await new Promise((r) => setTimeout(r, 3000)); // a settled idle figure: leases renewed, caches filled
    const rssIdle = rssNow();

    // Pods Running, seen through a watch that only carries them (a field selector): the bench holds no pod cache.
    const running = new Set<string>();
    const watchAbort = new AbortController();
    let lastRunningAt = 0;
    const watching = (async () => {
      for (;;) {
        try {
          for await (const ev of rest.resource<Pod>(PODS).watch(NS, { fieldSelector: 'status.phase=Running', signal: watchAbort.signal })) {
            if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
              const name = ev.object.metadata?.name ?? '';
              if (!running.has(name)) {
                running.add(name);
                lastRunningAt = performance.now();
              }
            }
          }
        } catch (err) {
          if (watchAbort.signal.aborted) return;
          say(`  running watch failed, re-watching: ${String(err)}`);
        }
        if (watchAbort.signal.aborted) return;
      }
    })();

    const comps = componentsOf(dataDir, serverPid);
    const cpu0 = comps.map((c) => cpuMs(c.pid, c.tid));
    const serverCpu0 = tree().reduce((s, p) => s + cpuMs(p), 0);
    const agentCpu0 = cpuMs(agent.child.pid!);
    const metrics0 = await rest.request<string>('GET', '/metrics', { accept: 'text/plain' });
    const lat0 = parseLatency(metrics0);
    const user = startUser(rest);

    const size = Math.floor(pods / DEPLOYMENT_COUNT);
    const sizes = Array.from({ length: DEPLOYMENT_COUNT }, (_, i) => size + (i < pods - size * DEPLOYMENT_COUNT ? 1 : 0));
    say(`  creating ${DEPLOYMENT_COUNT} Deployments (${sizes[0]} replicas each) at once`);
    const start = performance.now();
    await Promise.all(sizes.map((n, i) => rest.resource<Deployment>(DEPLOYMENTS).create(NS, deployment(`load-${i}`, n))));
    const deadline = start + timeoutS(pods) * 1000;
    let lastPrint = start;
    let peak = 0;
    while (running.size < pods && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      if (performance.now() - lastPrint >= 5000) {
        lastPrint = performance.now();
        const c = counts(await rest.request<string>('GET', '/metrics', { accept: 'text/plain' }));
        const rss = samples.at(-1) ?? 0;
        peak = Math.max(peak, rss);
        say(`  ${((lastPrint - start) / 1000).toFixed(0).padStart(4)} s: created ${c.created}, bound ${c.bound}, status writes ${c.status}, Running ${running.size}; RSS ${(rss / MB).toFixed(0)} MB; load ${load()}`);
      }
    }
    const complete = running.size >= pods;
    const end = complete ? lastRunningAt : performance.now();
    const seconds = (end - start) / 1000;
    const userLat = await user.stop();
    const metrics1 = await rest.request<string>('GET', '/metrics', { accept: 'text/plain' });
    const lat1 = parseLatency(metrics1);
    const done = Math.max(1, running.size);
    const perComponent = comps.map((c, i) => ({
      name: c.name,
      ...(c.tid === undefined ? { rssEndMB: Math.round(rssBytes(c.pid) / MB) } : {}),
      cpuMsPerPod: +((cpuMs(c.pid, c.tid) - cpu0[i]!) / done).toFixed(2),
    }));
    if (comps.length > 1 || comps[0]!.tid !== undefined) {
      perComponent.push({ name: 'control plane (all)', cpuMsPerPod: +((tree().reduce((s, p) => s + cpuMs(p), 0) - serverCpu0) / done).toFixed(2) });
    }
    perComponent.push({ name: 'hollow agent (not control plane)', rssEndMB: Math.round(rssBytes(agent.child.pid!) / MB), cpuMsPerPod: +((cpuMs(agent.child.pid!) - agentCpu0) / done).toFixed(2) });
    await new Promise((r) => setTimeout(r, 1500)); // one more sample after the last pod
    const rssEnd = rssNow();
    peak = Math.max(peak, ...samples);
    watchAbort.abort();
    await watching;
    const mut99 = histoPct(lat0.mutating, lat1.mutating, 99);
    const mut50 = histoPct(lat0.mutating, lat1.mutating, 50);
    const read99 = histoPct(lat0.read, lat1.read, 99);
    for (const pid of tree()) say(`    process ${pid} (${commOf(pid)}): RSS ${(rssBytes(pid) / MB).toFixed(0)} MB`);
    const memory = threadMemoryOf(await rest.request<string>('GET', '/metrics', { accept: 'text/plain' }));
    for (const [thread, kinds] of memory) say(`    thread ${thread}: ${[...kinds].map(([k, v]) => `${k} ${(v / MB).toFixed(0)} MB`).join(', ')}`);
    // Settled: the same figures after SETTLE_S quiet seconds (what of the end's RSS was garbage not yet collected; V8's
    // memory reducer collects and releases a heap some seconds after its thread goes quiet).
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const rssSettled = rssNow();
    const settledMemory = threadMemoryOf(await rest.request<string>('GET', '/metrics', { accept: 'text/plain' }));
    say(`    after ${SETTLE_S} s quiet: RSS ${(rssSettled / MB).toFixed(0)} MB`);
    for (const [thread, kinds] of settledMemory) say(`    thread ${thread}: ${[...kinds].map(([k, v]) => `${k} ${(v / MB).toFixed(0)} MB`).join(', ')}`);
    if (HEAP_SNAPSHOTS) await heapSnapshots(serverPid, dataDir, memory.size, `${build}-${store}-${nodes}x${pods}`);
    return {
      rssSettledMB: Math.round(rssSettled / MB),
      build,
      store,
      nodes,
      pods,
      running: running.size,
      seconds: +seconds.toFixed(1),
      podsPerSec: Math.round(running.size / seconds),
      complete,
      rssEndMB: Math.round(rssEnd / MB),
      rssPeakMB: Math.round(peak / MB),
      rssIdleMB: Math.round(rssIdle / MB),
      bytesPerPod: Math.round((rssEnd - rssIdle) / done),
      perComponent,
      mutatingP99s: mut99.le,
      mutatingP50s: mut50.le,
      readP99s: read99.le,
      requests: { mutating: mut99.n, read: read99.n },
      userMutatingP99ms: Math.round(pct(userLat.mutating, 99)),
      userReadP99ms: Math.round(pct(userLat.read, 99)),
      ...(etcd ? { etcdRssMB: Math.round(etcdRss(etcd) / MB) } : {}),
      load: load(),
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await agent?.stop();
    await server?.stop();
    await etcd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** ketch_thread_memory_bytes by thread and kind, from /metrics. */
function threadMemoryOf(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const m of text.matchAll(/^ketch_thread_memory_bytes\{thread="([^"]+)",kind="([^"]+)"\} (\S+)$/gm)) {
    const kinds = out.get(m[1]!) ?? new Map<string, number>();
    kinds.set(m[2]!, Number(m[3]));
    out.set(m[1]!, kinds);
  }
  return out;
}

/** SIGUSR2 to the server, then its threads' heap snapshots moved to HEAP_SNAPSHOTS/<tag>-... and summarized. */
async function heapSnapshots(serverPid: number, dataDir: string, threads: number, tag: string): Promise<void> {
  process.kill(serverPid, 'SIGUSR2');
  const deadline = performance.now() + 300_000;
  const done = (): string[] => readdirSync(dataDir).filter((f) => f.endsWith('.heapsnapshot'));
  // A snapshot is complete once the next one starts (or, for the last, once its size stops changing).
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    const files = done();
    const size = files.reduce((s, f) => s + statSync(join(dataDir, f)).size, 0);
    if (files.length >= Math.max(1, threads) && size === last) break;
    last = size;
    if (performance.now() > deadline) throw new Error('heap snapshots not written within 300 s');
  }
  mkdirSync(HEAP_SNAPSHOTS!, { recursive: true });
  for (const f of done()) {
    const to = join(HEAP_SNAPSHOTS!, `${tag}-${f}`);
    renameSync(join(dataDir, f), to);
    say(`    ${to}:`);
    for (const line of summarizeHeapSnapshot(to, 12)) say(`      ${line}`);
  }
}

/** RSS of the etcd process listening on the endpoint's port (found by its command line). */
function etcdRss(etcd: EtcdServer): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(etcd.endpoint)) return rssBytes(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

function report(r: RunResult): void {
  const targeted = r.build === 'this' && r.store === 'embedded' && r.nodes === TARGET.nodes && r.pods === TARGET.pods;
  const mark = (ok: boolean): string => (targeted ? (ok ? '  [target met]' : '  [TARGET MISSED]') : '');
  say('');
  say(`  ${r.build === 'baseline' ? 'BASELINE: ' : ''}${r.nodes} hollow nodes, ${r.pods} pods, ${r.store} store (load average at the end: ${r.load})`);
  say(`    Running: ${r.running}/${r.pods} after ${r.seconds} s: ${r.podsPerSec} pods/s end to end${r.complete ? '' : ' (INCOMPLETE: timed out)'}${mark(r.complete && r.seconds <= TARGET.seconds)}`);
  say(`    control plane RSS: ${r.rssEndMB} MB at the end${mark(r.rssEndMB <= TARGET.rssMB)}, peak ${r.rssPeakMB} MB, ${r.rssIdleMB} MB with the nodes and no pods; ${r.bytesPerPod} bytes per pod held`);
  if (r.etcdRssMB !== undefined) say(`    etcd RSS (beside the control plane): ${r.etcdRssMB} MB`);
  say(`    API latency (server histogram, bucket bound): mutating p50 <= ${r.mutatingP50s} s, p99 <= ${r.mutatingP99s} s${mark(r.mutatingP99s <= TARGET.mutatingP99s)} (${r.requests.mutating} requests); read p99 <= ${r.readP99s} s (${r.requests.read})`);
  say(`    a user's own requests meanwhile: mutating p99 ${r.userMutatingP99ms} ms, read p99 ${r.userReadP99ms} ms`);
  say(`    this machine's speed probe (a fixed work on one core, ms; higher is slower): ${r.probeMs.before} before the run, ${r.probeMs.after} after`);
  for (const c of r.perComponent) say(`    ${c.name.padEnd(34)} CPU ${String(c.cpuMsPerPod).padStart(6)} ms/pod${c.rssEndMB !== undefined ? `, RSS ${c.rssEndMB} MB` : ''}`);
}

async function main(): Promise<void> {
  say(`density benchmark: ${SCALES.map((s) => `${s.nodes} nodes/${s.pods} pods`).join(', ')}; stores ${STORES.join(', ')}; ${DEPLOYMENT_COUNT} Deployments; load ${load()}`);
  const results: RunResult[] = [];
  for (const scale of SCALES) {
    for (const store of STORES) {
      for (let round = 1; round <= ROUNDS; round++) {
        // Alternating which goes first, so that a machine slowing down or warming up does not favour one side.
        const builds = BASELINE ? (round % 2 === 1 ? (['baseline', 'this'] as const) : (['this', 'baseline'] as const)) : (['this'] as const);
        for (const build of builds) {
          say(`run: ${ROUNDS > 1 ? `round ${round}, ` : ''}${build === 'baseline' ? `baseline (${BASELINE}) ` : ''}${scale.nodes} nodes, ${scale.pods} pods, ${store} (load ${load()})`);
          try {
            const before = speedProbeMs();
            const run = await runOnce(store, scale.nodes, scale.pods, build);
            const r = { ...run, round, probeMs: { before, after: speedProbeMs() } };
            results.push(r);
            report(r);
          } catch (err) {
            say(`  run failed: ${String(err instanceof Error ? err.stack : err)}`);
          }
        }
      }
    }
  }
  say('');
  say('| build | nodes | pods | store | Running | s | pods/s | x baseline | RSS end MB | RSS settled MB | RSS peak MB | bytes/pod | mutating p99 s | read p99 s | user mutating p99 ms | load |');
  say('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const base = results.find((b) => b.build === 'baseline' && b.nodes === r.nodes && b.store === r.store && b.round === r.round);
    const ratio = r.build === 'this' && base ? (r.podsPerSec / Math.max(1, base.podsPerSec)).toFixed(1) : '';
    say(`| ${r.build} | ${r.nodes} | ${r.pods} | ${r.store} | ${r.running} | ${r.seconds} | ${r.podsPerSec} | ${ratio} | ${r.rssEndMB} | ${r.rssSettledMB} | ${r.rssPeakMB} | ${r.bytesPerPod} | ${r.mutatingP99s} | ${r.readP99s} | ${r.userMutatingP99ms} | ${r.load} |`);
  }
  if (ROUNDS > 1) roundRatios(results);
  for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
}

/** Each round's ratios of this build to the baseline, and their medians, per size and store. */
function roundRatios(results: readonly RunResult[]): void {
  const cpu = (r: RunResult): number => r.perComponent.find((c) => c.name === 'control plane (all)')?.cpuMsPerPod ?? NaN;
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  for (const r0 of results.filter((r) => r.build === 'this' && r.round === 1)) {
    const pairs = results
      .filter((t) => t.build === 'this' && t.nodes === r0.nodes && t.store === r0.store)
      .flatMap((t) => results.filter((b) => b.build === 'baseline' && b.nodes === t.nodes && b.store === t.store && b.round === t.round).map((b) => ({ t, b })));
    const probe = (r: RunResult): number => (r.probeMs.before + r.probeMs.after) / 2;
    const rows = pairs.map(({ t, b }) => ({ round: t.round, speed: t.podsPerSec / b.podsPerSec, rss: t.rssEndMB / b.rssEndMB, cpu: cpu(t) / cpu(b), machine: probe(t) / probe(b) }));
    say('');
    say(`  ${r0.nodes} x ${r0.pods}, ${r0.store}: this build / baseline, by round (pods/s, RSS at the end, control-plane CPU per pod; the machine's speed probe, over 1 when this build's runs met a slower machine)`);
    for (const x of rows) say(`    round ${x.round}: ${x.speed.toFixed(2)}, ${x.rss.toFixed(2)}, ${x.cpu.toFixed(2)}; probe ${x.machine.toFixed(2)}`);
    say(`    median of ${rows.length}: ${median(rows.map((x) => x.speed)).toFixed(2)}, ${median(rows.map((x) => x.rss)).toFixed(2)}, ${median(rows.map((x) => x.cpu)).toFixed(2)}; probe ${median(rows.map((x) => x.machine)).toFixed(2)}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${String(err instanceof Error ? err.stack : err)}\n`);
  process.exit(1);
});
