// The node agent (`ketch agent`): registers the Node, keeps its lease and conditions, runs the pods bound to it
// through a CRI runtime (our own shim, started here, unless an endpoint is given), and serves logs and streams.
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_LOCAL_PATH_ROOT, isForbidden, type ConfigMap, type Node, type PersistentVolume, type Pod, type Secret } from '../api/index.js';
import { EVENTS, EventRecorder, Informer, PERSISTENTVOLUMES, type KubeEvent, type RestClient } from '../client/index.js';
import { every, realClock, type Clock } from '../lib/clock.js';
import { criImageFsUsage, DEFAULT_IMAGE_GC, ImageGcManager, invalidImageGcPolicy, type ImageGcPolicy } from './image-gc.js';
import { logger, type Logger } from '../lib/logger.js';
import { startNodeCertificates } from './certificates/index.js';
import { Backoff, INITIAL_BACKOFF_MS, MAX_BACKOFF_MS } from './backoff.js';
import { hostCapacity, primaryIPv4 } from './host.js';
import { NodeStatusManager, type RuntimeHealth } from './node-status.js';
import { PodManager } from './pod-manager.js';
import type { PodWorkerContext } from './pod-state.js';
import { podLogDir } from './pod-worker.js';
import { CONFIGMAPS, NODES, PODS, SECRETS } from './resources.js';
import { startNodeNetwork, type NodeNetwork, type NodeNetworkSettings } from './node-network.js';
import { DEFAULT_CLUSTER_CIDR } from '../api/network.js';
import { NodeRoutes } from './routes.js';
import { connectRuntime, type RuntimeClient } from './cri/index.js';
import { spawnRuntimeService, startRuntimeService, type RuntimeServiceHandle } from './runtime/index.js';
import type { RegistryOptions } from './runtime/registry-client.js';

type RegistryTls = NonNullable<RegistryOptions['clusterTls']>;
import { AgentAuth } from './auth.js';
import { AgentServer } from './server.js';
import { StatsProvider } from './stats.js';
import { VolumeManager } from './volumes.js';
import { LocalPathCleaner } from './volumes/csi-local/cleanup.js';
import { LocalPathNodeService } from './volumes/csi-local/node-service.js';

export { startHollowNodes, type HollowNodes, type HollowNodesOptions } from './hollow.js';

/** The agent's options; the node network's (service proxy, DNS) are NodeNetworkSettings. */
export interface AgentOptions extends NodeNetworkSettings {
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
  /** Renew the client certificate before it expires (kubelet's --rotate-certificates; the REST client's certificate must be ROOT/pki's, as after a TLS bootstrap). */
  rotateCertificates?: boolean;
  /** Serve a certificate from the cluster CA, asked for and renewed through CSRs (kubelet's --rotate-server-certificates). */
  rotateServerCertificates?: boolean;
  /** How often each pod is compared with the runtime (default 1000 ms). */
  syncIntervalMs?: number;
  /** How often a running pod's configMap, secret, downwardAPI and projected volumes are rewritten from the API (default 60 s, kubelet's sync frequency). */
  volumeRefreshMs?: number;
  /** Crash-loop and image-pull back-off (default 10 s doubling to 5 min). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Directories local-path volumes may live in on this node besides their class's nodePath (default /var/lib/ketch/storage). */
  localPathRoots?: string[];
  /** Route the other nodes' pod CIDRs through their InternalIPs (flannel host-gw style; default true). */
  podRoutes?: boolean;
  /** Containers without a seccompProfile run under RuntimeDefault (kubelet's --seccomp-default; default true). */
  seccompDefault?: boolean;
  /** Image garbage collection (kubelet's --image-gc-* flags; default 85 %, 80 %, 2 minutes, every 5 minutes). */
  imageGc?: Partial<ImageGcPolicy> & { intervalMs?: number };
}


export interface Agent {
  /** The HTTPS port actually bound. */
  port: number;
  runtimeEndpoint: string;
  stop(): Promise<void>;
}

/**
 * The cluster CA and this node's client certificate (the REST client's), as files for ketch's runtime: it trusts the
 * CA for registries (the built-in one serves a certificate of it) and presents the certificate to a registry that
 * asks, so nodes pull from the built-in registry with no flag. Rewritten when the client certificate is renewed.
 */
export async function writeRegistryTls(dir: string, { ca, cert, key }: { ca?: string; cert?: string; key?: string }): Promise<RegistryTls | undefined> {
  if (!ca) return undefined;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') };
  await writeFile(files.caFile, ca, { mode: 0o644 });
  if (!cert || !key) return { caFile: files.caFile };
  await writeFile(files.certFile, cert, { mode: 0o644 });
  await writeFile(files.keyFile, key, { mode: 0o600 });
  return files;
}

/**
 * The CRI endpoint: the one given, or ketch's runtime started here (as a child process unless runtimeInProcess). The
 * runtime keeps real time whatever the agent's clock: it is another component, as containerd is to kubelet.
 */
async function runtimeEndpoint(o: AgentOptions, rootDir: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  if (o.runtimeEndpoint) return o.runtimeEndpoint;
  const endpoint = `unix://${join(rootDir, 'runtime.sock')}`;
  const start = o.runtimeInProcess ? startRuntimeService : spawnRuntimeService;
  const clusterTls = await writeRegistryTls(join(rootDir, 'registry-tls'), o.rest.config);
  const service: RuntimeServiceHandle = await start({
    root: join(rootDir, 'runtime'),
    listen: endpoint,
    mountsDir: rootDir,
    ...(o.insecureRegistries ? { insecureRegistries: o.insecureRegistries } : {}),
    ...(o.registryMirrors ? { registryMirrors: o.registryMirrors } : {}),
    ...(clusterTls ? { clusterTls } : {}),
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
  const routes = new NodeRoutes({ nodes, nodeName: o.nodeName, hostIP, clusterCIDR: o.clusterCidr ?? DEFAULT_CLUSTER_CIDR, log });
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

/**
 * The node's half of Delete reclaim for local-path volumes pinned here (the directory, then the PV's finalizer). It
 * lists, watches and updates PersistentVolumes, which the node authorizer does not grant a node's own credentials:
 * without the rights (a worker joined as its node) it is not run, and the PVs wait for a cleaner that has them.
 */
async function startLocalPathCleaner(o: AgentOptions, log: Logger, cleanups: (() => Promise<void>)[]): Promise<void> {
  try {
    await o.rest.resource<PersistentVolume>(PERSISTENTVOLUMES).list(undefined, { limit: 1 });
  } catch (err) {
    if (!isForbidden(err)) throw err;
    log.info('local-path cleanup not run on this node: its credentials may not list persistentvolumes', { node: o.nodeName });
    return;
  }
  const cleaner = new LocalPathCleaner(o.rest, new LocalPathNodeService(o.nodeName, o.localPathRoots ?? [DEFAULT_LOCAL_PATH_ROOT]));
  await cleaner.start();
  cleanups.push(() => cleaner.stop());
}

/** The node network (service proxy, cluster DNS) from the agent's NodeNetworkSettings; stopped with the agent. */
async function startAgentNetwork(o: AgentOptions, hostIP: string, log: Logger, cleanups: (() => Promise<void>)[]): Promise<NodeNetwork> {
  const network = await startNodeNetwork({
    rest: o.rest,
    nodeName: o.nodeName,
    nodeIP: hostIP,
    nodeUID: (await o.rest.resource<Node>(NODES).get(undefined, o.nodeName)).metadata.uid,
    log,
    clusterCidr: o.clusterCidr,
    serviceCidr: o.serviceCidr,
    serviceProxy: o.serviceProxy,
    clusterDNS: o.clusterDNS,
    clusterDomain: o.clusterDomain,
    clusterDnsPort: o.clusterDnsPort,
    resolvConf: o.resolvConf,
  });
  cleanups.push(() => network.stop());
  return network;
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
      volumes: new VolumeManager(rootDir, undefined, { nodeName: o.nodeName, ...(o.localPathRoots ? { localPathRoots: o.localPathRoots } : {}) }),
      backoff: new Backoff(clock, o.backoff?.initialMs ?? INITIAL_BACKOFF_MS, o.backoff?.maxMs ?? MAX_BACKOFF_MS),
      events: new EventRecorder(o.rest.resource<KubeEvent>(EVENTS), { component: 'kubelet', host: o.nodeName }, clock),
      nodeName: o.nodeName,
      hostIP,
      hostCapacity: capacity,
      security: { seccompDefault: o.seccompDefault ?? true, seccompProfileRoot: join(rootDir, 'seccomp') },
      podCIDR: () => podCIDR,
      logDir: (pod) => podLogDir(rootDir, pod),
      syncIntervalMs: o.syncIntervalMs ?? 1000,
      ...(o.volumeRefreshMs !== undefined ? { volumeRefreshMs: o.volumeRefreshMs } : {}),
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
      volumesInUse: () => ctx.volumes.volumesInUse(),
    });
    await node.register();
    node.start();
    cleanups.push(() => node.stop());
    ctx.network = await startAgentNetwork(o, hostIP, log, cleanups);
    const certs = await startNodeCertificates({
      rest: o.rest,
      rootDir,
      nodeName: o.nodeName,
      hostIP,
      rotateClient: o.rotateCertificates === true,
      rotateServing: o.rotateServerCertificates === true,
      setServing: (pair) => server.setServingCertificate(pair),
      onClientRotate: async (pair) => void (await writeRegistryTls(join(rootDir, 'registry-tls'), { ca: o.rest.config.ca, ...pair })),
      clock,
      log,
    });
    cleanups.push(async () => certs.stop());

    await pods.start(abort.signal);
    cleanups.push(() => pods.stop());
    awaitPodCIDR(node, runtime, pods, (cidr) => (podCIDR = cidr), abort.signal, log);
    if (o.podRoutes !== false) cleanups.push(startPodRoutes(o, hostIP, log));
    await startLocalPathCleaner(o, log, cleanups);

    cleanups.push(startImageGc(o, runtime, clock, log));

    log.info('agent started', { node: o.nodeName, port: server.port, runtime: endpoint });
    return { port: server.port, runtimeEndpoint: endpoint, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
