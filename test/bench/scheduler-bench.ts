// `npm run bench:scheduler` (issue 5): a real `ketch server` process on the embedded store (its own controller manager
// and scheduler disabled), 5,000 simulated Node objects (capacity and Ready status, no agent), then 10,000 pods created
// by a load generator in a process of its own (as other clients create pods in a cluster) while the scheduler, with its
// default configuration, runs in this process. Prints pods/s from the first create until every pod is bound (the binding
// written to the store), creation->bound p50/p99 (from sending the create to the binding's answer), the scheduler's
// peak memory (RSS of this process, sampled), and, measured in the same run against the same server at the same
// concurrency, the raw API rates: POST pods, and raw pods/binding writes with no scheduling decisions (each pod the
// scheduler places costs one create and one binding write). The raw runs are split half before and half after the
// scheduler run, so that a drift in machine load affects both sides alike.
//   BENCH_NODES (5000), BENCH_PODS (10000), BENCH_CONCURRENCY (32 writers: creates and raw runs),
//   BENCH_BIND_CONCURRENCY (the scheduler's binding writers; its default, 32),
//   BENCH_RAW_PODS (BENCH_PODS / 2: pods for each raw run),
//   BENCH_CPU_PROF (a file: a V8 CPU profile of this process, the scheduler, while the pods are scheduled).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Node, Pod } from '../../api/index.js';
import { InformerFactory, RestClient, loadClientConfig, type ResourceClient } from '../../client/index.js';
import { startScheduler, type ScheduledInfo } from '../../scheduler/index.js';
import { NODES, PODS } from '../../client/resources.js';

const NODE_COUNT = Number(process.env.BENCH_NODES ?? 5000);
const POD_COUNT = Number(process.env.BENCH_PODS ?? 10000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
/** The scheduler's binding writers; its default (32) unless set. */
const BIND_CONCURRENCY = process.env.BENCH_BIND_CONCURRENCY ? Number(process.env.BENCH_BIND_CONCURRENCY) : undefined;
const RAW_PODS = Number(process.env.BENCH_RAW_PODS ?? Math.max(2, Math.floor(POD_COUNT / 2)));
const CPU_PROF = process.env.BENCH_CPU_PROF;
const NS = 'default';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Set in the forked load generator. */
const CREATOR_ROLE = 'creator';

// ---- the server ----

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function startServer(dataDir: string): Promise<ChildProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'cli/entry.ts'), 'server', '--data-dir', dataDir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--disable-controller-manager', '--disable-scheduler'],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const onExit = (code: number | null): void => reject(new Error(`ketch server exited with ${code}: ${out}`));
    child.once('exit', onExit);
    child.stderr!.on('data', (d: Buffer) => {
      if (out.includes('ketch server is up')) {
        process.stderr.write(d); // warnings after start-up
        return;
      }
      out += d.toString();
      if (out.includes('ketch server is up')) {
        child.off('exit', onExit);
        resolve(child);
      }
    });
  });
}

// ---- helpers ----

async function pool(total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) await op(next++);
    }),
  );
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** CPU time (user+system, ms) the process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return NaN;
  }
}
const ownCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const fmt = (ms: number): string => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const say = (s: string): boolean => process.stderr.write(s + '\n');

const hollowNode = (i: number): Node => {
  const name = `hollow-node-${String(i).padStart(5, '0')}`;
  const allocatable = { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': `hollow-zone-${i % 10}`, 'ketch.io/hollow': 'true' } },
    status: { capacity: allocatable, allocatable, conditions: [{ type: 'Ready', status: 'True' }] },
  };
};

const benchPod = (name: string, schedulerName: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, labels: { app: 'bench' } },
  spec: { schedulerName, containers: [{ name: 'c', image: 'busybox:1.36', resources: { requests: { cpu: '100m', memory: '128Mi' } } }] },
});

// ---- the load generator (a process of its own) ----

/** Parent -> creator: create these pods; creator -> parent: when each create was sent (ms since the epoch, µs precision). */
interface CreateOrder {
  kubeconfig: string;
  count: number;
  concurrency: number;
}
interface CreateReport {
  sentAt: number[];
  doneAt: number;
  cpuMs: number;
}

const epochMs = (): number => performance.timeOrigin + performance.now();

function runCreator(): void {
  process.once('message', (msg: CreateOrder) => {
    void (async () => {
      const pods = new RestClient(loadClientConfig({ kubeconfig: msg.kubeconfig }), 'ketch-bench-creator/0.1').resource<Pod>(PODS);
      const cpu0 = ownCpuMs();
      const sentAt: number[] = new Array<number>(msg.count);
      await pool(msg.count, msg.concurrency, async (i) => {
        sentAt[i] = epochMs();
        await pods.create(NS, benchPod(`sched-${i}`, 'default-scheduler'));
      });
      const report: CreateReport = { sentAt, doneAt: epochMs(), cpuMs: ownCpuMs() - cpu0 };
      process.send!(report, () => process.disconnect());
    })().catch((err: unknown) => {
      process.stderr.write(`load generator failed: ${String(err instanceof Error ? err.stack : err)}\n`);
      process.exit(1);
    });
  });
  process.send!('ready');
}

/** Forks the load generator and resolves once it is loaded and waits for its order. */
function startCreator(): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), [], { cwd: REPO, execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_ROLE: CREATOR_ROLE }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    child.once('message', () => resolve(child));
  });
}

// ---- main ----

async function main(): Promise<void> {
  say(`scheduler benchmark: ketch server (embedded store), ${NODE_COUNT} hollow nodes, ${POD_COUNT} pods, ${CONCURRENCY} writers, ${BIND_CONCURRENCY ?? 'default'} binding writers`);
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-sched-bench-'));
  const child = await startServer(dataDir);
  const rest = new RestClient(loadClientConfig({ kubeconfig: join(dataDir, 'admin.kubeconfig') }));
  const nodes: ResourceClient<Node> = rest.resource<Node>(NODES);
  const pods: ResourceClient<Pod> = rest.resource<Pod>(PODS);
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  let ticks = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss()); // cheap; the full memoryUsage() walks the heap spaces
    if (++ticks % 5 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 50);
  try {
    let t = performance.now();
    await pool(NODE_COUNT, CONCURRENCY, (i) => nodes.create(undefined, hollowNode(i)));
    say(`  created ${NODE_COUNT} hollow nodes in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // Raw API rates, with watches on pods and nodes open as the scheduler's are: POST pods (a scheduler name nobody
    // serves), then a pods/binding write for each of them. Half before the scheduler run, half after.
    const raw = { createSecs: 0, bindSecs: 0, createLat: [] as number[], bindLat: [] as number[], n: 0, serverCpuMs: 0 };
    const serverCpu = (): number => cpuMs(child.pid!);
    const rawRun = async (tag: string, n: number): Promise<void> => {
      const watching = new InformerFactory(rest);
      watching.for(PODS);
      watching.for(NODES);
      watching.start();
      await watching.waitForSync();
      let t0 = performance.now();
      const c0 = serverCpu();
      await pool(n, CONCURRENCY, async (i) => {
        const w0 = performance.now();
        await pods.create(NS, benchPod(`raw-${tag}-${i}`, 'none'));
        raw.createLat.push(performance.now() - w0);
      });
      raw.createSecs += (performance.now() - t0) / 1000;
      t0 = performance.now();
      await pool(n, CONCURRENCY, async (i) => {
        const w0 = performance.now();
        await rest.request('POST', pods.path(NS, `raw-${tag}-${i}`, 'binding'), {
          body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: `raw-${tag}-${i}` }, target: { kind: 'Node', name: hollowNode(i % NODE_COUNT).metadata!.name } },
        });
        raw.bindLat.push(performance.now() - w0);
      });
      raw.bindSecs += (performance.now() - t0) / 1000;
      raw.serverCpuMs += serverCpu() - c0;
      raw.n += n;
      await watching.stop();
    };
    await rawRun('a', Math.floor(RAW_PODS / 2));

    // The scheduler, started and synced on the nodes; then the pods, created at the same concurrency.
    const rssBefore = process.memoryUsage().rss;
    peakRss = rssBefore;
    peakHeap = process.memoryUsage().heapUsed;
    const boundAt = new Map<string, number>();
    const decisions: number[] = [];
    const binds: number[] = [];
    let lastBound = 0;
    let onAll: () => void = () => undefined;
    const allBound = new Promise<void>((r) => (onAll = r));
    const onScheduled = (info: ScheduledInfo): void => {
      const name = info.pod.metadata?.name ?? '';
      if (!name.startsWith('sched-')) return;
      const now = epochMs();
      boundAt.set(name, now);
      decisions.push(info.decisionMs);
      binds.push(info.bindMs);
      lastBound = now;
      if (boundAt.size === POD_COUNT) onAll();
    };
    const creator = await startCreator();
    const report = new Promise<CreateReport>((resolve, reject) => {
      creator.once('message', (m: CreateReport) => resolve(m));
      creator.once('exit', (code) => reject(new Error(`load generator exited with ${code} before reporting`)));
    });
    t = performance.now();
    // Its own client (its own sockets), as in a process of its own; the default configuration.
    const schedRest = new RestClient(loadClientConfig({ kubeconfig: join(dataDir, 'admin.kubeconfig') }), 'ketch-scheduler/0.1');
    const sched = await startScheduler({ rest: schedRest, ...(BIND_CONCURRENCY ? { bindConcurrency: BIND_CONCURRENCY } : {}), onScheduled });
    await sched.scheduler.waitForSync();
    say(`  scheduler started and synced in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    let profiler: Session | undefined;
    if (CPU_PROF) {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const cpu0 = { server: serverCpu(), own: ownCpuMs() };
    creator.send({ kubeconfig: join(dataDir, 'admin.kubeconfig'), count: POD_COUNT, concurrency: CONCURRENCY } satisfies CreateOrder);
    const created = await report;
    const start = created.sentAt[0]!;
    const createdAll = created.doneAt;
    await allBound;
    const schedCpu = {
      server: (serverCpu() - cpu0.server) / POD_COUNT,
      own: (ownCpuMs() - cpu0.own) / POD_COUNT,
      creator: created.cpuMs / POD_COUNT, // from its order to its last create's answer
    };
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(CPU_PROF!, JSON.stringify(profile));
      profiler.disconnect();
    }
    const e2e = created.sentAt.map((s, i) => boundAt.get(`sched-${i}`)! - s);
    const schedSecs = (lastBound - start) / 1000;
    const schedRate = POD_COUNT / schedSecs;
    const schedPeakRss = peakRss;
    const schedPeakHeap = peakHeap;
    await sched.stop();

    await rawRun('b', RAW_PODS - Math.floor(RAW_PODS / 2));
    const createRate = raw.n / raw.createSecs;
    const bindRate = raw.n / raw.bindSecs;

    const row = (k: string, v: string): boolean => say(`  ${k.padEnd(44)} ${v}`);
    say('');
    row('scheduler: pods/s, first create -> all bound', `${schedRate.toFixed(0)} pods/s (${POD_COUNT} pods in ${schedSecs.toFixed(1)} s; creates done at ${((createdAll - start) / 1000).toFixed(1)} s)`);
    row('creation -> bound p50 / p99', `${fmt(pct(e2e, 50))} / ${fmt(pct(e2e, 99))}`);
    row('decision p50 / p99', `${fmt(pct(decisions, 50))} / ${fmt(pct(decisions, 99))}`);
    row('binding write p50 / p99', `${fmt(pct(binds, 50))} / ${fmt(pct(binds, 99))}`);
    row('CPU per pod: API server / scheduler / creator', `${schedCpu.server.toFixed(2)} ms / ${schedCpu.own.toFixed(2)} ms / ${schedCpu.creator.toFixed(2)} ms`);
    row('peak scheduler memory (RSS; heap used)', `${mib(schedPeakRss)} (${mib(rssBefore)} before it started); heap ${mib(schedPeakHeap)}`);
    row(`raw API: POST pods (${raw.n} pods)`, `${createRate.toFixed(0)} pods/s, p50 ${fmt(pct(raw.createLat, 50))} p99 ${fmt(pct(raw.createLat, 99))}`);
    row(`raw API: pods/binding (${raw.n} pods)`, `${bindRate.toFixed(0)} writes/s, p50 ${fmt(pct(raw.bindLat, 50))} p99 ${fmt(pct(raw.bindLat, 99))}`);
    const rawPair = 1 / (1 / createRate + 1 / bindRate);
    row('raw create+bind, one after the other', `${rawPair.toFixed(0)} pods/s; API server CPU ${(raw.serverCpuMs / raw.n).toFixed(2)} ms per pod`);
    row('ratio scheduler / raw create', (schedRate / createRate).toFixed(2));
    row('ratio scheduler / raw create+bind', (schedRate / rawPair).toFixed(2));
    process.stdout.write(
      JSON.stringify({
        nodes: NODE_COUNT,
        pods: POD_COUNT,
        concurrency: CONCURRENCY,
        bindConcurrency: BIND_CONCURRENCY ?? 'default',
        schedulerPodsPerSec: Math.round(schedRate),
        e2eP50Ms: +pct(e2e, 50).toFixed(2),
        e2eP99Ms: +pct(e2e, 99).toFixed(2),
        decisionP50Ms: +pct(decisions, 50).toFixed(3),
        decisionP99Ms: +pct(decisions, 99).toFixed(3),
        bindP50Ms: +pct(binds, 50).toFixed(2),
        bindP99Ms: +pct(binds, 99).toFixed(2),
        serverCpuMsPerPod: +schedCpu.server.toFixed(2),
        schedulerCpuMsPerPod: +schedCpu.own.toFixed(2),
        creatorCpuMsPerPod: +schedCpu.creator.toFixed(2),
        rawServerCpuMsPerPod: +(raw.serverCpuMs / raw.n).toFixed(2),
        peakRssMiB: Math.round(schedPeakRss / 2 ** 20),
        peakHeapMiB: Math.round(schedPeakHeap / 2 ** 20),
        rawCreatePerSec: Math.round(createRate),
        rawBindPerSec: Math.round(bindRate),
        rawCreateBindPerSec: Math.round(rawPair),
        ratioToCreate: +(schedRate / createRate).toFixed(2),
        ratioToCreateBind: +(schedRate / rawPair).toFixed(2),
      }) + '\n',
    );
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_ROLE === CREATOR_ROLE) runCreator();
else
  main().catch((err: unknown) => {
    process.stderr.write(`benchmark failed: ${String(err instanceof Error ? err.stack : err)}\n`);
    process.exit(1);
  });
