// `npm run bench:scheduler`: the scheduler placing pods onto 5,000 hollow nodes (Node objects that exist only in the
// API: no agent runs them), beside a baseline measured in the same run against the same API server: raw pods/binding
// writes with no scheduling decisions, at the same write concurrency, while an informer watches pods and nodes as the
// scheduler's do. The API server runs in a child process so that it does not share a core with the scheduler.
// Beside each binding the scheduler also writes a Scheduled event, which the baseline does not.
//   BENCH_NODES (5000), BENCH_PODS (5000), BENCH_CONCURRENCY (32 binding writers, for both),
//   BENCH_STREAM_RATE (50 pods/s) and BENCH_STREAM_PODS (500) for the latency run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Node, Pod } from '../../api/index.js';
import { InformerFactory, RestClient, loadClientConfig, type ResourceClient } from '../../client/index.js';
import { startScheduler, type ScheduledInfo } from '../../scheduler/index.js';
import { NODES, PODS } from '../../scheduler/scheduler.js';

const NODE_COUNT = Number(process.env.BENCH_NODES ?? 5000);
const POD_COUNT = Number(process.env.BENCH_PODS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const STREAM_RATE = Number(process.env.BENCH_STREAM_RATE ?? 50);
const STREAM_PODS = Number(process.env.BENCH_STREAM_PODS ?? 500);
const NS = 'default';

// ---- child: the API server ----

async function serveApi(): Promise<void> {
  const { startApiServer } = await import('../../apiserver/index.js');
  const { EmbeddedStorage } = await import('../../apiserver/storage/index.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-sched-bench-'));
  const api = await startApiServer({ dataDir, securePort: 0, bindAddress: '127.0.0.1', storage: new EmbeddedStorage({ path: ':memory:' }), maxWatches: 1000 });
  process.stdout.write(JSON.stringify({ kubeconfig: api.adminKubeconfigPath }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    void api.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}

function startChild(): Promise<{ child: ChildProcess; kubeconfig: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--api-server'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, KETCH_LOG_LEVEL: 'warn' },
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`api server exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, kubeconfig: (JSON.parse(line) as { kubeconfig: string }).kubeconfig }));
  });
}

// ---- helpers ----

async function pool(total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await op(next++);
    }),
  );
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const fmt = (ms: number): string => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
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

// ---- main ----

async function main(): Promise<void> {
  say(`scheduler benchmark: ${NODE_COUNT} hollow nodes, ${POD_COUNT} pods, ${CONCURRENCY} binding writers`);
  const { child, kubeconfig } = await startChild();
  const rest = new RestClient(loadClientConfig({ kubeconfig }));
  const nodes: ResourceClient<Node> = rest.resource<Node>(NODES);
  const pods: ResourceClient<Pod> = rest.resource<Pod>(PODS);
  try {
    let t = performance.now();
    await pool(NODE_COUNT, CONCURRENCY, (i) => nodes.create(undefined, hollowNode(i)));
    say(`  created ${NODE_COUNT} hollow nodes in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // Baseline: the same number of pods bound by raw pods/binding writes, no decisions, with watches open.
    const watching = new InformerFactory(rest);
    watching.for(PODS);
    watching.for(NODES);
    watching.start();
    await watching.waitForSync();
    await pool(POD_COUNT, CONCURRENCY, (i) => pods.create(NS, benchPod(`baseline-${i}`, 'none')));
    const baseLat: number[] = [];
    let baseSecs = 0;
    // Half before the scheduler runs and half after, so that a drift in machine load affects both sides alike.
    const baseline = async (from: number, to: number): Promise<void> => {
      const t0 = performance.now();
      await pool(to - from, CONCURRENCY, async (j) => {
        const i = from + j;
        const w0 = performance.now();
        await rest.request('POST', pods.path(NS, `baseline-${i}`, 'binding'), {
          body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: `baseline-${i}` }, target: { kind: 'Node', name: hollowNode(i % NODE_COUNT).metadata!.name } },
        });
        baseLat.push(performance.now() - w0);
      });
      baseSecs += (performance.now() - t0) / 1000;
    };
    const half = Math.floor(POD_COUNT / 2);
    await baseline(0, half);

    // Scheduler, backlog: pods created before it starts; throughput from its first decision to the last binding.
    await pool(POD_COUNT, CONCURRENCY, (i) => pods.create(NS, benchPod(`sched-${i}`, 'default-scheduler')));
    const done: ScheduledInfo[] = [];
    let handler: (info: ScheduledInfo) => void = () => undefined;
    let first = 0;
    const finished = new Promise<void>((resolve) => {
      handler = (info) => {
        if (!first) first = performance.now() - info.decisionMs - info.bindMs;
        done.push(info);
        if (done.length === POD_COUNT) resolve();
      };
    });
    const sched = await startScheduler({ rest, bindConcurrency: CONCURRENCY, onScheduled: (info) => handler(info) });
    t = performance.now();
    await finished;
    const end = performance.now();
    const schedRate = POD_COUNT / ((end - first) / 1000);
    const decisions = done.map((d) => d.decisionMs);
    const binds = done.map((d) => d.bindMs);
    say(`  scheduler (backlog of ${POD_COUNT}): ${schedRate.toFixed(0)} pods/s (list+sync ${((first - t) / 1000).toFixed(1)} s not counted)`);
    say(`    decision p50 ${fmt(pct(decisions, 50))} p99 ${fmt(pct(decisions, 99))}; binding write p50 ${fmt(pct(binds, 50))} p99 ${fmt(pct(binds, 99))}`);

    // Scheduler, steady stream: pods created at a fixed rate; latency from the create request to the binding written.
    const created = new Map<string, number>();
    const e2e: number[] = [];
    const streamDone = new Promise<void>((resolve) => {
      handler = (info) => {
        const c = created.get(info.pod.metadata?.name ?? '');
        if (c === undefined) return;
        e2e.push(performance.now() - c);
        if (e2e.length === STREAM_PODS) resolve();
      };
    });
    const interval = 1000 / STREAM_RATE;
    const start = performance.now();
    await pool(STREAM_PODS, CONCURRENCY, async (i) => {
      const wait = start + i * interval - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const name = `stream-${i}`;
      created.set(name, performance.now());
      await pods.create(NS, benchPod(name, 'default-scheduler'));
    });
    await streamDone;
    say(`  scheduler (steady ${STREAM_RATE} pods/s, ${STREAM_PODS} pods): create-to-bound p50 ${fmt(pct(e2e, 50))} p99 ${fmt(pct(e2e, 99))}`);
    await sched.scheduler.flushEvents(300_000); // its queued events must not load the second baseline half
    await sched.stop();
    await baseline(half, POD_COUNT);
    await watching.stop();
    const baseRate = POD_COUNT / baseSecs;
    say(`  baseline (raw binding writes, half before and half after): ${baseRate.toFixed(0)} pods/s, per write p50 ${fmt(pct(baseLat, 50))} p99 ${fmt(pct(baseLat, 99))}`);

    const ratio = schedRate / baseRate;
    process.stdout.write(
      JSON.stringify({
        nodes: NODE_COUNT,
        pods: POD_COUNT,
        concurrency: CONCURRENCY,
        schedulerPodsPerSec: Math.round(schedRate),
        decisionP50Ms: +pct(decisions, 50).toFixed(3),
        decisionP99Ms: +pct(decisions, 99).toFixed(3),
        bindP50Ms: +pct(binds, 50).toFixed(2),
        bindP99Ms: +pct(binds, 99).toFixed(2),
        streamRate: STREAM_RATE,
        streamE2eP50Ms: +pct(e2e, 50).toFixed(2),
        streamE2eP99Ms: +pct(e2e, 99).toFixed(2),
        baselinePodsPerSec: Math.round(baseRate),
        baselineP50Ms: +pct(baseLat, 50).toFixed(2),
        baselineP99Ms: +pct(baseLat, 99).toFixed(2),
        ratio: +ratio.toFixed(2),
      }) + '\n',
    );
    say(`  ratio scheduler/baseline: ${ratio.toFixed(2)}`);
  } finally {
    child.stdin?.end();
    await new Promise((r) => child.once('exit', r));
  }
}

if (process.argv.includes('--api-server')) void serveApi();
else
  main().catch((err: unknown) => {
    process.stderr.write(`benchmark failed: ${String(err instanceof Error ? err.stack : err)}\n`);
    process.exit(1);
  });
