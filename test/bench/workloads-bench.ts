// `npm run bench:workloads`: the Job, DaemonSet and CronJob controllers of the controller manager that `ketch server`
// hosts (API server, embedded store on disk and controllers in one child process; no scheduler), on hollow nodes
// (agent/hollow.ts marks bound pods Running and Ready). This process plays the rest of the cluster: a simulated binder
// puts each new pod on the node its DaemonSet affinity names, or on a hollow node round-robin, and a simulated kubelet
// marks a Job's pod Succeeded (exit code 0) once it runs, so that the times measure the controllers and not scheduling.
//   1. An Indexed Job of BENCH_COMPLETIONS (5000) completions with parallelism BENCH_PARALLELISM (500): time to its
//      Complete condition, and completions/s against raw POSTs of the same pod bodies at the Job controller's write
//      concurrency, and against raw pods taken through a Job pod's whole life (created with the tracking finalizer,
//      bound, Running, Succeeded, finalizer removed; as many at once as the parallelism), which is what the Job
//      controller has to get done with no cost of its own; both measured in the same run (half before all phases,
//      half after, so that drift hits both alike). Before it, the Job controller's own pod creation throughput (kube's
//      "pods/s against raw creates"): BENCH_JOB_BURSTS Indexed Jobs of BENCH_PARALLELISM completions, all at once, in
//      the namespace nothing binds, each timed from its create response (the controller has work from then) to the
//      arrival of its last pod's add event on the bench's watch (local receive times, not a poll), each between two runs of as many raw POSTs of
//      the very pods it posts (index, hostname, env, finalizer; owned by a ConfigMap) at its write concurrency, timed
//      from the first POST to the last pod's add event the same way; a warm-up Job first (the API server's first Job,
//      the controller's connections). The Indexed Job's time to Complete is a pod's whole life per completion (5
//      writes, 4 of them not the controller's), so it is compared with the raw life cycle as well.
//   2. A DaemonSet across BENCH_NODES (1000) hollow nodes: created until every pod is Ready, then an image change rolled
//      out (RollingUpdate, maxUnavailable BENCH_DS_MAX_UNAVAILABLE, default 10%) until `kubectl rollout status` would
//      return. Target: rollout under 30 s.
//   3. BENCH_CRONJOBS (1000) CronJobs due in the same minute (the server's real clock: the next whole minute that
//      leaves time to create them): the job creation skew (kube's cronjob_controller_job_creation_skew_duration_seconds:
//      the schedule time to the Job's creation) of each, as its add event reaches the bench, with the controller's own
//      histogram's mean; and how late each Job started (status.active written by the Job controller); against raw POSTs
//      of as many Jobs at the CronJob controller's workers. Target: all within 5 s.
//   BENCH_JOB_BURSTS (3): the Job controller's creates are timed over this many Jobs of BENCH_PARALLELISM pods, each
//      between two raw runs (raw, Job, raw, ..., raw), the rates summed over all of them.
//   BENCH_PHASES=job,daemonset,cronjob (default all): the phases to run, and only the baselines they are compared with.
//   BENCH_PROFILE=DIR (CPU profiles of the server process's threads into DIR).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHollowNodes } from '../../agent/hollow.js';
import { isConflict, isNotFound, nowRFC3339 } from '../../api/index.js';
import { Informer, loadClientConfig, RestClient, type ResourceClient } from '../../client/index.js';
import { targetNodeName } from '../../controllers/daemonset/util.js';
import { CREATION_SKEW_METRIC, DEFAULT_CRONJOB_WORKERS } from '../../controllers/cronjob/cronjob-controller.js';
import { podFromTemplate } from '../../controllers/framework/pods.js';
import { DAEMONSETS, NAMESPACES, NODES as NODE_RESOURCE, PODS, refFor, type DaemonSet, type Node, type OwnerReference, type Pod, type PodTemplateSpec } from '../../controllers/framework/types.js';
import { jobPodTemplate, newJobPod, WRITE_CONCURRENCY } from '../../controllers/job/job-pods.js';
import { JOB_TRACKING_FINALIZER, REMOVE_FINALIZER_PATCH } from '../../controllers/job/util.js';
import { CRONJOBS, JOBS, type CronJob, type Job } from '../../controllers/job/types.js';
import { limiter } from '../../lib/limit.js';
import { componentsOf, cpuMs } from './proc.js';
import { pool, startServer, until } from './server-process.js';

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const COMPLETIONS = Number(process.env.BENCH_COMPLETIONS ?? 5000);
const PARALLELISM = Number(process.env.BENCH_PARALLELISM ?? 500);
/** The Job controller's pod creates are timed over this many Jobs, each between two raw runs. */
const JOB_BURSTS = Number(process.env.BENCH_JOB_BURSTS ?? 3);
const CRONJOB_COUNT = Number(process.env.BENCH_CRONJOBS ?? 1000);
const DS_MAX_UNAVAILABLE = process.env.BENCH_DS_MAX_UNAVAILABLE ?? '10%';
const PROFILE = process.env.BENCH_PROFILE;
const PHASES = new Set((process.env.BENCH_PHASES ?? 'job,daemonset,cronjob').split(',').map((x) => x.trim()));
for (const p of PHASES) if (!['job', 'daemonset', 'cronjob'].includes(p)) throw new Error(`BENCH_PHASES: unknown phase ${p} (job, daemonset, cronjob)`);
/** The raw Job POSTs' concurrency: the CronJob controller's workers (--concurrent-cron-job-syncs default). */
const CRON_WORKERS = DEFAULT_CRONJOB_WORKERS;
const JOB_NS = 'jobs';
const DS_NS = 'daemons';
const CRON_NS = 'crons';
/** Raw pod POSTs and raw Job POSTs: nothing acts on them (the pods stay unbound, the Jobs suspended). */
const BASE_NS = 'baseline';
/** Raw pods that go through a Job pod's whole life: bound, Running, Succeeded, tracking finalizer removed. */
const LIFE_NS = 'baseline-lifecycle';
const CONFIGMAPS = refFor('v1', 'ConfigMap');

const say = (s: string): boolean => process.stderr.write(s + '\n');
const secs = (ms: number): string => (ms / 1000).toFixed(1);
const template = (labels: Record<string, string>, image: string): PodTemplateSpec => ({
  metadata: { labels },
  spec: { restartPolicy: 'Never', containers: [{ name: 'c', image, resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
});

/** The status a kubelet writes when a pod's only container exited 0. */
function succeeded(pod: Pod): NonNullable<Pod['status']> {
  const now = nowRFC3339(new Date());
  return {
    ...(pod.status ?? {}),
    phase: 'Succeeded',
    conditions: (pod.status?.conditions ?? []).map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False' as const, reason: 'PodCompleted', lastTransitionTime: now } : c)),
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
      lastState: {},
      ready: false,
      started: false,
      restartCount: 0,
      image: c.image,
      imageID: `fake://${c.image}`,
      containerID: `fake://${pod.metadata.uid ?? ''}-${c.name}`,
    })),
  };
}

/**
 * The simulated binder and kubelet: binds every new pod outside BASE_NS (to the node a daemon pod's affinity names,
 * else round-robin), and marks the Job phase's pods Succeeded once the hollow node runs them.
 */
class Cluster {
  readonly informer: Informer<Pod>;
  private next = 0;
  private readonly write = limiter(32);
  private readonly finishing = new Set<string>();
  /** Called once for each pod of LIFE_NS that has Succeeded. */
  onLifecycleDone: (p: Pod) => void = () => undefined;
  /** Called for each pod added to the cache, as its watch event arrives. */
  onPodAdded: (p: Pod) => void = () => undefined;
  private readonly lifecycleDone = new Set<string>();

  constructor(
    private readonly rest: RestClient,
    private readonly pods: ResourceClient<Pod>,
    private readonly nodes: string[],
    /** The server's data directory (components.json: its threads). */
    readonly dataDir: string,
  ) {
    this.informer = new Informer<Pod>(pods, {});
    this.informer.addEventHandler({
      onAdd: (p) => {
        this.onPodAdded(p);
        this.handle(p);
      },
      onUpdate: (_o, p) => this.handle(p),
    });
  }

  private handle(p: Pod): void {
    const ns = p.metadata.namespace ?? '';
    if (ns === BASE_NS || p.metadata.deletionTimestamp) return;
    const name = p.metadata.name ?? '';
    const uid = p.metadata.uid ?? '';
    if (!p.spec.nodeName) {
      const node = targetNodeName(p) ?? this.nodes[this.next++ % this.nodes.length]!;
      const body = { apiVersion: 'v1', kind: 'Binding', metadata: { name, uid }, target: { kind: 'Node', name: node } };
      void this.write(() => this.rest.request('POST', this.pods.path(ns, name, 'binding'), { body })).catch((err: unknown) => {
        if (!isConflict(err) && !isNotFound(err)) say(`  bind ${name} failed: ${String(err)}`);
      });
      return;
    }
    if (ns === LIFE_NS && p.status?.phase === 'Succeeded' && !this.lifecycleDone.has(uid)) {
      this.lifecycleDone.add(uid);
      this.onLifecycleDone(p);
    }
    if ((ns !== JOB_NS && ns !== LIFE_NS) || p.status?.phase !== 'Running' || this.finishing.has(uid)) return;
    this.finishing.add(uid);
    void this.write(() => this.pods.updateStatus({ ...p, status: succeeded(p) })).catch((err: unknown) => {
      this.finishing.delete(uid);
      if (!isConflict(err) && !isNotFound(err)) say(`  finishing ${name} failed: ${String(err)}`);
      // A conflict: retry from the newest copy, whose update event may already have come while this write was out.
      const fresh = this.informer.indexer.get(`${ns}/${name}`);
      if (isConflict(err) && fresh?.metadata.uid === uid) this.handle(fresh);
    });
  }
}

/**
 * What a Job controller that cost nothing would leave to do: n pods created at its write concurrency, at most
 * `parallel` unfinished at once, each bound, run, Succeeded and its tracking finalizer removed. Returns ms.
 */
async function rawLifecycle(cluster: Cluster, pods: ResourceClient<Pod>, body: Pod, n: number, parallel: number): Promise<number> {
  const waiting = new Map<string, () => void>();
  const finished = new Set<string>();
  const write = limiter(WRITE_CONCURRENCY);
  cluster.onLifecycleDone = (p) => {
    const uid = p.metadata.uid ?? '';
    void write(() => pods.patch(LIFE_NS, p.metadata.name ?? '', REMOVE_FINALIZER_PATCH, 'strategic')).then(
      () => (waiting.get(uid) ?? ((): void => void finished.add(uid)))(),
      (err: unknown) => say(`  lifecycle finalizer removal failed: ${String(err)}`),
    );
  };
  const t = performance.now();
  await pool(n, parallel, async () => {
    const p = await write(() => pods.create(LIFE_NS, body));
    const uid = p.metadata.uid ?? '';
    if (!finished.has(uid)) await new Promise<void>((r) => waiting.set(uid, r));
  });
  return performance.now() - t;
}

/** apiserver_request_total by verb, resource and subresource ("PUT jobs/status"; failures apart: "PUT jobs/status 409"). */
async function requestCounts(rest: RestClient): Promise<Map<string, number>> {
  const text = await rest.request<string>('GET', '/metrics', { accept: 'text/plain' });
  const out = new Map<string, number>();
  for (const line of String(text).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const label = (name: string): string => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
    const sub = label('subresource');
    const code = label('code');
    const key = `${label('verb')} ${label('resource')}${sub ? `/${sub}` : ''}${code.startsWith('2') ? '' : ` ${code}`}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** A histogram of the server's /metrics (the hosted controller manager's are appended): count, sum, and cumulative buckets. */
async function histogram(rest: RestClient, name: string): Promise<{ count: number; sum: number; buckets: Array<[number, number]> }> {
  const text = String(await rest.request<string>('GET', '/metrics', { accept: 'text/plain' }));
  const out = { count: 0, sum: 0, buckets: [] as Array<[number, number]> };
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith(`${name}_count`)) out.count = value;
    else if (line.startsWith(`${name}_sum`)) out.sum = value;
    else if (line.startsWith(`${name}_bucket{`)) out.buckets.push([Number(/le="([^"]+)"/.exec(line)?.[1] ?? NaN), value]);
  }
  return out;
}

/** The API requests made between two counts, per unit (a completion, a CronJob), most frequent first. */
function requestsPer(before: Map<string, number>, after: Map<string, number>, units: number): string {
  return [...after]
    .map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / units] as const)
    .filter(([k, v]) => v >= 0.05 && !k.startsWith('WATCH') && !k.includes('leases'))
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}

const isComplete = (j: Job | undefined): boolean => j?.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ?? false;

/** A create window: from `t0` (the work exists) to the first and the n-th of its pods seen on the bench's watch. */
interface CreateWindow {
  n: number;
  /** ms from t0 to the first pod's and the n-th pod's watch event. */
  firstMs: number;
  lastMs: number;
  /** The POST that started the work (the Job's create), ms; 0 for raw POSTs. */
  postMs: number;
  /** CPU ms per pod over the window: each thread of the server (API server, controller manager) and this process. */
  cpu: string;
}
const windowRate = (w: CreateWindow): number => w.n / (w.lastMs / 1000);
/** The pods/s of windows taken together: all their pods over all their time. */
const windowsRate = (ws: readonly CreateWindow[]): number => ws.reduce((a, w) => a + w.n, 0) / (ws.reduce((a, w) => a + w.lastMs, 0) / 1000);

/**
 * Runs `work` (which resolves with its t0: performance.now() from when the pods may be created, and the POST that
 * made them due) and times its n pods' arrivals on the bench's pod watch, each at its event's local receive time.
 */
async function createWindow(cluster: Cluster, n: number, app: string, work: () => Promise<{ t0: number; postMs: number }>): Promise<CreateWindow> {
  const threads = componentsOf(cluster.dataDir, 0).filter((c) => c.pid > 0);
  const cpu0 = threads.map((c) => cpuMs(c.pid, c.tid));
  const self0 = process.cpuUsage();
  const seen: number[] = [];
  let all: () => void = () => undefined;
  const arrived = new Promise<void>((r) => (all = r));
  cluster.onPodAdded = (p) => {
    if (p.metadata.namespace !== BASE_NS || p.metadata.labels?.app !== app || seen.length >= n) return;
    seen.push(performance.now());
    if (seen.length === n) all();
  };
  try {
    const { t0, postMs } = await work();
    await Promise.race([arrived, until(() => seen.length >= n, `${n} pods to be created`)]);
    const self = process.cpuUsage(self0);
    const per = (ms: number): string => (ms / n).toFixed(2);
    const cpu = [...threads.map((c, i) => `${c.name} ${per(cpuMs(c.pid, c.tid) - cpu0[i]!)}`), `bench ${per((self.user + self.system) / 1000)}`].join(', ');
    return { n, firstMs: seen[0]! - t0, lastMs: seen[n - 1]! - t0, postMs, cpu };
  } finally {
    cluster.onPodAdded = () => undefined;
  }
}

/**
 * 1a. The Job controller's pod creates alone (kube's "pods/s against raw creates"): JOB_BURSTS Jobs, each between two
 * raw runs of as many pod POSTs at its write concurrency: each timed from when its pods may be created (the Job's create response; the
 * first raw POST) to its n-th pod's watch event at the bench. The Job's pods stay unbound (BASE_NS: nothing binds).
 */
async function runJobCreates(cluster: Cluster, jobs: ResourceClient<Job>, basePods: ResourceClient<Pod>, owner: OwnerReference, count: number): Promise<{ jobs: CreateWindow[]; raw: CreateWindow[] }> {
  const indexedJob = (name: string, n: number): Job => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: BASE_NS },
    spec: { completionMode: 'Indexed', completions: n, parallelism: n, template: template({ app: name }, 'busybox:1') },
  });
  // Warm-up: the API server's first Job (its schema compiled), and the controller's connections, as the raw client's are.
  await createWindow(cluster, WRITE_CONCURRENCY * 2, 'warmup', async () => {
    await jobs.create(BASE_NS, indexedJob('warmup', WRITE_CONCURRENCY * 2));
    return { t0: performance.now(), postMs: 0 };
  });
  const raw = (app: string): Promise<CreateWindow> => {
    // The very pods the Job controller posts for an Indexed Job (index, hostname, env, finalizer), owned by a ConfigMap.
    const job = indexedJob(app, count);
    const podTemplate = jobPodTemplate(job);
    const bodies = Array.from({ length: count }, (_v, ix) => {
      const pod = newJobPod(podTemplate, job, ix);
      pod.metadata.ownerReferences = [owner];
      return pod;
    });
    return createWindow(cluster, count, app, async () => {
      const t0 = performance.now();
      await pool(count, WRITE_CONCURRENCY, (ix) => basePods.create(BASE_NS, bodies[ix]!));
      return { t0, postMs: 0 };
    });
  };
  // JOB_BURSTS Jobs, each between two raw runs (raw, Job, raw, Job, ..., raw): a window is half a second, so one of
  // each is at the mercy of whatever else the machine does in that half second.
  const raws = [await raw('raw-0')];
  const jobWindows: CreateWindow[] = [];
  const counts = await requestCounts(jobs.rest);
  for (let k = 1; k <= JOB_BURSTS; k++) {
    jobWindows.push(
      await createWindow(cluster, count, `creates-${k}`, async () => {
        const t = performance.now();
        await jobs.create(BASE_NS, indexedJob(`creates-${k}`, count));
        const t0 = performance.now();
        return { t0, postMs: t0 - t };
      }),
    );
    if (k === 1) say(`  Job controller creates: API requests per pod while they ran (all clients, failures by code): ${requestsPer(counts, await requestCounts(jobs.rest), count)}`);
    raws.push(await raw(`raw-${k}`));
  }
  const show = (w: CreateWindow): string => `${count} pods in ${w.lastMs.toFixed(0)} ms (${windowRate(w).toFixed(0)}/s; first after ${w.firstMs.toFixed(0)} ms; CPU ms per pod: ${w.cpu})`;
  jobWindows.forEach((job, i) => {
    say(`  Job controller creates, burst ${i + 1}: ${show(job)} from the Job's create response (its POST took ${job.postMs.toFixed(0)} ms)`);
    say(`    raw pod POSTs (c=${WRITE_CONCURRENCY}) before and after it: ${show(raws[i]!)}; ${show(raws[i + 1]!)}; ratio ${(windowRate(job) / windowsRate([raws[i]!, raws[i + 1]!])).toFixed(2)}`);
  });
  return { jobs: jobWindows, raw: raws };
}

/** 1b. The Indexed Job: seconds from its create to its Complete condition. */
async function runJob(rest: RestClient, jobs: ResourceClient<Job>, informer: Informer<Job>): Promise<number> {
  const counts = await requestCounts(rest);
  const t0 = performance.now();
  await jobs.create(JOB_NS, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'indexed' },
    spec: { completionMode: 'Indexed', completions: COMPLETIONS, parallelism: PARALLELISM, backoffLimit: 6, template: template({ app: 'indexed' }, 'busybox:1') },
  });
  // Every 2 s, the Job's status as its controller last wrote it: waves, and stalls between them.
  const timeline: string[] = [];
  const sample = setInterval(() => {
    const st = informer.indexer.get(`${JOB_NS}/indexed`)?.status;
    timeline.push(`${secs(performance.now() - t0)}:${st?.succeeded ?? 0}/${st?.active ?? 0}`);
  }, 2000);
  let done: number;
  try {
    done = await until(() => isComplete(informer.indexer.get(`${JOB_NS}/indexed`)), 'the Job to complete');
  } finally {
    clearInterval(sample);
  }
  say(`  Indexed Job: status over time (s:succeeded/active): ${timeline.join(' ')}`);
  const j = informer.indexer.get(`${JOB_NS}/indexed`);
  say(`  Indexed Job: Complete after ${secs(done - t0)} s (succeeded ${j?.status?.succeeded ?? 0}, failed ${j?.status?.failed ?? 0})`);
  say(`  Indexed Job: API requests per completion (all clients; leases and watches left out): ${requestsPer(counts, await requestCounts(rest), COMPLETIONS)}`);
  return done - t0;
}

/** 2. The DaemonSet: seconds until all pods are Ready after its create, and until its image change is rolled out. */
async function runDaemonSet(rest: RestClient): Promise<{ createMs: number; rolloutMs: number }> {
  const dss = rest.resource<DaemonSet>(DAEMONSETS);
  const informer = new Informer<DaemonSet>(dss, { namespace: DS_NS });
  informer.start();
  await informer.waitForSync();
  /** As `kubectl rollout status`: the controller saw generation gen and every node's pod is updated and available. */
  const rolledOut = (gen: number): boolean => {
    const st = informer.indexer.get(`${DS_NS}/agent`)?.status;
    if (!st || (st.observedGeneration ?? 0) < gen) return false;
    const want = st.desiredNumberScheduled;
    return want === NODES && (st.updatedNumberScheduled ?? 0) >= want && (st.numberAvailable ?? 0) >= want && st.numberReady >= want;
  };
  try {
    let counts = await requestCounts(rest);
    const t0 = performance.now();
    const tpl = template({ app: 'agent' }, 'agent:1');
    tpl.spec!.restartPolicy = 'Always';
    const made = await dss.create(DS_NS, {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: tpl, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: DS_MAX_UNAVAILABLE } } },
    });
    const created = await until(() => rolledOut(made.metadata.generation ?? 1), 'the DaemonSet to be Ready');
    say(`  DaemonSet: ${NODES} pods Ready after ${secs(created - t0)} s`);
    say(`  DaemonSet: API requests per node, create (all clients): ${requestsPer(counts, (counts = await requestCounts(rest)), NODES)}`);
    const t1 = performance.now();
    const patched = await dss.patch(DS_NS, 'agent', { spec: { template: { spec: { containers: [{ name: 'c', image: 'agent:2' }] } } } }, 'strategic');
    const rolled = await until(() => rolledOut(patched.metadata.generation ?? 2), 'the DaemonSet rollout');
    say(`  DaemonSet: image change rolled out after ${secs(rolled - t1)} s`);
    say(`  DaemonSet: API requests per node, rollout (all clients): ${requestsPer(counts, await requestCounts(rest), NODES)}`);
    const notReady = (await rest.resource<Node>(NODE_RESOURCE).list()).items.filter((n) => !n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    say(`  DaemonSet: nodes not Ready at the end: ${notReady} of ${NODES}`);
    return { createMs: created - t0, rolloutMs: rolled - t1 };
  } finally {
    await informer.stop();
  }
}

/** 3. The CronJobs: how late after their common schedule time each Job was created and started, in ms. */
async function runCronJobs(rest: RestClient, jobInformer: Informer<Job>, rawJobRate: number): Promise<CronResult & { dueAt: number }> {
  const created = new Map<string, number>();
  const started = new Map<string, number>();
  const seen = (j: Job): void => {
    if (j.metadata.namespace !== CRON_NS) return;
    const key = j.metadata.name ?? '';
    if (!created.has(key)) created.set(key, Date.now());
    if ((j.status?.active ?? 0) + (j.status?.succeeded ?? 0) > 0 && !started.has(key)) started.set(key, Date.now());
  };
  jobInformer.addEventHandler({ onAdd: seen, onUpdate: (_o, j) => seen(j) });
  // The next whole minute that leaves time to create them all (four times the raw time, plus 15 s: a loaded machine
  // creates them slower than it posts raw Jobs, and a CronJob created after its minute is not due until the next hour).
  const margin = ((4 * CRONJOB_COUNT) / rawJobRate) * 1000 + 15_000;
  let dueAt = Math.ceil(Date.now() / 60_000) * 60_000;
  if (dueAt - Date.now() < margin) dueAt += 60_000 * Math.ceil((margin - (dueAt - Date.now())) / 60_000);
  const minute = new Date(dueAt).getUTCMinutes();
  const cronjobs = rest.resource<CronJob>(CRONJOBS);
  await pool(CRONJOB_COUNT, CRON_WORKERS * 4, (i) =>
    cronjobs.create(CRON_NS, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: `cron-${i}` },
      spec: { schedule: `${minute} * * * *`, timeZone: 'Etc/UTC', jobTemplate: { spec: { template: template({ app: `cron-${i}` }, 'busybox:1') } } },
    }),
  );
  say(`  CronJobs: ${CRONJOB_COUNT} created, due at ${new Date(dueAt).toISOString()} (in ${secs(dueAt - Date.now())} s)`);
  if (Date.now() > dueAt - 1000) throw new Error('the CronJobs were created too late for their minute (the machine is too slow for the margin)');
  await until(() => Date.now() >= dueAt - 1000, 'a second before the CronJobs are due', dueAt - Date.now() + 10_000);
  const counts = await requestCounts(rest);
  await until(() => started.size >= CRONJOB_COUNT, 'all CronJobs to start their Jobs', dueAt - Date.now() + 120_000);
  say(`  CronJobs: API requests per CronJob from the due minute until the last Job started (all clients): ${requestsPer(counts, await requestCounts(rest), CRONJOB_COUNT)}`);
  const skew = await histogram(rest, CREATION_SKEW_METRIC);
  const within = skew.buckets.find(([, n]) => n >= skew.count)?.[0];
  say(`  CronJobs: the controller's ${CREATION_SKEW_METRIC}: ${skew.count} Jobs, mean ${(skew.sum / skew.count).toFixed(2)} s, all <= ${within} s (kube's buckets)`);
  const late = (m: Map<string, number>): number[] => [...m.values()].map((t) => t - dueAt).sort((a, b) => a - b);
  return { created: late(created), started: late(started), dueAt, skewMeanMs: (skew.sum / skew.count) * 1000 };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-workloads-bench-'));
  say(`workloads benchmark: ${NODES} hollow nodes; Indexed Job ${COMPLETIONS}/${PARALLELISM}; DaemonSet; ${CRONJOB_COUNT} CronJobs; ketch server (embedded store, hosted controller manager)`);
  const server = await startServer(dataDir, PROFILE);
  const rest = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }), 'workloads-bench');
  // Baseline writes go through a client of their own, as the controller manager's do.
  const baseRest = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }), 'workloads-bench-baseline');
  const pods = rest.resource<Pod>(PODS);
  const jobs = rest.resource<Job>(JOBS);
  let hollow: Awaited<ReturnType<typeof startHollowNodes>> | undefined;
  let cluster: Cluster | undefined;
  const jobInformer = new Informer<Job>(jobs, {});
  try {
    for (const name of [JOB_NS, DS_NS, CRON_NS, BASE_NS, LIFE_NS]) await rest.resource(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    const th = performance.now();
    const capacity = { cpu: '64', memory: '256Gi', pods: String(Math.ceil((COMPLETIONS + CRONJOB_COUNT) / NODES) + 20), 'ephemeral-storage': '100Gi' };
    // Heartbeats through a client of their own, as every kubelet has its own connection.
    const heartbeatRest = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }), 'workloads-bench-heartbeats');
    hollow = await startHollowNodes({ rest, heartbeatRest, count: NODES, capacity, concurrency: 32 });
    say(`  ${NODES} hollow nodes registered in ${secs(performance.now() - th)} s`);
    cluster = new Cluster(rest, pods, hollow.nodes, dataDir);
    cluster.informer.start();
    jobInformer.start();
    await Promise.all([cluster.informer.waitForSync(), jobInformer.waitForSync()]);

    // Baseline bodies: the pod the Job controller posts (generateName, labels, a controller reference), owned by a
    // ConfigMap so that no controller touches it; and the Job a CronJob posts, suspended so that nothing runs it.
    const owner = await rest.resource(CONFIGMAPS).create(BASE_NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' } });
    const podBody = podFromTemplate(template({ app: 'indexed' }, 'busybox:1'), { metadata: { name: 'owner', namespace: BASE_NS, uid: owner.metadata?.uid ?? '' } }, { apiVersion: 'v1', kind: 'ConfigMap' });
    podBody.metadata.generateName = 'indexed-';
    const lifeOwner = await rest.resource(CONFIGMAPS).create(LIFE_NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' } });
    const lifeBody = podFromTemplate(template({ app: 'indexed' }, 'busybox:1'), { metadata: { name: 'owner', namespace: LIFE_NS, uid: lifeOwner.metadata?.uid ?? '' } }, { apiVersion: 'v1', kind: 'ConfigMap' });
    lifeBody.metadata.generateName = 'indexed-';
    lifeBody.metadata.finalizers = [JOB_TRACKING_FINALIZER];
    const jobBody = (i: number): Job => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: `raw-${i}` }, spec: { suspend: true, template: template({ app: `raw-${i}` }, 'busybox:1') } });
    const basePods = baseRest.resource<Pod>(PODS);
    const baseJobs = baseRest.resource<Job>(JOBS);
    const spent = { pods: { ms: 0, n: 0 }, jobs: { ms: 0, n: 0 }, life: { ms: 0, n: 0 } };
    let jobSeq = 0;
    const raw = async (podsN: number, jobsN: number): Promise<void> => {
      spent.life.ms += await rawLifecycle(cluster!, basePods, lifeBody, podsN, PARALLELISM);
      spent.life.n += podsN;
      let t = performance.now();
      await pool(podsN, WRITE_CONCURRENCY, () => basePods.create(BASE_NS, podBody));
      spent.pods.ms += performance.now() - t;
      spent.pods.n += podsN;
      t = performance.now();
      await pool(jobsN, CRON_WORKERS, () => baseJobs.create(BASE_NS, jobBody(jobSeq++)));
      spent.jobs.ms += performance.now() - t;
      spent.jobs.n += jobsN;
    };
    const rate = (x: { ms: number; n: number }): number => x.n / (x.ms / 1000);
    // Warm up (connections, JIT); then half of the baseline before the phases and half after.
    await pool(100, WRITE_CONCURRENCY, () => basePods.create(BASE_NS, podBody));
    // The pod baselines serve the Job and the DaemonSet; the Job baseline serves the CronJobs.
    const podsN = PHASES.has('job') || PHASES.has('daemonset') ? COMPLETIONS : 0;
    const jobsN = PHASES.has('cronjob') ? CRONJOB_COUNT : 0;
    await raw(Math.floor(podsN / 2), Math.floor(jobsN / 2));

    const creates = PHASES.has('job') ? await runJobCreates(cluster, jobs, basePods, podBody.metadata.ownerReferences![0]!, PARALLELISM) : undefined;
    const jobMs = PHASES.has('job') ? await runJob(rest, jobs, jobInformer) : undefined;
    const ds = PHASES.has('daemonset') ? await runDaemonSet(rest) : undefined;
    const cron = PHASES.has('cronjob') ? await runCronJobs(rest, jobInformer, rate(spent.jobs)) : undefined;

    await raw(podsN - Math.floor(podsN / 2), jobsN - Math.floor(jobsN / 2));
    report(creates, jobMs, ds, cron, { pods: rate(spent.pods), jobs: rate(spent.jobs), life: rate(spent.life) });
  } finally {
    await jobInformer.stop();
    await cluster?.informer.stop();
    await hollow?.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

type CronResult = { created: number[]; started: number[]; skewMeanMs: number };

/** The table (stderr) and one JSON line (stdout), with the rows and fields of the phases that ran. */
function report(creates: { jobs: CreateWindow[]; raw: CreateWindow[] } | undefined, jobMs: number | undefined, ds: { createMs: number; rolloutMs: number } | undefined, cron: CronResult | undefined, raw: { pods: number; jobs: number; life: number }): void {
  const { pods: rawPods, jobs: rawJobs, life: rawLife } = raw;
  const pct = (xs: number[], q: number): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
  const rawJobsMs = (CRONJOB_COUNT / rawJobs) * 1000;
  const json: Record<string, number | string> = { nodes: NODES };
  say('');
  say(`| workload (${NODES} hollow nodes) | ketch | raw (same run) | ratio / target |`);
  say('|---|---|---|---|');
  if (creates) {
    const jobRate = windowsRate(creates.jobs);
    const rawRate = windowsRate(creates.raw);
    const how = `from the Job's create response / the first raw POST to the ${PARALLELISM}th pod's watch event`;
    const jobMsList = creates.jobs.map((w) => w.lastMs.toFixed(0)).join(', ');
    say(`| Job controller pod creates: ${creates.jobs.length} Indexed Jobs of ${PARALLELISM} pods at once (unbound) one after another, pods/s ${how} | ${jobRate.toFixed(0)} (${jobMsList} ms) | ${rawRate.toFixed(0)} (${creates.raw.length} x ${PARALLELISM} pod POSTs, c=${WRITE_CONCURRENCY}, before, between and after) | ${(jobRate / rawRate).toFixed(2)} (>= 0.7) |`);
    Object.assign(json, { jobCreatesPerSec: Math.round(jobRate), rawWindowCreatesPerSec: Math.round(rawRate), jobCreateRatio: +(jobRate / rawRate).toFixed(2) });
  }
  if (jobMs !== undefined) {
    const jobRate = COMPLETIONS / (jobMs / 1000);
    say(`| Indexed Job ${COMPLETIONS} completions, parallelism ${PARALLELISM}: pods/s to Complete (${secs(jobMs)} s; 5 writes per pod) | ${jobRate.toFixed(0)} | ${rawPods.toFixed(0)} pod POSTs/s (c=${WRITE_CONCURRENCY}; 1 write per pod) | ${(jobRate / rawPods).toFixed(2)} |`);
    say(`| the same, against raw pods taken through a Job pod's life (create, bind, Running, Succeeded, finalizer removed; ${PARALLELISM} at once) | ${jobRate.toFixed(0)} | ${rawLife.toFixed(0)} pods/s | ${(jobRate / rawLife).toFixed(2)} (>= 0.7) |`);
    Object.assign(json, {
      completions: COMPLETIONS,
      parallelism: PARALLELISM,
      jobCompleteSec: +(jobMs / 1000).toFixed(2),
      jobPodsPerSec: Math.round(jobRate),
      rawPodCreatesPerSec: Math.round(rawPods),
      jobRatio: +(jobRate / rawPods).toFixed(2),
      rawLifecyclePodsPerSec: Math.round(rawLife),
      jobRatioToLifecycle: +(jobRate / rawLife).toFixed(2),
    });
  }
  if (ds) {
    say(`| DaemonSet created: all ${NODES} pods Ready, s | ${secs(ds.createMs)} | ${secs((NODES / rawPods) * 1000)} (${NODES} pod POSTs) | |`);
    say(`| DaemonSet image change (maxUnavailable ${DS_MAX_UNAVAILABLE}): all updated and available, s | ${secs(ds.rolloutMs)} | | < 30 |`);
    Object.assign(json, { daemonSetReadySec: +(ds.createMs / 1000).toFixed(2), daemonSetRolloutSec: +(ds.rolloutMs / 1000).toFixed(2), dsMaxUnavailable: DS_MAX_UNAVAILABLE });
  }
  if (cron) {
    say(`| ${CRONJOB_COUNT} CronJobs due in one minute: job creation skew (schedule time to Job created, kube's ${CREATION_SKEW_METRIC}; each Job's add event at the bench), s: last (p50; the controller's mean) | ${secs(pct(cron.created, 1))} (p50 ${secs(pct(cron.created, 0.5))}; mean ${secs(cron.skewMeanMs)}) | ${secs(rawJobsMs)} (${CRONJOB_COUNT} Job POSTs, c=${CRON_WORKERS}) | < 5 |`);
    say(`| ${CRONJOB_COUNT} CronJobs due in one minute: last Job started (its status.active written by the Job controller), s after due | ${secs(pct(cron.started, 1))} (p50 ${secs(pct(cron.started, 0.5))}) | | |`);
    Object.assign(json, {
      cronJobs: CRONJOB_COUNT,
      cronLastCreatedSec: +(pct(cron.created, 1) / 1000).toFixed(2),
      cronSkewMeanSec: +(cron.skewMeanMs / 1000).toFixed(2),
      cronLastStartedSec: +(pct(cron.started, 1) / 1000).toFixed(2),
      rawJobCreatesPerSec: Math.round(rawJobs),
    });
  }
  process.stdout.write(JSON.stringify(json) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${String(err instanceof Error ? err.stack : err)}\n`);
  process.exit(1);
});
