// `npm run bench:storage-provisioning [-- --pods N --concurrency C --runs emptyDir,claim,emptyDir]`: issue 19's
// benchmark. One real node: `ketch up` from source (API server, controller manager and scheduler threads, agent, the
// runtime over runc in a child process; busybox from a local mirror), with --max-pods and the node's pod CIDR raised
// for N pods, and without the node's DNS server and service proxy (host-wide names an e2e cluster may hold). Each run
// creates N pods at a fixed concurrency (default 16 creates in flight) in a namespace of its own and times the first
// create to every pod Running (a watch on status.phase=Running):
//   emptyDir  each pod with an emptyDir volume (the baseline, same run);
//   claim     each pod with a PersistentVolumeClaim of the default class `local-path` (WaitForFirstConsumer, Delete),
//             the claim created just before its pod: the scheduler picks the node, the PV controller provisions and
//             binds, the agent bind-mounts the directory.
// Then every pod (and claim) is deleted, and the run waits until they are gone, every PV and volume directory is
// removed (Delete reclaim) and nothing is mounted under the data dir but what was before the runs. The default order
// runs the baseline again after the claims, to show the noise. CPU per pod of each thread of `ketch up`
// (<data-dir>/server/components.json: the controller manager thread runs the PV binder and provisioner, the scheduler
// thread the VolumeBinding plugin, the main thread the API server and the agent) and of the whole `ketch up` process
// tree (a cpuacct cgroup: runtime, monitors, runc, ip; less this process), while creating and while tearing down.
// Prints a markdown table (stdout). Exits non-zero on an error (a failed request, something left behind), not on a
// missed target (claim-backed pods at most 1.5x the emptyDir ones) nor on a run that timed out (printed as such).
// Everything is removed on exit, also on Ctrl-C: pods (ketch up's own Ctrl-C), mounts, bridge, netns, cgroups, claim
// records, the data dir. Needs root, runc, iproute2 and docker-registry.
import { existsSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLAIMS_DIR, pruneStaleClaims } from '../../agent/runtime/host-claims.js';
import { isNotFound, type PersistentVolume, type PersistentVolumeClaim, type Pod, type ServiceAccount } from '../../api/index.js';
import { loadClientConfig, NAMESPACES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, RestClient, SERVICEACCOUNTS } from '../../client/index.js';
import { rootLogger } from '../../lib/logger.js';
import { mountsUnder, UpCluster } from '../e2e/cluster.js';
import { cpuMeter, type CpuMeter } from './cpu.js';
import { componentsOf, cpuMs, type Component } from './proc.js';
import { table } from './raw-runc.js';
import { pool } from './server-process.js';
import { StageTrace, type StageFigures } from './stage-trace.js';

type Kind = 'emptyDir' | 'claim';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '16' },
    runs: { type: 'string', default: 'emptyDir,claim,emptyDir' },
    timeout: { type: 'string', default: '1800' },
  },
});
const N = Number(args.pods);
const CONCURRENCY = Number(args.concurrency);
const RUNS = args.runs.split(',').filter(Boolean) as Kind[];
/** Seconds a run waits for every pod Running (then it is reported incomplete), and for its teardown (then it fails). */
const TIMEOUT_S = Number(args.timeout);
if (!(N > 0) || !(CONCURRENCY > 0) || !(TIMEOUT_S > 0) || RUNS.some((k) => k !== 'emptyDir' && k !== 'claim')) {
  throw new Error('usage: storage-provisioning-bench [--pods N] [--concurrency C] [--runs emptyDir,claim,...] [--timeout SECONDS]');
}
/** The pod network of this bench (distinct from the e2e tests', which may run meanwhile). */
const CLUSTER_CIDR = '10.86.0.0/16';
const TARGET_RATIO = 1.5;
/** The threads of components.json, as the table names them. */
const THREADS: Record<string, string> = { 'controller-manager': 'controller manager', scheduler: 'scheduler', apiserver: 'main thread (API server, agent)' };

const say = (s: string): boolean => process.stderr.write(s + '\n');
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const secs = (ms: number): string => (ms / 1000).toFixed(1);

/** Ctrl-C (or SIGTERM): every wait stops and the clean-up runs. */
const interrupted = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted.signal.aborted) return; // already cleaning up
    say(`${sig}: stopping and cleaning up`);
    interrupted.abort(new Error(`interrupted (${sig})`));
  });
}

/** Polls check every `intervalMs` until it holds; throws after timeoutMs or when interrupted. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    interrupted.signal.throwIfAborted();
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${secs(timeoutMs)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

interface CpuSample {
  /** CPU ms of each component thread. */
  threads: number[];
  /** CPU ms of the `ketch up` process tree (cgroup), NaN without one. */
  tree: number;
}

interface RunResult {
  kind: Kind;
  running: number;
  complete: boolean;
  /** First create to the last pod Running (or to the timeout). */
  ms: number;
  teardownMs: number;
  /** CPU ms per pod by thread name (and 'tree'), while creating and while tearing down. */
  upCpu: Record<string, number>;
  downCpu: Record<string, number>;
  loadStart: string;
  loadEnd: string;
  /** Where the pods' time went (stage-trace.ts). */
  stages: StageFigures[];
}

class Bench {
  private readonly pods;
  private readonly claims;
  private readonly volumes;
  private readonly storageDir: string;
  /** Mounts under the data dir with no pod running (the baseline every teardown must return to). */
  private idleMounts = new Set<string>();

  constructor(
    private readonly cluster: UpCluster,
    private readonly rest: RestClient,
    private readonly comps: Component[],
    private readonly meter: CpuMeter | undefined,
  ) {
    this.pods = rest.resource<Pod>(PODS);
    this.claims = rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.volumes = rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    this.storageDir = join(cluster.dir, 'storage');
  }

  private async cpu(): Promise<CpuSample> {
    const own = process.cpuUsage();
    return {
      threads: this.comps.map((c) => cpuMs(c.pid, c.tid)),
      tree: this.meter ? (await this.meter.ms()) - (own.user + own.system) / 1000 : NaN,
    };
  }

  private perPod(a: CpuSample, b: CpuSample, n: number): Record<string, number> {
    const out: Record<string, number> = { tree: (b.tree - a.tree) / n };
    this.comps.forEach((c, i) => (out[c.name] = (b.threads[i]! - a.threads[i]!) / n));
    return out;
  }

  private pod(name: string, kind: Kind): Pod {
    const volume = kind === 'claim' ? { name: 'data', persistentVolumeClaim: { claimName: name } } : { name: 'data', emptyDir: {} };
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { bench: kind } },
      spec: {
        terminationGracePeriodSeconds: 0,
        volumes: [volume],
        containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '86400'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      },
    } as Pod;
  }

  private claim(name: string): PersistentVolumeClaim {
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Mi' } } },
    } as PersistentVolumeClaim;
  }

  /** A namespace whose default ServiceAccount exists (pods are refused before). */
  private async namespace(ns: string): Promise<void> {
    await this.rest.resource(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await until(() => this.rest.resource<ServiceAccount>(SERVICEACCOUNTS).get(ns, 'default').then(() => true, () => false), `the default ServiceAccount of ${ns}`, 60_000);
  }

  /** Pods of ns first seen Running, by name, with the time each was first seen. */
  private watchRunning(ns: string, resourceVersion: string): { running: Map<string, number>; stop(): void } {
    const running = new Map<string, number>();
    const ac = new AbortController();
    void (async () => {
      for await (const ev of this.pods.watch(ns, { fieldSelector: 'status.phase=Running', resourceVersion, signal: ac.signal })) {
        if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') continue;
        const name = ev.object.metadata.name ?? '';
        if (!running.has(name)) running.set(name, performance.now());
      }
    })().catch((err: unknown) => {
      if (!ac.signal.aborted) say(`  the watch of Running pods in ${ns} failed: ${String(err)}`);
    });
    return { running, stop: () => ac.abort() };
  }

  /** Warm-up (not timed): a pod of each kind, so that the image, the class's directory and the code paths are hot. */
  async warmUp(): Promise<void> {
    await this.namespace('warmup');
    const rv = (await this.pods.list('warmup')).metadata.resourceVersion ?? '0';
    const w = this.watchRunning('warmup', rv);
    try {
      await this.claims.create('warmup', this.claim('warm-claim'));
      await this.pods.create('warmup', this.pod('warm-claim', 'claim'));
      await this.pods.create('warmup', this.pod('warm-empty', 'emptyDir'));
      await until(() => w.running.size >= 2, 'the warm-up pods Running', 180_000);
    } finally {
      w.stop();
    }
    this.idleMounts = new Set(); // nothing was mounted before the first pod
    await this.teardown('warmup', ['warm-claim', 'warm-empty'], ['warm-claim']);
    this.idleMounts = new Set(mountsUnder(this.cluster.dir));
    if (this.idleMounts.size) say(`  mounted under the data dir with no pod: ${[...this.idleMounts].join('; ')}`);
  }

  async run(kind: Kind, index: number): Promise<RunResult> {
    const ns = `bench-${index}-${kind.toLowerCase()}`;
    await this.namespace(ns);
    const names = Array.from({ length: N }, (_, i) => `p-${i}`);
    const rv = (await this.pods.list(ns)).metadata.resourceVersion ?? '0';
    const w = this.watchRunning(ns, rv);
    const trace = new StageTrace((what, err) => say(`  the trace's watch of ${what} failed: ${String(err)}`));
    trace.watch(
      ns,
      { client: this.pods, rv },
      kind === 'claim' ? { client: this.claims, rv: (await this.claims.list(ns)).metadata.resourceVersion ?? '0' } : undefined,
      kind === 'claim' ? { client: this.volumes, rv: (await this.volumes.list(undefined)).metadata.resourceVersion ?? '0' } : undefined,
    );
    const loadStart = load();
    const cpu0 = await this.cpu();
    const t0 = performance.now();
    let complete = false;
    try {
      await pool(N, CONCURRENCY, async (i) => {
        interrupted.signal.throwIfAborted();
        if (kind === 'claim') {
          await this.claims.create(ns, this.claim(names[i]!));
          trace.mark(names[i]!, 'claim created');
        }
        await this.pods.create(ns, this.pod(names[i]!, kind));
        trace.mark(names[i]!, 'pod created');
      });
      say(`  ${N} ${kind} pods created in ${secs(performance.now() - t0)} s (load ${load()})`);
      let lastPrint = performance.now();
      await until(
        async () => {
          if (performance.now() - lastPrint >= 10_000) {
            lastPrint = performance.now();
            say(`  ${secs(lastPrint - t0).padStart(6)} s: ${await this.progress(ns, kind)}Running ${w.running.size}/${N} (load ${load()})`);
          }
          return w.running.size >= N;
        },
        `${N} pods Running`,
        TIMEOUT_S * 1000,
      );
      complete = true;
    } catch (err) {
      if (interrupted.signal.aborted || !/^timed out/.test((err as Error).message)) throw err;
      say(`  ${(err as Error).message}: ${w.running.size}/${N} Running (reported as incomplete)`);
    } finally {
      w.stop();
      trace.stop();
    }
    const stages = trace.figures(t0);
    for (const f of stages) say(`    ${f.stage.padEnd(14)} ${f.reached}/${N}, last at ${secs(f.lastMs)} s; wait from the stage before p50 ${secs(f.p50)} s, p90 ${secs(f.p90)} s, max ${secs(f.max)} s`);
    const ms = (complete ? Math.max(...w.running.values()) : performance.now()) - t0;
    const cpu1 = await this.cpu();
    const loadEnd = load();
    const running = w.running.size;
    say(`  ${running}/${N} Running after ${secs(ms)} s; tearing down`);
    const t1 = performance.now();
    await this.teardown(ns, names, kind === 'claim' ? names : []);
    const teardownMs = performance.now() - t1;
    const cpu2 = await this.cpu();
    say(`  torn down in ${secs(teardownMs)} s (load ${load()})`);
    return { kind, running, complete, ms, teardownMs, upCpu: this.perPod(cpu0, cpu1, N), downCpu: this.perPod(cpu1, cpu2, N), loadStart, loadEnd, stages };
  }

  /** Where the pipeline is: pods scheduled and (for claims) claims Bound, so that a slow stage shows. */
  private async progress(ns: string, kind: Kind): Promise<string> {
    const scheduled = (await this.pods.list(ns)).items.filter((p) => p.spec.nodeName).length;
    const bound = kind === 'claim' ? (await this.claims.list(ns)).items.filter((c) => c.status?.phase === 'Bound').length : undefined;
    return `scheduled ${scheduled}, ${bound === undefined ? '' : `claims Bound ${bound}, `}`;
  }

  /** Deletes the pods and claims, and waits until they, their PVs and volume directories are gone and nothing is left mounted. */
  private async teardown(ns: string, pods: string[], claims: string[]): Promise<void> {
    const gone = (err: unknown): void => {
      if (!isNotFound(err)) throw err;
    };
    await pool(pods.length, CONCURRENCY, (i) => this.pods.delete(ns, pods[i]!, { gracePeriodSeconds: 0 }).then(() => undefined, gone));
    await pool(claims.length, CONCURRENCY, (i) => this.claims.delete(ns, claims[i]!).then(() => undefined, gone));
    const timeoutMs = TIMEOUT_S * 1000;
    await until(async () => (await this.pods.list(ns)).items.length === 0, `the pods of ${ns} gone`, timeoutMs, 500);
    await until(async () => (await this.claims.list(ns)).items.length === 0, `the claims of ${ns} gone`, timeoutMs, 500);
    await until(async () => (await this.volumes.list(undefined)).items.length === 0, 'every PV removed (Delete reclaim)', timeoutMs, 500);
    await until(() => !existsSync(this.storageDir) || readdirSync(this.storageDir).length === 0, `every volume directory under ${this.storageDir} removed`, timeoutMs, 500);
    await until(() => mountsUnder(this.cluster.dir).every((m) => this.idleMounts.has(m)), 'no pod mount left under the data dir', timeoutMs, 500);
  }
}

/** What a stopped cluster left on the host: mounts, sandboxes, netns, veths, the sandboxes' cgroups. */
function leftoversOf(cluster: UpCluster): string[] {
  const l = cluster.leftovers();
  const cgroups = cluster.sandboxIds.flatMap((id) => ['memory', 'pids', 'cpu', 'unified'].map((c) => join('/sys/fs/cgroup', c, 'ketch', id.slice(0, 12))).filter((d) => existsSync(d)));
  return [...l.mounts.map((m) => `mount ${m}`), ...l.sandboxes.map((s) => `sandbox ${s}`), ...l.netns.map((n) => `netns ${n}`), ...l.veths.map((v) => `veth ${v}`), ...cgroups.map((c) => `cgroup ${c}`)];
}

/** Stops `ketch up` (its Ctrl-C removes every pod), then the mirror, bridge, data dir and bridge claim; throws on leftovers. */
async function cleanUp(cluster: UpCluster): Promise<void> {
  const problems: string[] = [];
  await cluster.stop().catch((err: unknown) => problems.push(`ketch up: ${String(err)}`));
  problems.push(...leftoversOf(cluster));
  await cluster.dispose();
  await pruneStaleClaims();
  if (existsSync(cluster.dir)) problems.push(`data dir ${cluster.dir} (mounts left)`);
  if (existsSync(join(CLAIMS_DIR, `${cluster.bridge}.json`))) problems.push(`bridge claim ${cluster.bridge}`);
  if (existsSync(join('/sys/class/net', cluster.bridge))) problems.push(`bridge ${cluster.bridge}`);
  if (problems.length) throw new Error(`left on the host after the benchmark:\n  ${problems.join('\n  ')}`);
}

function report(results: RunResult[], comps: Component[]): void {
  const base = results.filter((r) => r.kind === 'emptyDir' && r.complete);
  const baseMs = base.length ? base.reduce((s, r) => s + r.ms, 0) / base.length : NaN;
  const baseCpu = (name: string, up: boolean): number => (base.length ? base.reduce((s, r) => s + (up ? r.upCpu : r.downCpu)[name]!, 0) / base.length : NaN);
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const names = [...comps.map((c) => c.name), 'tree'];
  const label = (n: string): string => (n === 'tree' ? 'ketch up process tree' : (THREADS[n] ?? n));
  const rows = [
    ['run', 'volume', 'pods Running', 'first create → all Running, s', 'pods/s', 'x emptyDir (mean)', ...names.map((n) => `${label(n)} CPU ms/pod, up / down`), 'teardown s', 'load avg start', 'load avg end'],
    ['---', '---', '---:', '---:', '---:', '---:', ...names.map(() => '---:'), '---:', '---', '---'],
    ...results.map((r, i) => [
      String(i + 1),
      r.kind === 'claim' ? 'PVC (local-path)' : 'emptyDir',
      `${r.running}/${N}${r.complete ? '' : ' (timed out)'}`,
      secs(r.ms),
      f(r.running / (r.ms / 1000)),
      f(r.ms / baseMs, 2),
      ...names.map((n) => `${f(r.upCpu[n]!)} / ${f(r.downCpu[n]!)}`),
      secs(r.teardownMs),
      r.loadStart,
      r.loadEnd,
    ]),
  ];
  process.stdout.write(`\nstorage provisioning: ${N} pods on one node, ${CONCURRENCY} creates in flight; CPU per pod while creating (up) and tearing down (down)\n\n${table(rows)}\n\n`);
  const stageRows = [
    ['run', 'stage', 'reached', 'last reached at, s', 'wait from the stage before p50 / p90 / max, s'],
    ['---', '---', '---:', '---:', '---:'],
    ...results.flatMap((r, i) => r.stages.map((s) => [String(i + 1), s.stage, `${s.reached}/${N}`, secs(s.lastMs), `${secs(s.p50)} / ${secs(s.p90)} / ${secs(s.max)}`])),
  ];
  process.stdout.write(`where the time went (first seen by the bench's watches, from the first create):\n\n${table(stageRows)}\n\n`);
  for (const r of results.filter((x) => x.kind === 'claim')) {
    const ratio = r.ms / baseMs;
    const verdict = !r.complete ? 'incomplete' : ratio <= TARGET_RATIO ? 'target met' : 'TARGET MISSED';
    process.stdout.write(`claim-backed pods / emptyDir pods (time to all Running): ${f(ratio, 2)}x (target <= ${TARGET_RATIO}x: ${verdict})\n`);
    const cm = (up: boolean): number => (up ? r.upCpu : r.downCpu)['controller-manager']! - baseCpu('controller-manager', up);
    const sched = r.upCpu.scheduler! - baseCpu('scheduler', true);
    process.stdout.write(
      `provisioner + binder (controller manager thread, claim run less emptyDir runs): ${f(cm(true), 2)} ms CPU per claim to provision and bind, ${f(cm(false), 2)} ms to delete; scheduler's VolumeBinding share: ${f(sched, 2)} ms per claim\n`,
    );
  }
  for (const { stages: _stages, ...r } of results) process.stdout.write(JSON.stringify({ pods: N, concurrency: CONCURRENCY, ...r, ms: Math.round(r.ms), teardownMs: Math.round(r.teardownMs) }) + '\n');
}

async function main(): Promise<void> {
  rootLogger.level = process.env.KETCH_LOG_LEVEL ?? 'warn';
  if (process.getuid?.() !== 0) throw new Error('the storage provisioning benchmark runs containers and bind mounts and must run as root');
  say(`storage provisioning benchmark: ${N} pods, concurrency ${CONCURRENCY}, runs ${RUNS.join(', ')}; load ${load()}`);
  // Before the cluster starts, so that the cgroup holds every process it starts.
  const meter = await cpuMeter();
  const bits = Math.max(8, Math.ceil(Math.log2(N + 16)));
  // No cluster DNS server and no service proxy: they take host-wide names (192.0.2.2:53, the ketch-proxy nftables
  // table) that an e2e cluster may hold meanwhile (those run under another lock), and these pods use neither.
  const upArgs = ['--max-pods', String(N + 10), '--node-cidr-mask-size', String(32 - bits), '--shutdown-grace-period', '0s', '--cluster-dns-port', '0', '--no-service-proxy'];
  const cluster = await UpCluster.create({ clusterCidr: CLUSTER_CIDR, args: upArgs });
  const results: RunResult[] = [];
  let comps: Component[] = [];
  try {
    const t = performance.now();
    await cluster.start();
    say(`  ketch up Ready in ${secs(performance.now() - t)} s (data dir ${cluster.dir})`);
    const rest = new RestClient(loadClientConfig({ kubeconfig: cluster.kubeconfig }), 'storage-provisioning-bench');
    const serverDir = join(cluster.dir, 'server');
    comps = componentsOf(serverDir, 0);
    if (!comps[0]?.pid) throw new Error(`no components.json in ${serverDir}: cannot tell the threads apart`);
    const bench = new Bench(cluster, rest, comps, meter);
    await bench.warmUp();
    for (const [i, kind] of RUNS.entries()) {
      say(`run ${i + 1}/${RUNS.length}: ${N} pods with ${kind === 'claim' ? 'a local-path claim' : 'an emptyDir'} each (load ${load()})`);
      results.push(await bench.run(kind, i + 1));
    }
  } finally {
    say(`cleaning up (load ${load()})`);
    try {
      await cleanUp(cluster);
    } finally {
      await meter?.close();
      // What was measured is printed even when a later run or the clean-up failed.
      if (results.length) report(results, comps);
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(interrupted.signal.aborted ? 130 : 1);
  },
);
