// Test support for controller suites: a real API server over in-memory storage, and a hollow kubelet that reports
// pods Running and Ready through the status subresource (no containers run).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/index.js';
import { Informer, loadClientConfig, RestClient, type ResourceClient } from '../../client/index.js';
import { isPodReady, rfc3339 } from '../../controllers/framework/pods.js';
import { NAMESPACES, PODS, type Namespace, type Pod, type ReplicaSet } from '../../controllers/framework/types.js';

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
