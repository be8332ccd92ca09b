// Test support for controller suites: a real API server over in-memory storage, a hollow kubelet that reports pods
// Running and Ready through the status subresource (no containers run), and a pod watcher that checks rollout bounds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/index.js';
import { Informer, loadClientConfig, RestClient, type ResourceClient } from '../../client/index.js';
import { isPodReady, rfc3339 } from '../../controllers/framework/pods.js';
import { NAMESPACES, PODS, type Deployment, type Namespace, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';

export interface TestCluster {
  rest: RestClient;
  server: ApiServer;
  close(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-ctrl-'));
  const storage = new EmbeddedStorage({ path: ':memory:' });
  const server = await startApiServer({ dataDir, securePort: 0, bindAddress: '127.0.0.1', storage });
  const rest = new RestClient(loadClientConfig({ kubeconfig: server.adminKubeconfigPath }));
  return {
    rest,
    server,
    async close() {
      await server.close();
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let nsCounter = 0;
/** A fresh namespace for one test. */
export async function createNamespace(rest: RestClient, prefix = 't'): Promise<string> {
  const name = `${prefix}-${process.pid}-${++nsCounter}`;
  await rest.resource<Namespace>(NAMESPACES).create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

/** Marks a pod Running and Ready (or not ready) as a kubelet would. */
export async function setPodReady(pods: ResourceClient<Pod>, pod: Pod, ready = true, at = Date.now()): Promise<Pod> {
  const t = rfc3339(at);
  return pods.patch(
    pod.metadata.namespace,
    pod.metadata.name ?? '',
    { status: { phase: 'Running', startTime: t, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t }] } },
    'merge',
    { sub: 'status' },
  );
}

/** Reports every new pod in a namespace Ready, unless `ready(pod)` says otherwise. */
export class HollowKubelet {
  private readonly informer: Informer<Pod>;
  private readonly pods: ResourceClient<Pod>;
  /** Every pod name seen, in order of creation. */
  readonly seen: string[] = [];

  private readonly ready: (pod: Pod) => boolean;
  private readonly delayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(rest: RestClient, namespace: string, opts: { ready?: (pod: Pod) => boolean; delayMs?: number } = {}) {
    this.ready = opts.ready ?? (() => true);
    this.delayMs = opts.delayMs ?? 0;
    this.pods = rest.resource<Pod>(PODS);
    this.informer = new Informer<Pod>(this.pods, { namespace });
    this.informer.addEventHandler({
      onAdd: (pod) => {
        this.seen.push(pod.metadata.name ?? '');
        this.report(pod);
      },
    });
  }

  private report(pod: Pod): void {
    if (pod.metadata.deletionTimestamp || isPodReady(pod) || !this.ready(pod)) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      setPodReady(this.pods, pod).catch(() => undefined); // the pod may be gone already
    }, this.delayMs);
    this.timers.add(t);
  }

  start(): Promise<void> {
    this.informer.start();
    return this.informer.waitForSync();
  }

  stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    return this.informer.stop();
  }
}

/** A ReplicaSet of nginx pods labelled app=NAME. */
export function replicaSet(name: string, replicas: number, extra: Partial<ReplicaSet['spec']> = {}): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
      ...extra,
    },
  };
}

/** Runs fn in a fresh namespace with a hollow kubelet reporting its pods, stopping the kubelet afterwards. */
export async function withKubelet<T>(rest: RestClient, opts: ConstructorParameters<typeof HollowKubelet>[2], fn: (ns: string, kubelet: HollowKubelet) => Promise<T>): Promise<T> {
  const ns = await createNamespace(rest);
  const kubelet = new HollowKubelet(rest, ns, opts);
  await kubelet.start();
  try {
    return await fn(ns, kubelet);
  } finally {
    await kubelet.stop();
  }
}

/** A Deployment of nginx pods labelled app=NAME. */
export function deployment(name: string, replicas: number, spec: Partial<Deployment['spec']> = {}, image = 'nginx:1'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } },
      ...spec,
    },
  };
}

/** What `kubectl rollout status` prints for a Deployment (kubectl's DeploymentStatusViewer), and whether it is done. */
export function rolloutStatus(d: Deployment): { done: boolean; message: string } {
  const s = d.status ?? {};
  const name = d.metadata.name ?? '';
  if ((d.metadata.generation ?? 0) > (s.observedGeneration ?? 0)) return { done: false, message: 'Waiting for deployment spec update to be observed...' };
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') throw new Error(`deployment "${name}" exceeded its progress deadline`);
  const want = d.spec.replicas ?? 1;
  if ((s.updatedReplicas ?? 0) < want) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${s.updatedReplicas ?? 0} out of ${want} new replicas have been updated...` };
  if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replicas are pending termination...` };
  if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0)) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${s.availableReplicas ?? 0} of ${s.updatedReplicas ?? 0} updated replicas are available...` };
  return { done: true, message: `deployment "${name}" successfully rolled out` };
}

/** Watches a namespace's pods and checks an invariant on every event. */
export class PodWatcher {
  readonly informer: Informer<Pod>;
  readonly violations: string[] = [];
  maxPods = 0;
  minReady = Infinity;
  checking = false;
  constructor(pods: ResourceClient<Pod>, namespace: string, private readonly check?: (pods: Pod[]) => string | undefined) {
    this.informer = new Informer<Pod>(pods, { namespace });
    const on = (): void => this.observe();
    this.informer.addEventHandler({ onAdd: on, onUpdate: on, onDelete: on });
  }
  live(): Pod[] {
    return this.informer.indexer.list().filter((p) => !p.metadata.deletionTimestamp);
  }
  private observe(): void {
    const live = this.live();
    this.maxPods = Math.max(this.maxPods, live.length);
    if (!this.checking) return;
    this.minReady = Math.min(this.minReady, live.filter(isPodReady).length);
    const v = this.check?.(live);
    if (v) this.violations.push(v);
  }
  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }
  stop(): Promise<void> {
    return this.informer.stop();
  }
}
