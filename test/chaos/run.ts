// The chaos run: three etcd members, API servers (hosting the leader-elected controller manager and scheduler) and
// hollow nodes on loopback, or one API server on the embedded SQLite store (`store: 'sqlite'`); a writer, watchers,
// Deployments and Jobs as the workload; faults at random from a seeded generator; then the checks (lost writes, watch
// anomalies, convergence, crashes) and the figures.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { ConfigMap, Namespace, Pod } from '../../api/index.js';
import { loadClientConfig, SERVERS_EXTENSION, type KubeconfigFile } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { LEASES, type Lease } from '../../client/index.js';
import { CONFIGMAPS, NAMESPACES, PODS } from '../../client/resources.js';
import { DEPLOYMENTS, type Deployment } from '../../controllers/framework/types.js';
import { seededRandom, waitFor } from '../support/util.js';
import { checkWatch, lostWrites, percentile, type Observed, type WatchAnomaly } from './history.js';
import { formatLeaks, HOST_IP, leakCount, REAL_NODE, RealNode, type Leaks } from './real-node.js';
import { etcdCluster, hollowNodes, isEtcdLeader, ketchServers, type EtcdMember, type Proc, type ServerProc } from './processes.js';
import { deployment, deploymentsConverged, HollowJobPods, job, jobsComplete, NAMESPACE, Watcher, Writer, type Sample } from './workload.js';
import { JOBS, type Job } from '../../controllers/job/types.js';

export interface ChaosOptions {
  durationMs: number;
  seed: number;
  servers?: number;
  /** etcd (three members, several API servers) or the embedded SQLite store (one API server). */
  store?: 'etcd' | 'sqlite';
  /** One real agent (runc) in a network namespace, with its Deployment and faults (long runs; needs root). */
  realAgent?: boolean;
  /** Progress lines (the CLI prints them; the test keeps them quiet). */
  progress?: (line: string) => void;
}

export interface ChaosReport {
  store: 'etcd' | 'sqlite';
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
  availability: { all: number; outsideKills: number; duringApiServerPauses: number };
  p99WriteMs: { withoutFaults: number; duringFaults: number; duringApiServerPauses: number };
  jobs: { created: number; complete: boolean };
  /** Leftovers on the real node after the cluster stopped (undefined without one). */
  leaks: number | undefined;
  leaksDetail: string;
}

interface Window {
  kind: string;
  startMs: number;
  endMs: number;
}

const ETCD_FAULTS = ['kill-etcd-leader', 'kill-etcd-follower', 'kill-api-server', 'kill-controller-manager-leader', 'kill-scheduler-leader', 'pause-etcd-member', 'pause-api-server', 'kill-hollow-nodes'] as const;
/** With the real node: its agent killed, its runtime child killed, its link to the servers cut. */
const REAL_NODE_FAULTS = ['kill-agent', 'kill-runtime-child', 'cut-agent-network'] as const;
type Fault = (typeof ETCD_FAULTS)[number] | (typeof REAL_NODE_FAULTS)[number];
/** On the embedded store there is one API server and no etcd: what applies is the server's kill and pause, and the agents'. */
const SQLITE_FAULTS: Fault[] = ['kill-api-server', 'pause-api-server', 'kill-hollow-nodes'];

interface FaultTargets {
  etcd: Proc[];
  etcdLeader: () => Promise<Proc | undefined>;
  servers: Proc[];
  /** The server holding a leader-election lease (kube-controller-manager, kube-scheduler). */
  leaderOf: (lease: string) => Promise<Proc | undefined>;
  hollow: Proc;
  node: RealNode | undefined;
}

/** Runs one fault: the process goes down (SIGKILL or SIGSTOP) for a while and comes back. */
async function injectFault(kind: Fault, pick: <T>(xs: T[]) => T, procs: FaultTargets, downMs: number): Promise<void> {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const killRestart = async (p: Proc): Promise<void> => {
    await p.kill();
    await sleep(downMs);
    await p.start();
  };
  const pause = async (p: Proc, ms = downMs): Promise<void> => {
    p.pause();
    await sleep(ms);
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
      return killRestart((await procs.leaderOf('kube-controller-manager')) ?? pick(procs.servers));
    case 'kill-scheduler-leader':
      return killRestart((await procs.leaderOf('kube-scheduler')) ?? pick(procs.servers));
    case 'pause-etcd-member':
      return pause(pick(procs.etcd));
    case 'pause-api-server':
      // Longer than the balancer's health check and its timeout: clients must move to another server, not wait it out.
      return pause(pick(procs.servers), 5000 + downMs);
    case 'kill-hollow-nodes':
      return killRestart(procs.hollow);
    case 'kill-agent':
      return killRestart(procs.node!.agent!);
    case 'kill-runtime-child':
      return procs.node!.killRuntimeChild();
    case 'cut-agent-network':
      return procs.node!.cutNetwork(10_000 + (downMs - 1000) * (10 / 3));
  }
}

/** A kubeconfig listing every server (the client-side balancer fails over between them). */
function balancedKubeconfig(dir: string, adminKubeconfig: string, urls: string[], name = 'chaos'): string {
  const doc = YAML.parse(readFileSync(adminKubeconfig, 'utf8')) as KubeconfigFile;
  doc.clusters![0]!.cluster.server = urls[0]!;
  doc.clusters![0]!.cluster.extensions = [{ name: SERVERS_EXTENSION, extension: { servers: urls } }];
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, YAML.stringify(doc));
  return file;
}

const share = (xs: Sample[]): number => (xs.length ? xs.filter((s) => s.ok).length / xs.length : 1);
const inside = (t: number, ws: Window[], slackMs: number): boolean => ws.some((w) => t >= w.startMs && t <= w.endMs + slackMs);

interface Cluster {
  etcd: EtcdMember[];
  servers: ServerProc[];
  hollow: Proc;
  kubeconfig: string;
  node: RealNode | undefined;
}

/** Starts the processes (each goes into `all` as soon as it runs, for the caller to stop). */
async function startCluster(dir: string, o: ChaosOptions, all: Proc[], say: (line: string) => void): Promise<Cluster> {
  // The real node's veth comes first: the servers' certificate then names its host end, where they listen too.
  const node = o.realAgent ? new RealNode(dir) : undefined;
  await node?.createNetwork();
  const etcd = o.store === 'sqlite' ? [] : await etcdCluster(join(dir, 'etcd'));
  all.push(...etcd.map((m) => m.proc));
  if (etcd.length) say(`etcd members up: ${etcd.map((m) => m.client).join(' ')}`);
  const serverOpts = node ? { bindAddress: '0.0.0.0', extraArgs: ['--cluster-cidr', '10.91.0.0/16'] } : {};
  const servers = await ketchServers(dir, etcd.map((m) => m.client), o.store === 'sqlite' ? 1 : (o.servers ?? 2), serverOpts);
  all.push(...servers.map((s) => s.proc));
  const kubeconfig = balancedKubeconfig(dir, join(servers[0]!.dataDir, 'admin.kubeconfig'), servers.map((s) => s.url));
  say(`ketch servers up (${o.store ?? 'etcd'}): ${servers.map((s) => s.url).join(' ')}`);
  const hollow = hollowNodes(kubeconfig, 3);
  all.push(hollow);
  await hollow.start();
  if (node) {
    const admin = join(servers[0]!.dataDir, 'admin.kubeconfig');
    await node.startAgent(balancedKubeconfig(dir, admin, servers.map((s) => `https://${HOST_IP}:${s.port}`), 'real-node'));
    all.push(node.agent!);
    say(`real agent up: node ${REAL_NODE}`);
  }
  return { etcd, servers, hollow, kubeconfig, node };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.progress ?? ((): void => undefined);
  const random = seededRandom(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  const dir = mkdtempSync(join(tmpdir(), 'ketch-chaos-'));
  const all: Proc[] = [];
  let node: RealNode | undefined;
  const clients: RestClient[] = [];
  try {
    const cluster = await startCluster(dir, o, all, say);
    node = cluster.node;
    const { etcd, servers, hollow, kubeconfig } = cluster;
    const client = (name: string): RestClient => {
      const c = new RestClient(loadClientConfig({ kubeconfig }), name);
      clients.push(c);
      return c;
    };
    const rest = client('chaos');
    await rest.resource<Namespace>(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    const deps = rest.resource<Deployment>(DEPLOYMENTS);
    for (const name of ['web', 'api']) await deps.create(NAMESPACE, deployment(name, 3, 0));
    if (node) await deps.create(NAMESPACE, deployment('on-real-node', 2, 0, { 'kubernetes.io/hostname': REAL_NODE }));
    const jobs = rest.resource<Job>(JOBS);
    let jobsCreated = 0;
    await jobs.create(NAMESPACE, job(`job-${jobsCreated++}`, 4));

    const t0 = Date.now();
    const now = (): number => Date.now() - t0;
    const writer = new Writer(client('chaos-writer'), 12, 4, now);
    const watchers = ['watch-a', 'watch-b'].map((n) => new Watcher(n, client(n)));
    const jobPods = new HollowJobPods(client('chaos-job-pods'));
    watchers.forEach((w) => w.start());
    writer.start();
    jobPods.start();

    // A quiet first stretch gives the latency without faults; then faults and workload changes until the end.
    const windows: Window[] = [];
    const faults: Record<string, number> = {};
    const quietMs = Math.min(20_000, o.durationMs / 5);
    await new Promise((r) => setTimeout(r, quietMs));
    let rev = 0;
    const targets: FaultTargets = {
      etcd: etcd.map((m) => m.proc),
      servers: servers.map((s) => s.proc),
      hollow,
      node,
      etcdLeader: async () => {
        for (const m of etcd) if (await isEtcdLeader(m)) return m.proc;
        return undefined;
      },
      leaderOf: async (name) => {
        const lease = await rest.resource<Lease>(LEASES).get('kube-system', name).catch(() => undefined);
        return servers.find((s) => s.proc.name === lease?.spec?.holderIdentity)?.proc;
      },
    };
    const kinds: Fault[] = [...(o.store === 'sqlite' ? SQLITE_FAULTS : ETCD_FAULTS)];
    // With the real node, every third fault is one of its own, in turn: a short run has each of them.
    const nextKind = (): Fault => (node && windows.length % 3 === 2 ? REAL_NODE_FAULTS[Math.floor(windows.length / 3) % REAL_NODE_FAULTS.length]! : pick(kinds));
    while (now() < o.durationMs) {
      const kind = nextKind();
      const startMs = now();
      await injectFault(kind, pick, targets, 1000 + random() * 3000);
      windows.push({ kind, startMs, endMs: now() });
      faults[kind] = (faults[kind] ?? 0) + 1;
      node?.noteSandboxes();
      say(`${(now() / 1000).toFixed(0)}s fault ${kind} (${((now() - startMs) / 1000).toFixed(1)}s)`);
      // Workload changes between faults: scale one Deployment, roll the other, and every third time a new Job.
      const scaled = await deps.patch(NAMESPACE, 'web', { spec: { replicas: 1 + Math.floor(random() * 5) } }).catch(() => undefined);
      const rolled = await deps.patch(NAMESPACE, 'api', { spec: { template: { metadata: { annotations: { 'chaos/rev': String(++rev) } } } } }).catch(() => undefined);
      const started = windows.length % 3 ? true : await jobs.create(NAMESPACE, job(`job-${jobsCreated}`, 3)).then(() => jobsCreated++, () => false);
      if (!scaled || !rolled || started === false) say('a workload change failed (counted in availability)');
      await new Promise((r) => setTimeout(r, 2000 + random() * 4000));
    }
    const lastFaultEnd = windows.at(-1)?.endMs ?? now();

    let convergedAt: number | undefined;
    const converged = async (): Promise<boolean> => (await deploymentsConverged(rest)) && (await jobsComplete(rest));
    await waitFor(async () => (await converged().catch(() => false)) && (convergedAt = now()), { timeoutMs: 90_000, intervalMs: 500, what: 'the Deployments and Jobs to converge' }).catch(() => undefined);
    await Promise.all([writer.stop(), jobPods.stop()]);
    await new Promise((r) => setTimeout(r, 3000)); // let the watches catch up to the last acknowledged write
    await Promise.all(watchers.map((w) => w.stop()));
    const crashes: Record<string, number> = {};
    for (const p of all) if (p.unexpectedExits) crashes[p.name] = p.unexpectedExits;
    const leaks = node ? await realNodeLeaks(rest, node) : undefined;
    return {
      store: o.store ?? 'etcd',
      seed: o.seed,
      durationMs: o.durationMs,
      faults,
      ...(await historyFigures(rest, writer, watchers)),
      convergedAfterLastFaultMs: convergedAt === undefined ? undefined : Math.max(0, convergedAt - lastFaultEnd),
      crashes,
      ...latencyFigures(writer.samples, windows),
      jobs: { created: jobsCreated, complete: await jobsComplete(rest).catch(() => false) },
      leaks: leaks ? leakCount(leaks) : undefined,
      leaksDetail: leaks ? formatLeaks(leaks) : 'not checked: hollow nodes only (no containers, netns, mounts or cgroups are made); --real-agent checks them',
    };
  } finally {
    for (const c of clients) c.balancer?.close(); // their health checks end with the run
    await Promise.all(all.map((p) => p.stop()));
    await node?.removeNetwork();
    // A mount left under the dir (a leak, reported) keeps the dir: removing through it would reach the host's files.
    if (!readFileSync('/proc/self/mountinfo', 'utf8').includes(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The real node's leftovers after the cluster stops: its Deployment deleted and its pods gone (the agent tears them
 * down), then the agent stopped; what is still on the host is a leak.
 */
async function realNodeLeaks(rest: RestClient, node: RealNode): Promise<Leaks> {
  await rest.resource<Deployment>(DEPLOYMENTS).delete(NAMESPACE, 'on-real-node', { propagationPolicy: 'Foreground' });
  const pods = rest.resource<Pod>(PODS);
  await waitFor(async () => (await pods.list(NAMESPACE, { fieldSelector: `spec.nodeName=${REAL_NODE}` }).catch(() => undefined))?.items.length === 0, { timeoutMs: 90_000, intervalMs: 500, what: 'the real node\'s pods to be gone' }).catch(() => undefined);
  node.noteSandboxes();
  await node.agent!.stop();
  return node.leaks();
}

/** The history checker's figures: lost writes (against a final read) and watch anomalies. */
async function historyFigures(rest: RestClient, writer: Writer, watchers: Watcher[]): Promise<Pick<ChaosReport, 'acknowledged' | 'lost' | 'watchEvents' | 'watchAnomalies' | 'watchExpired'>> {
  const list = await rest.resource<ConfigMap>(CONFIGMAPS).list(NAMESPACE);
  const final = new Map<string, Observed>(list.items.map((c) => [c.metadata!.name!, { key: c.metadata!.name!, rv: BigInt(c.metadata!.resourceVersion!), value: Number(c.data?.n ?? 0) }]));
  return {
    acknowledged: writer.writes.length,
    lost: lostWrites(writer.writes, final).length,
    watchEvents: watchers.reduce((n, w) => n + w.segments.reduce((m, s) => m + s.events.length, 0), 0),
    watchAnomalies: watchers.flatMap((w) => w.segments.flatMap((s) => checkWatch(w.name, s.fromRv, s.events, writer.writes, writer.inFlight))),
    watchExpired: watchers.reduce((n, w) => n + w.expired, 0),
  };
}

/** Availability and p99 write latency: overall, outside API server kills, without faults, during faults and during API server pauses. */
function latencyFigures(samples: Sample[], windows: Window[]): Pick<ChaosReport, 'availability' | 'p99WriteMs'> {
  const killKinds = new Set(['kill-api-server', 'kill-controller-manager-leader', 'kill-scheduler-leader']);
  const kills = windows.filter((w) => killKinds.has(w.kind));
  const pauses = windows.filter((w) => w.kind === 'pause-api-server');
  const inPauses = samples.filter((s) => inside(s.startMs, pauses, 0));
  const okMs = (xs: Sample[]): number[] => xs.filter((s) => s.ok).map((s) => s.ms);
  return {
    availability: { all: share(samples), outsideKills: share(samples.filter((s) => !inside(s.startMs, kills, 0))), duringApiServerPauses: share(inPauses) },
    p99WriteMs: {
      withoutFaults: percentile(okMs(samples.filter((s) => !inside(s.startMs, windows, 5000))), 99),
      duringFaults: percentile(okMs(samples.filter((s) => inside(s.startMs, windows, 0))), 99),
      duringApiServerPauses: percentile(okMs(inPauses), 99),
    },
  };
}

/** The report as the issue lists its figures. */
export function formatReport(r: ChaosReport): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  return [
    `chaos run: store ${r.store}, seed ${r.seed}, ${Math.round(r.durationMs / 1000)} s of faults`,
    `faults injected: ${Object.entries(r.faults).map(([k, n]) => `${k}=${n}`).join(' ') || 'none'}`,
    `operations acknowledged: ${r.acknowledged}`,
    `writes lost: ${r.lost}`,
    `watch events checked: ${r.watchEvents}, watch anomalies: ${r.watchAnomalies.length}${r.watchAnomalies.length ? ` (${r.watchAnomalies.slice(0, 5).map((a) => `${a.watcher} ${a.kind} ${a.detail}`).join('; ')})` : ''}, watches expired (410, relisted): ${r.watchExpired}`,
    `time to converge after the last fault: ${r.convergedAfterLastFaultMs === undefined ? 'did not converge' : `${(r.convergedAfterLastFaultMs / 1000).toFixed(1)} s`}`,
    `processes crashed outside injected faults: ${Object.entries(r.crashes).map(([k, n]) => `${k}=${n}`).join(' ') || 0}`,
    `leaks: ${r.leaksDetail}`,
    `jobs: ${r.jobs.created} created, ${r.jobs.complete ? 'all complete' : 'NOT all complete'}`,
    `availability (writes answered without 5xx/timeout): ${pct(r.availability.all)} overall, ${pct(r.availability.outsideKills)} outside API server kills, ${pct(r.availability.duringApiServerPauses)} during API server pauses`,
    `p99 acknowledged write latency: ${r.p99WriteMs.withoutFaults} ms without faults, ${r.p99WriteMs.duringFaults} ms during faults, ${r.p99WriteMs.duringApiServerPauses} ms during API server pauses`,
  ].join('\n');
}
