// The chaos run: three etcd members, API servers (hosting the leader-elected controller manager and scheduler) and
// hollow nodes on loopback; a writer, watchers and Deployments as the workload; faults at random from a seeded
// generator; then the checks (lost writes, watch anomalies, convergence, crashes) and the figures.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { ConfigMap, Namespace } from '../../api/index.js';
import { loadClientConfig, SERVERS_EXTENSION, type KubeconfigFile } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { LEASES, type Lease } from '../../client/index.js';
import { CONFIGMAPS, NAMESPACES } from '../../client/resources.js';
import { DEPLOYMENTS, type Deployment } from '../../controllers/framework/types.js';
import { seededRandom, waitFor } from '../support/util.js';
import { checkWatch, lostWrites, percentile, type Observed, type WatchAnomaly } from './history.js';
import { etcdCluster, hollowNodes, isEtcdLeader, ketchServers, type Proc } from './processes.js';
import { deployment, deploymentsConverged, NAMESPACE, Watcher, Writer, type Sample } from './workload.js';

export interface ChaosOptions {
  durationMs: number;
  seed: number;
  servers?: number;
  /** Progress lines (the CLI prints them; the test keeps them quiet). */
  progress?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  durationMs: number;
  faults: Record<string, number>;
  acknowledged: number;
  lost: number;
  watchEvents: number;
  watchAnomalies: WatchAnomaly[];
  watchExpired: number;
  convergedAfterLastFaultMs: number | undefined;
  crashes: Record<string, number>;
  availability: { all: number; outsideKills: number };
  p99WriteMs: { withoutFaults: number; duringFaults: number };
  leaks: string;
}

interface Window {
  kind: string;
  startMs: number;
  endMs: number;
}

const FAULTS = ['kill-etcd-leader', 'kill-etcd-follower', 'kill-api-server', 'kill-controller-manager-leader', 'pause-etcd-member', 'pause-api-server', 'kill-hollow-nodes'] as const;

/** Runs one fault: the process goes down (SIGKILL or SIGSTOP) for a while and comes back. */
async function injectFault(kind: (typeof FAULTS)[number], pick: <T>(xs: T[]) => T, procs: { etcd: Proc[]; etcdLeader: () => Promise<Proc | undefined>; servers: Proc[]; cmLeader: () => Promise<Proc | undefined>; hollow: Proc }, downMs: number): Promise<void> {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const killRestart = async (p: Proc): Promise<void> => {
    await p.kill();
    await sleep(downMs);
    await p.start();
  };
  const pause = async (p: Proc): Promise<void> => {
    p.pause();
    await sleep(downMs);
    p.resume();
  };
  switch (kind) {
    case 'kill-etcd-leader':
      return killRestart((await procs.etcdLeader()) ?? pick(procs.etcd));
    case 'kill-etcd-follower': {
      const leader = await procs.etcdLeader();
      return killRestart(pick(procs.etcd.filter((p) => p !== leader)));
    }
    case 'kill-api-server':
      return killRestart(pick(procs.servers));
    case 'kill-controller-manager-leader':
      // The server hosting the leading controller manager (and, most often, the scheduler leader too).
      return killRestart((await procs.cmLeader()) ?? pick(procs.servers));
    case 'pause-etcd-member':
      return pause(pick(procs.etcd));
    case 'pause-api-server':
      return pause(pick(procs.servers));
    case 'kill-hollow-nodes':
      return killRestart(procs.hollow);
  }
}

/** A kubeconfig listing every server (the client-side balancer fails over between them). */
function balancedKubeconfig(dir: string, adminKubeconfig: string, urls: string[]): string {
  const doc = YAML.parse(readFileSync(adminKubeconfig, 'utf8')) as KubeconfigFile;
  doc.clusters![0]!.cluster.extensions = [{ name: SERVERS_EXTENSION, extension: { servers: urls } }];
  const file = join(dir, 'chaos.kubeconfig');
  writeFileSync(file, YAML.stringify(doc));
  return file;
}

const share = (xs: Sample[]): number => (xs.length ? xs.filter((s) => s.ok).length / xs.length : 1);
const inside = (t: number, ws: Window[], slackMs: number): boolean => ws.some((w) => t >= w.startMs && t <= w.endMs + slackMs);

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.progress ?? ((): void => undefined);
  const random = seededRandom(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  const dir = mkdtempSync(join(tmpdir(), 'ketch-chaos-'));
  const all: Proc[] = [];
  try {
    const etcd = await etcdCluster(join(dir, 'etcd'));
    all.push(...etcd.map((m) => m.proc));
    say(`etcd members up: ${etcd.map((m) => m.client).join(' ')}`);
    const servers = await ketchServers(dir, etcd.map((m) => m.client), o.servers ?? 2);
    all.push(...servers.map((s) => s.proc));
    const kubeconfig = balancedKubeconfig(dir, join(servers[0]!.dataDir, 'admin.kubeconfig'), servers.map((s) => s.url));
    say(`ketch servers up: ${servers.map((s) => s.url).join(' ')}`);
    const hollow = hollowNodes(kubeconfig, 3);
    all.push(hollow);
    await hollow.start();
    const rest = new RestClient(loadClientConfig({ kubeconfig }), 'chaos');
    await rest.resource<Namespace>(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    const deps = rest.resource<Deployment>(DEPLOYMENTS);
    for (const name of ['web', 'api']) await deps.create(NAMESPACE, deployment(name, 3, 0));

    const t0 = Date.now();
    const now = (): number => Date.now() - t0;
    const writer = new Writer(new RestClient(loadClientConfig({ kubeconfig }), 'chaos-writer'), 12, 4, now);
    const watchers = ['watch-a', 'watch-b'].map((n) => new Watcher(n, new RestClient(loadClientConfig({ kubeconfig }), n)));
    watchers.forEach((w) => w.start());
    writer.start();

    // A quiet first stretch gives the latency without faults; then faults and workload changes until the end.
    const windows: Window[] = [];
    const faults: Record<string, number> = {};
    const quietMs = Math.min(20_000, o.durationMs / 5);
    await new Promise((r) => setTimeout(r, quietMs));
    let rev = 0;
    const etcdLeader = async (): Promise<Proc | undefined> => {
      for (const m of etcd) if (await isEtcdLeader(m)) return m.proc;
      return undefined;
    };
    const cmLeader = async (): Promise<Proc | undefined> => {
      const lease = await rest.resource<Lease>(LEASES).get('kube-system', 'kube-controller-manager').catch(() => undefined);
      return servers.find((s) => s.proc.name === lease?.spec?.holderIdentity)?.proc;
    };
    while (now() < o.durationMs) {
      const kind = pick([...FAULTS]);
      const startMs = now();
      await injectFault(kind, pick, { etcd: etcd.map((m) => m.proc), etcdLeader, servers: servers.map((s) => s.proc), cmLeader, hollow }, 1000 + random() * 3000);
      windows.push({ kind, startMs, endMs: now() });
      faults[kind] = (faults[kind] ?? 0) + 1;
      say(`${(now() / 1000).toFixed(0)}s fault ${kind} (${((now() - startMs) / 1000).toFixed(1)}s)`);
      // Workload changes between faults: scale one Deployment, roll the other.
      const scaled = await deps.patch(NAMESPACE, 'web', { spec: { replicas: 1 + Math.floor(random() * 5) } }).catch(() => undefined);
      const rolled = await deps.patch(NAMESPACE, 'api', { spec: { template: { metadata: { annotations: { 'chaos/rev': String(++rev) } } } } }).catch(() => undefined);
      if (!scaled || !rolled) say('a workload change failed (counted in availability)');
      await new Promise((r) => setTimeout(r, 2000 + random() * 4000));
    }
    const lastFaultEnd = windows.at(-1)?.endMs ?? now();

    let convergedAt: number | undefined;
    await waitFor(async () => (await deploymentsConverged(rest).catch(() => false)) && (convergedAt = now()), { timeoutMs: 90_000, intervalMs: 500, what: 'the Deployments to converge' }).catch(() => undefined);
    await writer.stop();
    await new Promise((r) => setTimeout(r, 3000)); // let the watches catch up to the last acknowledged write
    await Promise.all(watchers.map((w) => w.stop()));

    const list = await rest.resource<ConfigMap>(CONFIGMAPS).list(NAMESPACE);
    const final = new Map<string, Observed>(list.items.map((c) => [c.metadata!.name!, { key: c.metadata!.name!, rv: BigInt(c.metadata!.resourceVersion!), value: Number(c.data?.n ?? 0) }]));
    const anomalies = watchers.flatMap((w) => w.segments.flatMap((s) => checkWatch(w.name, s.fromRv, s.events, writer.writes, writer.inFlight)));
    const kills = windows.filter((w) => w.kind === 'kill-api-server' || w.kind === 'kill-controller-manager-leader');
    const faultFree = writer.samples.filter((s) => s.ok && !inside(s.startMs, windows, 5000));
    const duringFaults = writer.samples.filter((s) => s.ok && inside(s.startMs, windows, 0));
    const crashes: Record<string, number> = {};
    for (const p of all) if (p.unexpectedExits) crashes[p.name] = p.unexpectedExits;
    return {
      seed: o.seed,
      durationMs: o.durationMs,
      faults,
      acknowledged: writer.writes.length,
      lost: lostWrites(writer.writes, final).length,
      watchEvents: watchers.reduce((n, w) => n + w.segments.reduce((m, s) => m + s.events.length, 0), 0),
      watchAnomalies: anomalies,
      watchExpired: watchers.reduce((n, w) => n + w.expired, 0),
      convergedAfterLastFaultMs: convergedAt === undefined ? undefined : Math.max(0, convergedAt - lastFaultEnd),
      crashes,
      availability: { all: share(writer.samples), outsideKills: share(writer.samples.filter((s) => !inside(s.startMs, kills, 0))) },
      p99WriteMs: { withoutFaults: percentile(faultFree.map((s) => s.ms), 99), duringFaults: percentile(duringFaults.map((s) => s.ms), 99) },
      leaks: 'not checked: hollow nodes only (no containers, netns, mounts or cgroups are made)',
    };
  } finally {
    await Promise.all(all.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report as the issue lists its figures. */
export function formatReport(r: ChaosReport): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  return [
    `chaos run: seed ${r.seed}, ${Math.round(r.durationMs / 1000)} s of faults`,
    `faults injected: ${Object.entries(r.faults).map(([k, n]) => `${k}=${n}`).join(' ') || 'none'}`,
    `operations acknowledged: ${r.acknowledged}`,
    `writes lost: ${r.lost}`,
    `watch events checked: ${r.watchEvents}, watch anomalies: ${r.watchAnomalies.length}${r.watchAnomalies.length ? ` (${r.watchAnomalies.slice(0, 5).map((a) => `${a.watcher} ${a.kind} ${a.detail}`).join('; ')})` : ''}, watches expired (410, relisted): ${r.watchExpired}`,
    `time to converge after the last fault: ${r.convergedAfterLastFaultMs === undefined ? 'did not converge' : `${(r.convergedAfterLastFaultMs / 1000).toFixed(1)} s`}`,
    `processes crashed outside injected faults: ${Object.entries(r.crashes).map(([k, n]) => `${k}=${n}`).join(' ') || 0}`,
    `leaks: ${r.leaks}`,
    `availability (writes answered without 5xx/timeout): ${pct(r.availability.all)} overall, ${pct(r.availability.outsideKills)} outside API server kills`,
    `p99 acknowledged write latency: ${r.p99WriteMs.withoutFaults} ms without faults, ${r.p99WriteMs.duringFaults} ms during faults`,
  ].join('\n');
}
