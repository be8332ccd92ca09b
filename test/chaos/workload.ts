// The chaos suite's clients: a writer whose acknowledged writes (ConfigMap creates and patches with the
// resourceVersions answered) are the store's history, watchers that record what they are told, Deployments that
// are scaled and rolled and Jobs that run while faults happen.
import type { ConfigMap, Job, Pod } from '../../api/index.js';
import { JOB_NAME_LABEL } from '../../api/defaults.js';
import { ApiError, isConflict, isNotFound } from '../../api/errors.js';
import type { RestClient } from '../../client/rest.js';
import { CONFIGMAPS, JOBS, PODS } from '../../client/resources.js';
import { DEPLOYMENTS, type Deployment } from '../../controllers/framework/types.js';
import { isJobFinished } from '../../controllers/job/util.js';
import type { Observed, Write } from './history.js';

export const NAMESPACE = 'chaos';
const REQUEST_DEADLINE_MS = 10_000;

export interface Sample {
  startMs: number;
  ms: number;
  ok: boolean;
}

/** Whether an error means the API was unavailable (5xx, timeout, no connection) rather than a refusal (4xx). */
const unavailable = (err: unknown): boolean => !(err instanceof ApiError) || err.code >= 500;

const withDeadline = <T>(p: Promise<T>): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('client deadline')), REQUEST_DEADLINE_MS).unref())]);

const valueOf = (cm: ConfigMap): number => Number(cm.data?.n ?? 0);

/** Keys written in loops (one loop per `loops` keys), each value one more than the last acknowledged. */
export class Writer {
  readonly writes: Write[] = [];
  readonly samples: Sample[] = [];
  /** Keys with a write whose outcome is unknown (timed out): a watch may show it. */
  readonly inFlight = new Set<string>();
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly rest: RestClient,
    private readonly keys: number,
    private readonly loopsCount: number,
    private readonly now: () => number,
  ) {}

  start(): void {
    for (let l = 0; l < this.loopsCount; l++) this.loops.push(this.loop(l));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async loop(l: number): Promise<void> {
    const cms = this.rest.resource<ConfigMap>(CONFIGMAPS);
    const mine = Array.from({ length: this.keys }, (_, i) => `cm-${i}`).filter((_, i) => i % this.loopsCount === l);
    const next = new Map<string, number>();
    let i = 0;
    while (!this.stopped) {
      const key = mine[i++ % mine.length]!;
      const n = (next.get(key) ?? 0) + 1;
      const startMs = this.now();
      try {
        const obj = await withDeadline(
          n === 1
            ? cms.create(NAMESPACE, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: key, namespace: NAMESPACE }, data: { n: String(n) } })
            : cms.patch(NAMESPACE, key, { data: { n: String(n) } }, 'merge'),
        );
        this.samples.push({ startMs, ms: this.now() - startMs, ok: true });
        this.writes.push({ key, rv: BigInt(obj.metadata!.resourceVersion!), value: valueOf(obj) });
        next.set(key, n);
      } catch (err) {
        this.samples.push({ startMs, ms: this.now() - startMs, ok: !unavailable(err) });
        if (err instanceof ApiError && err.code === 409 && n === 1) {
          // The create landed before (a timed-out attempt): go on from what is stored; unreadable now, try again later.
          next.set(key, await cms.get(NAMESPACE, key).then(valueOf, () => 0));
        } else if (!(err instanceof ApiError)) {
          // Unknown outcome: it may land; later values are larger anyway.
          this.inFlight.add(key);
          next.set(key, n);
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export interface WatchSegment {
  fromRv: bigint;
  events: Observed[];
}

/** Watches the ConfigMaps from a list's revision; a 410 starts a new segment from a fresh list. */
export class Watcher {
  readonly segments: WatchSegment[] = [];
  expired = 0;
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly rest: RestClient,
  ) {}

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private async run(): Promise<void> {
    const cms = this.rest.resource<ConfigMap>(CONFIGMAPS);
    while (!this.abort.signal.aborted) {
      try {
        const list = await withDeadline(cms.list(NAMESPACE));
        const seg: WatchSegment = { fromRv: BigInt(list.metadata?.resourceVersion ?? '0'), events: [] };
        this.segments.push(seg);
        for await (const ev of cms.watch(NAMESPACE, { resourceVersion: list.metadata?.resourceVersion ?? '0', signal: this.abort.signal })) {
          if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') continue;
          seg.events.push({ key: ev.object.metadata!.name!, rv: BigInt(ev.object.metadata!.resourceVersion!), value: valueOf(ev.object) });
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (err instanceof ApiError && err.code === 410) this.expired++;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

/** The hollow nodes' label: the hollow workload stays off the real node. */
export const ON_HOLLOW = { 'ketch.io/hollow': 'true' };

export function deployment(name: string, replicas: number, rev: number, nodeSelector: Record<string, string> = ON_HOLLOW): Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { 'chaos/rev': String(rev) } },
        spec: { nodeSelector, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
      },
    },
  } as Deployment;
}

/** Whether every Deployment is at its desired state: observed, all replicas updated, ready and available. */
export async function deploymentsConverged(rest: RestClient): Promise<boolean> {
  const list = await withDeadline(rest.resource<Deployment>(DEPLOYMENTS).list(NAMESPACE));
  return list.items.every((d) => {
    const want = d.spec?.replicas ?? 1;
    const st = d.status ?? {};
    return (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && st.replicas === want && st.updatedReplicas === want && st.readyReplicas === want && st.availableReplicas === want;
  });
}

export function job(name: string, completions: number): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: NAMESPACE },
    spec: { completions, parallelism: 2, backoffLimit: 100, template: { spec: { nodeSelector: ON_HOLLOW, restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36', command: ['true'] }] } } },
  } as Job;
}

/**
 * Plays the containers of Job pods on hollow nodes (which never end a pod, a fake whose point is scale): a Job pod
 * that has been Running for a second is set Succeeded, as its `true` command would have it. Errors are the faults'
 * and the next pass tries again.
 */
export class HollowJobPods {
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  readonly finished = new Set<string>();

  constructor(private readonly rest: RestClient) {}

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async run(): Promise<void> {
    const pods = this.rest.resource<Pod>(PODS);
    while (!this.stopped) {
      const list = await withDeadline(pods.list(NAMESPACE, { labelSelector: JOB_NAME_LABEL })).catch(() => undefined);
      for (const pod of list?.items ?? []) {
        const started = pod.status?.startTime ? Date.parse(pod.status.startTime) : Date.now();
        if (pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp || Date.now() - started < 1000) continue;
        const now = new Date().toISOString();
        const terminated = { exitCode: 0, reason: 'Completed', startedAt: pod.status.startTime ?? now, finishedAt: now };
        const containerStatuses = (pod.status.containerStatuses ?? []).map((c) => ({ ...c, ready: false, started: false, state: { terminated } }));
        try {
          await withDeadline(pods.updateStatus({ ...pod, status: { ...pod.status, phase: 'Succeeded', containerStatuses } }));
          this.finished.add(pod.metadata.uid ?? '');
        } catch (err) {
          // A conflict or a deleted pod: the next pass reads it again; unavailability is the faults' (the writer counts it).
          if (!isConflict(err) && !isNotFound(err) && err instanceof ApiError && err.code < 500) throw err;
        }
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Whether every Job is Complete with all its completions. */
export async function jobsComplete(rest: RestClient): Promise<boolean> {
  const list = await withDeadline(rest.resource<Job>(JOBS).list(NAMESPACE));
  return list.items.every((j) => isJobFinished(j) && j.status?.succeeded === (j.spec?.completions ?? 1) && j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
}
