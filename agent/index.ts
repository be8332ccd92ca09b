// The node agent (`ketch agent`): registers the Node, keeps its lease and conditions, runs the pods bound to it
// through a CRI runtime (our own shim, started here, unless an endpoint is given), and serves logs and streams.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConfigMap, Node, Pod, Secret } from '../api/index.js';
import { EVENTS, EventRecorder, Informer, type KubeEvent, type RestClient } from '../client/index.js';
import { every, realClock, type Clock } from '../lib/clock.js';
import { criImageFsUsage, DEFAULT_IMAGE_GC, ImageGcManager, invalidImageGcPolicy, type ImageGcPolicy } from './image-gc.js';
import { logger, type Logger } from '../lib/logger.js';
import { Backoff, INITIAL_BACKOFF_MS, MAX_BACKOFF_MS } from './backoff.js';
import { hostCapacity, primaryIPv4 } from './host.js';
import { NodeStatusManager, type RuntimeHealth } from './node-status.js';
import { PodManager } from './pod-manager.js';
import type { PodWorkerContext } from './pod-state.js';
import { podLogDir } from './pod-worker.js';
import { CONFIGMAPS, NODES, PODS, SECRETS } from './resources.js';
import { NodeRoutes } from './routes.js';
import { connectRuntime, type RuntimeClient } from './cri/index.js';
import { spawnRuntimeService, startRuntimeService, type RuntimeServiceHandle } from './runtime/index.js';
import { AgentAuth } from './auth.js';
import { AgentServer } from './server.js';
import { StatsProvider } from './stats.js';
import { VolumeManager } from './volumes.js';

export { startHollowNodes, type HollowNodes, type HollowNodesOptions } from './hollow.js';

export interface AgentOptions {
  rest: RestClient;
  nodeName: string;
  /** A CRI endpoint (unix:///run/containerd/containerd.sock); without one the agent starts ketch's runtime. */
  runtimeEndpoint?: string;
  /** State: pod volumes, logs, and (for the built-in runtime) images and containers. */
  rootDir: string;
  clock?: Clock;
  /** HTTPS port of the agent's API (10250; 0 picks a free port). */
  port?: number;
  /** Address the agent's API listens on (default 0.0.0.0). */
  bindAddress?: string;
  /** The node's InternalIP (default: the first non-loopback IPv4 address). */
  nodeIP?: string;
  labels?: Record<string, string>;
  maxPods?: number;
  /** For the built-in runtime: plain-HTTP registries and mirrors; its bridge name. */
  insecureRegistries?: string[];
  registryMirrors?: Record<string, string>;
  runtimeBridge?: string;
  /** Run the built-in runtime on this process's event loop instead of in a child process (tests, debugging). */
  runtimeInProcess?: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** How often each pod is compared with the runtime (default 1000 ms). */
  syncIntervalMs?: number;
  /** Crash-loop and image-pull back-off (default 10 s doubling to 5 min). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Route the other nodes' pod CIDRs through their InternalIPs (flannel host-gw style; default true). */
  podRoutes?: boolean;
  /** Containers without a seccompProfile run under RuntimeDefault (kubelet's --seccomp-default; default true). */
  seccompDefault?: boolean;
  /** The cluster's pod network (the controller manager's --cluster-cidr): pod routes only inside it. */
  clusterCIDR?: string;
  /** Image garbage collection (kubelet's --image-gc-* flags; default 85 %, 80 %, 2 minutes, every 5 minutes). */
  imageGc?: Partial<ImageGcPolicy> & { intervalMs?: number };
}

/** The controller manager's default --cluster-cidr. */
export const DEFAULT_CLUSTER_CIDR = '10.42.0.0/16';

export interface Agent {
  /** The HTTPS port actually bound. */
  port: number;
  runtimeEndpoint: string;
  stop(): Promise<void>;
}

/** Flags of `ketch agent`, for the CLI to wire (name, value placeholder, description, default). */
export const AGENT_FLAGS = [
  { flag: '--kubeconfig <file>', description: 'kubeconfig of the agent (its identity towards the API server)' },
  { flag: '--node-name <name>', description: 'name of the Node object', default: 'the host name' },
  { flag: '--container-runtime-endpoint <endpoint>', description: 'CRI endpoint, e.g. unix:///run/containerd/containerd.sock; without it the built-in runtime is started' },
  { flag: '--root-dir <dir>', description: 'state directory (volumes, logs, built-in runtime)', default: '/var/lib/ketch/agent' },
  { flag: '--port <port>', description: 'HTTPS port of the agent API (logs, exec, attach, port-forward)', default: '10250' },
  { flag: '--address <ip>', description: 'bind address of the agent API', default: '0.0.0.0' },
  { flag: '--node-ip <ip>', description: 'InternalIP reported for the node', default: 'first non-loopback IPv4' },
  { flag: '--node-labels <k=v,...>', description: 'extra labels for the Node' },
  { flag: '--max-pods <n>', description: 'pods capacity', default: '110' },
  { flag: '--insecure-registry <host:port>', description: 'built-in runtime: registry reached over plain HTTP (repeatable)' },
  { flag: '--registry-mirror <host=url>', description: 'built-in runtime: mirror for a registry (repeatable)' },
  { flag: '--tls-cert-file <file>', description: 'serving certificate of the agent API', default: 'self-signed under ROOT/pki' },
  { flag: '--tls-private-key-file <file>', description: 'key of --tls-cert-file' },
  { flag: '--no-pod-routes', description: 'do not route the other nodes\' pod CIDRs through their InternalIPs (host-gw); use when another network plugin does' },
  { flag: '--cluster-cidr <cidr>', description: 'the cluster pod network: other nodes\' pod CIDRs are routed only inside it', default: '10.42.0.0/16' },
  { flag: '--no-seccomp-default', description: 'containers without a seccompProfile run Unconfined (kubelet --seccomp-default=false) instead of RuntimeDefault' },
  { flag: '--hollow', description: 'simulation: register --count fake nodes, no runtime; bound pods become Running/Ready' },
  { flag: '--count <n>', description: 'with --hollow: number of nodes', default: '1' },
  { flag: '--prefix <p>', description: 'with --hollow: node name prefix', default: 'hollow-node-' },
] as const;

/**
 * The CRI endpoint: the one given, or ketch's runtime started here (as a child process unless runtimeInProcess). The
 * runtime keeps real time whatever the agent's clock: it is another component, as containerd is to kubelet.
 */
async function runtimeEndpoint(o: AgentOptions, rootDir: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  if (o.runtimeEndpoint) return o.runtimeEndpoint;
  const endpoint = `unix://${join(rootDir, 'runtime.sock')}`;
  const start = o.runtimeInProcess ? startRuntimeService : spawnRuntimeService;
  const service: RuntimeServiceHandle = await start({
    root: join(rootDir, 'runtime'),
    listen: endpoint,
    ...(o.insecureRegistries ? { insecureRegistries: o.insecureRegistries } : {}),
    ...(o.registryMirrors ? { registryMirrors: o.registryMirrors } : {}),
    ...(o.runtimeBridge ? { bridge: o.runtimeBridge } : {}),
    // The agent collects images itself (image-gc.ts), over the CRI, as the kubelet does.
    imageGc: { disabled: true },
  });
  cleanups.push(() => service.close());
  return endpoint;
}

/** The node's readiness as the runtime reports it (its RuntimeReady and NetworkReady conditions). */
async function runtimeHealth(runtime: RuntimeClient): Promise<RuntimeHealth> {
  const st = await runtime.runtime.status({});
  const bad = (st.status?.conditions ?? []).filter((c) => (c.type === 'RuntimeReady' || c.type === 'NetworkReady') && !c.status);
  return bad.length ? { ready: false, message: bad.map((c) => `${c.type}=false: ${c.reason} ${c.message}`).join('; ') } : { ready: true, message: '' };
}

/** Routes to the other nodes' pod CIDRs (host-gw); returns how to stop them. */
function startPodRoutes(o: AgentOptions, hostIP: string, log: Logger): () => Promise<void> {
  const nodes = new Informer<Node>(o.rest.resource<Node>(NODES), { log });
  const routes = new NodeRoutes({ nodes, nodeName: o.nodeName, hostIP, clusterCIDR: o.clusterCIDR ?? DEFAULT_CLUSTER_CIDR, log });
  routes.start();
  nodes.start();
  return async () => {
    await nodes.stop();
    await routes.stop();
  };
}

/** The pod CIDR comes from the controller manager; pods (except hostNetwork ones) wait for it. */
function awaitPodCIDR(node: NodeStatusManager, runtime: RuntimeClient, pods: PodManager, set: (cidr: string) => void, signal: AbortSignal, log: Logger): void {
  void node
    .waitForPodCIDR(signal)
    .then(async (cidr) => {
      set(cidr);
      await runtime.runtime.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: cidr } } });
      log.info('pod CIDR assigned', { podCIDR: cidr });
      pods.kickAll();
    })
    .catch((err: unknown) => {
      if (!signal.aborted) log.error('waiting for the pod CIDR failed', { error: String(err) });
    });
}

/** The image collector, every intervalMs (the kubelet's 5 minutes), the first one intervalMs after start. */
function startImageGc(o: AgentOptions, runtime: RuntimeClient, clock: Clock, log: Logger): () => Promise<void> {
  const policy: ImageGcPolicy = { ...DEFAULT_IMAGE_GC, ...o.imageGc };
  const bad = invalidImageGcPolicy(policy);
  if (bad) throw new Error(bad);
  const gc = new ImageGcManager(runtime, policy, criImageFsUsage(runtime), clock, log);
  const timer = every(clock, o.imageGc?.intervalMs ?? 5 * 60_000, () => gc.collect(), (err) => log.warn('image garbage collection failed', { error: String(err) }), { delayFirst: true });
  return async () => timer.cancel();
}

export async function startAgent(o: AgentOptions): Promise<Agent> {
  const clock = o.clock ?? realClock;
  const rootDir = resolve(o.rootDir);
  const log = logger('agent', { node: o.nodeName });
  await mkdir(rootDir, { recursive: true });
  const abort = new AbortController();
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    abort.abort(new Error('agent stopped'));
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log.warn('agent shutdown step failed', { error: String(err) }));
  };

  try {
    const endpoint = await runtimeEndpoint(o, rootDir, cleanups);
    const runtime: RuntimeClient = connectRuntime(endpoint);
    cleanups.push(async () => runtime.close());
    const version = await runtime.runtime.version({ version: 'v1' });
    const runtimeName = version.runtimeName || 'cri';
    log.info('connected to the container runtime', { endpoint, runtime: `${runtimeName} ${version.runtimeVersion}` });

    const hostIP = o.nodeIP ?? primaryIPv4();
    const capacity = { ...(await hostCapacity(rootDir, o.maxPods)) } as Record<string, string>;
    let podCIDR: string | undefined;
    const ctx: PodWorkerContext = {
      rest: o.rest,
      pods: o.rest.resource<Pod>(PODS),
      configMaps: o.rest.resource<ConfigMap>(CONFIGMAPS),
      secrets: o.rest.resource<Secret>(SECRETS),
      runtime,
      runtimeName,
      clock,
      log,
      volumes: new VolumeManager(rootDir),
      backoff: new Backoff(clock, o.backoff?.initialMs ?? INITIAL_BACKOFF_MS, o.backoff?.maxMs ?? MAX_BACKOFF_MS),
      events: new EventRecorder(o.rest.resource<KubeEvent>(EVENTS), { component: 'kubelet', host: o.nodeName }, clock),
      nodeName: o.nodeName,
      hostIP,
      hostCapacity: capacity,
      security: { seccompDefault: o.seccompDefault ?? true, seccompProfileRoot: join(rootDir, 'seccomp') },
      podCIDR: () => podCIDR,
      logDir: (pod) => podLogDir(rootDir, pod),
      syncIntervalMs: o.syncIntervalMs ?? 1000,
    };
    // The relist, log follows and CPU rates deal with the real world (runtime states, log files, CPU time): they keep
    // real time even where a test gives the agent a fake clock for back-off, leases and grace periods.
    const pods = new PodManager(ctx, log, realClock);

    const server = new AgentServer({
      port: o.port ?? 10250,
      address: o.bindAddress ?? '0.0.0.0',
      rootDir,
      ...(o.rest.config.ca ? { clientCA: o.rest.config.ca } : {}),
      auth: new AgentAuth(o.rest, o.nodeName),
      ...(o.tlsCertFile ? { tlsCertFile: o.tlsCertFile } : {}),
      ...(o.tlsKeyFile ? { tlsKeyFile: o.tlsKeyFile } : {}),
      servingNames: [o.nodeName, hostname(), hostIP, '127.0.0.1', 'localhost'],
      pods,
      runtime,
      stats: new StatsProvider({ nodeName: o.nodeName, runtime, pods: () => pods.informer.indexer.list(), clock: realClock }),
      clock: realClock,
      log,
    });
    await server.start();
    cleanups.push(() => server.close());

    const node = new NodeStatusManager({
      rest: o.rest,
      nodeName: o.nodeName,
      rootDir,
      clock,
      runtimeVersion: `${runtimeName}://${version.runtimeVersion}`,
      port: server.port,
      address: hostIP,
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.maxPods ? { maxPods: o.maxPods } : {}),
      runtimeHealth: () => runtimeHealth(runtime),
    });
    await node.register();
    node.start();
    cleanups.push(() => node.stop());

    await pods.start(abort.signal);
    cleanups.push(() => pods.stop());
    awaitPodCIDR(node, runtime, pods, (cidr) => (podCIDR = cidr), abort.signal, log);
    if (o.podRoutes !== false) cleanups.push(startPodRoutes(o, hostIP, log));

    cleanups.push(startImageGc(o, runtime, clock, log));

    log.info('agent started', { node: o.nodeName, port: server.port, runtime: endpoint });
    return { port: server.port, runtimeEndpoint: endpoint, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
