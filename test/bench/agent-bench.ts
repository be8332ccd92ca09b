// `npm run bench:agent`: (1) memory per hollow node: the RSS and heap that 1,000 hollow nodes (agent/hollow.ts) add to
// this process, against a `ketch server`; (2) pod start-up latency on a one-node `ketch up`: pod created until a
// watcher sees it Running (scheduler + agent + runtime; image already in the store), p50/p99, beside a raw
// `runc run --detach` of a busybox bundle measured in the same run. Needs root, runc, iproute2 and docker-registry.
// BENCH_PODS (default 100) pods, BENCH_BATCH (default 10) created at once; BENCH_HOLLOW (default 1000) hollow nodes;
// then BENCH_RATE_PODS (default 50) pods at a steady BENCH_RATE (default 5) pods/s, the density test's load model.
// With the pods, the CPU they cost the `ketch up` process tree (API server, scheduler, controllers, agent, runtime,
// monitors, runc, ip), from a cpuacct cgroup, less this process's own CPU and the raw runc runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Lease, Pod } from '../../api/index.js';
import { LEASES, PODS } from '../../agent/resources.js';
import { startHollowNodes } from '../../agent/index.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { rootLogger } from '../../lib/logger.js';
import { startKetch, UpCluster } from '../e2e/cluster.js';
import { freePort, waitFor } from '../support/util.js';
import { type CpuMeter, cpuMeter } from './cpu.js';
import { percentile, rawRunc, table } from './raw-runc.js';

const PODS_N = Number(process.env.BENCH_PODS ?? 100);
const BATCH = Number(process.env.BENCH_BATCH ?? 10);
const HOLLOW = Number(process.env.BENCH_HOLLOW ?? 1000);
// A second load model, as Kubernetes' density test has it: pods created at a steady rate (0 pods: not run).
const RATE = Number(process.env.BENCH_RATE ?? 5);
const RATE_PODS = Number(process.env.BENCH_RATE_PODS ?? 50);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

async function settledMemory(): Promise<{ rss: number; heap: number }> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** RSS and heap per hollow node, measured in this process after every node has registered and renewed its lease. */
async function hollowMemory(): Promise<{ rssKiB: number; heapKiB: number; registerS: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'ketch-hollow-bench-'));
  const port = await freePort();
  // Only the API server: the bench is about the hollow nodes' own memory (and a /16 cluster CIDR has 256 node CIDRs).
  const server = await startKetch(['server', '--data-dir', dir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--disable-controller-manager', '--disable-scheduler'], 'ketch server is up');
  try {
    const rest = new RestClient(loadClientConfig({ kubeconfig: join(dir, 'admin.kubeconfig') }), 'agent-bench');
    const leases = rest.resource<Lease>(LEASES);
    await leases.list('kube-node-lease');
    const before = await settledMemory();
    const t0 = now();
    const hollow = await startHollowNodes({ rest, count: HOLLOW, prefix: 'bench-hollow-' });
    const registerS = (now() - t0) / 1000;
    try {
      await waitFor(async () => (await leases.list('kube-node-lease')).items.length >= HOLLOW, { timeoutMs: 300_000, intervalMs: 1000, what: `${HOLLOW} leases` });
      const after = await settledMemory();
      return { rssKiB: (after.rss - before.rss) / 1024 / HOLLOW, heapKiB: (after.heap - before.heap) / 1024 / HOLLOW, registerS };
    } finally {
      await hollow.stop();
    }
  } finally {
    await server.stop('SIGINT');
    await rm(dir, { recursive: true, force: true });
  }
}

/** Watches pods and resolves, per name, the time a pod is first seen Running. */
function runningWatcher(rest: RestClient, resourceVersion: string): { seen: (name: string) => Promise<number>; stop: () => void } {
  const times = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  const ac = new AbortController();
  void (async () => {
    for await (const ev of rest.resource<Pod>(PODS).watch('default', { resourceVersion, signal: ac.signal })) {
      if (ev.type === 'BOOKMARK' || ev.type === 'DELETED') continue;
      const p = ev.object as Pod;
      const name = p.metadata.name ?? '';
      if (p.status?.phase !== 'Running' || times.has(name)) continue;
      const t = now();
      times.set(name, t);
      waiters.get(name)?.(t);
    }
  })().catch((err: unknown) => {
    if (!ac.signal.aborted) process.stderr.write(`watch failed: ${String(err)}\n`);
  });
  return {
    seen: (name) => {
      const t = times.get(name);
      return t !== undefined ? Promise.resolve(t) : new Promise((r) => waiters.set(name, r));
    },
    stop: () => ac.abort(),
  };
}

const pod = (name: string): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { bench: 'latency' } },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
  }) as Pod;

async function podLatency(meter: CpuMeter | undefined): Promise<{ pods: number[]; runc: number[]; cpuPerPod: number; steady: number[] }> {
  const cluster = await UpCluster.create({ clusterCidr: '10.65.0.0/16' });
  const work = await mkdtemp(join(tmpdir(), 'ketch-agent-bench-'));
  const raw = await rawRunc(work);
  try {
    await cluster.start();
    const rest = new RestClient(loadClientConfig({ kubeconfig: cluster.kubeconfig }), 'agent-bench');
    const pods = rest.resource<Pod>(PODS);
    const watcher = runningWatcher(rest, (await pods.list('default')).metadata.resourceVersion ?? '0');
    try {
      // Warm-up (not timed): pulls the image into the store.
      await pods.create('default', pod('warmup'));
      await watcher.seen('warmup');
      const latencies: number[] = [];
      const runc: number[] = [];
      const cpu0 = meter ? await meter.ms() : NaN;
      const self0 = process.cpuUsage();
      let runcCpu = 0;
      for (let b = 0; b * BATCH < PODS_N; b++) {
        const names = Array.from({ length: Math.min(BATCH, PODS_N - b * BATCH) }, (_, i) => `lat-${b * BATCH + i}`);
        const samples = await Promise.all(
          names.map(async (n) => {
            const t0 = now();
            await pods.create('default', pod(n));
            return (await watcher.seen(n)) - t0;
          }),
        );
        latencies.push(...samples);
        // Interleaved, so that load from elsewhere on the machine hits both alike.
        const r0 = meter ? await meter.ms() : NaN;
        for (const n of names) runc.push(await raw.time(Number(n.slice(4))));
        if (meter) runcCpu += (await meter.ms()) - r0;
        process.stderr.write(`${latencies.length}/${PODS_N} pods: batch p50 ${percentile(samples, 50).toFixed(0)} ms\n`);
      }
      const self = process.cpuUsage(self0);
      const cpuPerPod = meter ? ((await meter.ms()) - cpu0 - runcCpu - (self.user + self.system) / 1000) / PODS_N : NaN;
      const steady: number[] = [];
      if (RATE > 0 && RATE_PODS > 0) {
        // On an empty node again (the node takes 110 pods), then one pod every 1/RATE s.
        await cluster.kubectl('delete', 'pods', '--all', '--grace-period=0', '--wait=true', '--timeout=180s');
        const t0 = now();
        steady.push(
          ...(await Promise.all(
            Array.from({ length: RATE_PODS }, async (_, i) => {
              await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i * 1000) / RATE - now())));
              const t = now();
              await pods.create('default', pod(`rate-${i}`));
              return (await watcher.seen(`rate-${i}`)) - t;
            }),
          )),
        );
      }
      return { pods: latencies, runc, cpuPerPod, steady };
    } finally {
      watcher.stop();
      await cluster.kubectl('delete', 'pods', '--all', '--grace-period=0', '--wait=true', '--timeout=180s').catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    }
  } finally {
    await raw.cleanup();
    await cluster.stop().catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    await cluster.dispose();
    await rm(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  rootLogger.level = process.env.KETCH_LOG_LEVEL ?? 'warn';
  if (process.getuid?.() !== 0) throw new Error('the agent benchmark must run as root');
  const meter = await cpuMeter();
  const mem = await hollowMemory();
  const lat = await podLatency(meter).finally(() => meter?.close());
  const ms = (xs: number[], p: number): string => percentile(xs, p).toFixed(0);
  process.stdout.write(
    [
      `Pod start-up, ${PODS_N} pods on one node (image present), in batches of ${BATCH} created at once, each batch once the one before is all Running:`,
      '',
      table([
        ['measurement', 'p50 ms', 'p99 ms', 'max ms'],
        ['---', '---:', '---:', '---:'],
        ['pod created → watcher sees Running (ketch up)', ms(lat.pods, 50), ms(lat.pods, 99), ms(lat.pods, 100)],
        ['raw runc run --detach (busybox bundle)', ms(lat.runc, 50), ms(lat.runc, 99), ms(lat.runc, 100)],
      ]),
      '',
      ...(lat.steady.length
        ? [
            `Another load model (Kubernetes' density test): ${lat.steady.length} pods created at a steady ${RATE} pods/s on the emptied node:`,
            '',
            table([
              ['measurement', 'p50 ms', 'p99 ms', 'max ms'],
              ['---', '---:', '---:', '---:'],
              [`pod created → watcher sees Running, ${RATE} pods/s`, ms(lat.steady, 50), ms(lat.steady, 99), ms(lat.steady, 100)],
            ]),
            '',
          ]
        : []),
      Number.isNaN(lat.cpuPerPod) ? 'CPU per pod: not measured (no cpuacct cgroup)' : `CPU per pod start in the batches, the ketch up process tree (cpuacct cgroup, less this process and the raw runc runs): ${lat.cpuPerPod.toFixed(0)} ms`,
      '',
      `Hollow nodes, ${HOLLOW} against one ketch server (registered in ${mem.registerS.toFixed(1)} s):`,
      '',
      table([
        ['measurement', 'per node'],
        ['---', '---:'],
        ['RSS delta / node', `${mem.rssKiB.toFixed(1)} KiB`],
        ['JS heap delta / node', `${mem.heapKiB.toFixed(1)} KiB`],
      ]),
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
