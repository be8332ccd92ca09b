// `npm run bench:services`: what Services cost. Each section measures one thing beside a baseline in the same run and
// prints a markdown table; add a section to SECTIONS. Needs root, iproute2, nftables, dnsperf.
//  - proxy data path: requests/s and p99 through a ClusterIP against straight to the pod IP, from a pod namespace, over
//    kept-alive connections and with a new connection per request (the DNAT is set up per connection); target >= 0.9.
//  - proxy programming: the first sync of 1,000 Services with 10 endpoints each (against `nft -f` of the same
//    ruleset), then one endpoint change at a time until its rule is in the kernel (against `nft -f` of the same
//    transaction); target p99 < 1 s.
//  - cluster DNS: queries/s and p99 against a minimal dns-packet responder on the same kind of socket (dns-bench.ts,
//    whose DNS_BENCH_* variables apply); target >= 0.8.
// BENCH_SECONDS (default 5) per load run, BENCH_CONNS (default 16) connections, BENCH_SERVICES (default 1000),
// BENCH_CHANGES (default 100) endpoint changes.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EndpointSlice, Service } from '../../api/index.js';
import { hostCommands } from '../../agent/proxy/commands.js';
import { ServiceProxy } from '../../agent/proxy/proxy.js';
import { rootLogger } from '../../lib/logger.js';
import { MemoryInformer } from '../support/memory-informer.js';
import { NetLab } from '../support/net-lab.js';
import { percentile, table } from './raw-runc.js';

const execFileAsync = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNS = Number(process.env.BENCH_CONNS ?? 16);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 1000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 100);

export interface Section {
  title: string;
  /** Runs the measurements and returns the lines to print (a table and notes). */
  run(): Promise<string[]>;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const ms = (xs: number[], p: number): string => percentile(xs, p).toFixed(1);

/** An HTTP load generator run in a namespace: conns workers for seconds; prints {n, rps, p50, p99, errors}. */
const LOADGEN = String.raw`
const http = require('node:http');
const [url, conns, seconds, keepAlive] = JSON.parse(process.argv[1]);
const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: conns }) : false;
const lat = [];
let errors = 0;
const end = Date.now() + seconds * 1000;
const get = () => new Promise((resolve, reject) => {
  const req = http.get(url, { agent }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', reject);
});
const worker = async () => {
  while (Date.now() < end) {
    const t = process.hrtime.bigint();
    try { await get(); lat.push(Number(process.hrtime.bigint() - t) / 1e6); } catch { errors++; }
  }
};
Promise.all(Array.from({ length: conns }, worker)).then(() => {
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] ?? NaN;
  process.stdout.write(JSON.stringify({ n: lat.length, rps: lat.length / seconds, p50: q(0.5), p99: q(0.99), errors }));
});
`;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(lab: NetLab, ns: string, url: string, keepAlive: boolean): Promise<Load> {
  return JSON.parse(await lab.exec(ns, [process.execPath, '-e', LOADGEN, JSON.stringify([url, CONNS, SECONDS, keepAlive])])) as Load;
}

/** The run with the median requests/s. */
const median = (runs: Load[]): Load => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;

const dataPath: Section = {
  title: 'Service proxy data path',
  async run() {
    const lab = new NetLab();
    let proxy: ServiceProxy | undefined;
    try {
      await lab.create();
      const backend = await lab.addPod('a', 2);
      const client = await lab.addPod('c', 4);
      // Two servers alike: one behind the service (8080), one for direct requests (8081). With new connections per
      // request, one port for both would let a direct run's TIME_WAIT sockets on the server meet the service run's
      // translated connections on the same four-tuples, and stall them.
      await lab.serve(backend.ns, 'a');
      await lab.serve(backend.ns, 'a-direct', 8081, 5354);
      const services = new MemoryInformer<Service>();
      const slices = new MemoryInformer<EndpointSlice>();
      services.set({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'bench' }, spec: { clusterIP: '10.96.0.50', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
      slices.set({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'web-1', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: [{ addresses: [backend.ip], nodeName: 'bench' }],
      });
      proxy = new ServiceProxy({ services, endpointSlices: slices, nodeName: 'bench', commands: hostCommands({ netns: lab.node }) });
      await proxy.start();
      const direct = `http://${backend.ip}:8081/`;
      const viaService = 'http://10.96.0.50/';
      const rows: string[][] = [['path', 'connections', 'requests/s', 'p50 ms', 'p99 ms', 'errors', 'ratio (rps)'], ['---', '---', '---:', '---:', '---:', '---:', '---:']];
      for (const keepAlive of [true, false]) {
        // Alternating runs, so that both paths see the same machine.
        const runs: { d: Load[]; s: Load[] } = { d: [], s: [] };
        for (let r = 0; r < 3; r++) {
          runs.d.push(await load(lab, client.ns, direct, keepAlive));
          runs.s.push(await load(lab, client.ns, viaService, keepAlive));
        }
        const d = median(runs.d);
        const s = median(runs.s);
        const kind = keepAlive ? `${CONNS} kept alive` : `${CONNS}, new per request`;
        rows.push(['pod IP (baseline)', kind, d.rps.toFixed(0), d.p50.toFixed(2), d.p99.toFixed(2), String(d.errors), '']);
        rows.push(['ClusterIP (nftables DNAT)', kind, s.rps.toFixed(0), s.p50.toFixed(2), s.p99.toFixed(2), String(s.errors), (s.rps / d.rps).toFixed(2)]);
      }
      return [
        `HTTP from a pod namespace to a one-endpoint Service, Node HTTP server and load generator, ${SECONDS} s per run, the median of three alternating runs (target ratio >= 0.9):`,
        '',
        table(rows),
      ];
    } finally {
      await proxy?.stop();
      await lab.destroy();
    }
  },
};

function benchService(i: number): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: 'bench' }, spec: { clusterIP: `10.96.${Math.floor(i / 250)}.${(i % 250) + 2}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } };
}

function benchSlice(i: number, generation = 0): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-1`, namespace: 'bench', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    // Ten endpoints; the last one moves with each generation.
    endpoints: Array.from({ length: 10 }, (_, j) => ({
      addresses: [`10.${42 + Math.floor(i / 250)}.${i % 250}.${j === 9 ? 10 + (generation % 200) : j + 2}`],
      nodeName: 'bench',
    })),
  };
}

const programming: Section = {
  title: 'Service proxy programming',
  async run() {
    const lab = new NetLab();
    const ns = `kpx-bench-${lab.id}`;
    await lab.ip(['netns', 'add', ns]);
    const commands = hostCommands({ netns: ns });
    let proxy: ServiceProxy | undefined;
    try {
      const services = new MemoryInformer<Service>();
      const slices = new MemoryInformer<EndpointSlice>();
      for (let i = 0; i < SERVICES; i++) {
        services.set(benchService(i));
        slices.set(benchSlice(i));
      }
      proxy = new ServiceProxy({ services, endpointSlices: slices, nodeName: 'bench', commands });
      let t = now();
      await proxy.start();
      const firstMs = now() - t;
      const fullText = proxy.lastTransaction;
      t = now();
      await commands.nft(fullText);
      const rawFullMs = now() - t;

      const generation = new Map<number, number>();
      let k = 0;
      /** CHANGES changes of one endpoint each, each applied before the next; spaced by gapMs. */
      const changes = async (gapMs: number): Promise<{ latencies: number[]; sizes: number[] }> => {
        const latencies: number[] = [];
        const sizes: number[] = [];
        for (let c = 0; c < CHANGES; c++, k++) {
          if (gapMs) await sleep(gapMs);
          const i = (k * 7919) % SERVICES;
          const g = (generation.get(i) ?? 0) + 1;
          generation.set(i, g);
          t = now();
          slices.set(benchSlice(i, g));
          await proxy!.settled();
          latencies.push(now() - t);
          sizes.push(proxy!.lastTransaction.length);
        }
        return { latencies, sizes };
      };
      const spaced = await changes(200);
      const burst = await changes(0);
      const raw: number[] = [];
      // The fixed cost of nft itself (process start, netlink, the table's cache): an empty transaction.
      const probe = `add table ip ketch-proxy\n`;
      for (let k = 0; k < 20; k++) {
        t = now();
        await commands.nft(probe);
        raw.push(now() - t);
      }
      return [
        `${SERVICES} Services with 10 endpoints each on one node (first sync: ${(fullText.length / 1e6).toFixed(1)} MB of nft script, ${fullText.split('\n').length} lines); then ${CHANGES} changes of one endpoint each, every one applied before the next, timed from the slice event to the end of its nft transaction (target p99 < 1 s):`,
        '',
        table([
          ['measurement', 'p50 ms', 'p99 ms', 'max ms'],
          ['---', '---:', '---:', '---:'],
          [`program ${SERVICES} Services (proxy start, one transaction)`, firstMs.toFixed(0), '', ''],
          ['the same ruleset through `nft -f` (baseline)', rawFullMs.toFixed(0), '', ''],
          ['one endpoint change → rule in the kernel, a change every 200 ms', ms(spaced.latencies, 50), ms(spaced.latencies, 99), ms(spaced.latencies, 100)],
          ['the same, back to back (the 100 ms minimum sync interval shows)', ms(burst.latencies, 50), ms(burst.latencies, 99), ms(burst.latencies, 100)],
          ['an empty `nft -f` transaction (baseline: nft start-up)', ms(raw, 50), ms(raw, 99), ms(raw, 100)],
        ]),
        '',
        `A change's transaction: ${percentile(spaced.sizes, 50).toFixed(0)} bytes (p50), against ${fullText.length} for the whole table.`,
      ];
    } finally {
      await proxy?.stop();
      await lab.ip(['netns', 'del', ns]);
    }
  },
};

/** The cluster DNS against a minimal dns-packet responder: dns-bench.ts, run in a process of its own (it forks its servers). */
const clusterDns: Section = {
  title: 'Cluster DNS',
  async run() {
    const script = fileURLToPath(new URL('./dns-bench.ts', import.meta.url));
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', script], { maxBuffer: 16 << 20 });
    return ['```', ...stdout.trimEnd().split('\n'), '```'];
  },
};

/** The sections in print order. */
export const SECTIONS: Section[] = [dataPath, programming, clusterDns];

async function main(): Promise<void> {
  rootLogger.level = process.env.KETCH_LOG_LEVEL ?? 'warn';
  if (process.getuid?.() !== 0) throw new Error('the services benchmark must run as root');
  await execFileAsync('nft', ['--version']);
  const only = process.env.BENCH_SECTIONS?.split(',');
  // The proxy's timers do not hold the process open (the agent's servers do): this does, while a section waits on one.
  const alive = setInterval(() => undefined, 1000);
  try {
    for (const s of SECTIONS) {
      if (only && !only.some((o) => s.title.toLowerCase().includes(o.toLowerCase()))) continue;
      const lines = await s.run();
      process.stdout.write(`## ${s.title}\n\n${lines.join('\n')}\n\n`);
    }
  } finally {
    clearInterval(alive);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
