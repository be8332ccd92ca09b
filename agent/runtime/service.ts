// Starts the runtime service: the stores (images, containers, sandboxes), the pod network, streaming, image GC and
// the CRI gRPC server over them.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ContainerStore } from './containers.js';
import { writeHostBusyboxArchive } from './host-image.js';
import { connectRuntime, type RuntimeClient } from '../cri/client.js';
import { serveCri } from '../cri/server.js';
import { saveImageArchive } from './image-archive.js';
import { type ImageGcPolicy, ImageStore } from './image-store.js';
import type { RegistryOptions } from './registry-client.js';
import { imageService } from './image-service.js';
import { NetworkManager } from './network.js';
import { claimBridge, removeUnrecorded } from './host-claims.js';
import { runtimeService, runcVersion } from './runtime-service.js';
import { SandboxStore } from './sandboxes.js';
import { StreamingServer } from './streaming.js';
import { every, realClock, type Clock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export interface RuntimeServiceOptions {
  /** State directory: images, containers, sandboxes; survives restarts. */
  root: string;
  /** gRPC endpoint, e.g. unix:///run/ketch/runtime.sock. */
  listen: string;
  /** Registries (host[:port]) reached over plain HTTP; loopback ones always are. */
  insecureRegistries?: string[];
  /** Registry host -> mirror URL, e.g. {"docker.io": "http://127.0.0.1:5000"}. */
  registryMirrors?: Record<string, string>;
  /** The cluster CA (trusted for registries beside the system's) and the node's client certificate, as files. */
  clusterTls?: RegistryOptions['clusterTls'];
  /** Linux bridge for pod networks (default: ketch + 6 hex of the root path, so two roots never share one). */
  bridge?: string;
  /** Address of the streaming server for exec/attach/port-forward (default 127.0.0.1, random port). */
  streamingAddress?: string;
  streamingPort?: number;
  /** Rotate container logs by size (kubelet's containerLogMaxSize; default 10 MiB, 0 = never). */
  containerLogMaxBytes?: number;
  /** Log files kept per container, the live one included (kubelet's containerLogMaxFiles; default 5). */
  containerLogMaxFiles?: number;
  /**
   * The directory whose mounts belong to this run (default root): where the agent beside the runtime keeps its pods'
   * volumes too (`ketch up`: its data dir). A later run that clears a dead one out of its way unmounts all under it.
   */
  mountsDir?: string;
  /** Image garbage collection by the image filesystem's usage (kubelet's imageGC* settings). */
  imageGc?: Partial<ImageGcPolicy> & { intervalMs?: number; disabled?: boolean };
}

export interface RuntimeServiceHandle {
  /** Stops serving; containers and their monitors keep running. */
  close(): Promise<void>;
  /**
   * Stops and removes every pod sandbox, then the pod bridge: nothing of this runtime stays on the host. With a grace
   * period, running containers get their stop signal first and that long to exit (kubelet's graceful node shutdown).
   */
  removeAllPods(graceSeconds?: number): Promise<void>;
}

/** The pod bridge of a runtime root: ketch + 6 hex of the path, so two roots never share one. */
export const defaultBridge = (root: string): string => `ketch${createHash('sha1').update(resolve(root)).digest('hex').slice(0, 6)}`;

/**
 * After a crash: claims the bridge (adopting an earlier run's of this root), removes the unrecorded pieces an earlier
 * run of this root left, clears a dead run of another root out of the way of the pod CIDR, and refuses to start when
 * a live cluster routes the pod CIDR kept from the last run.
 */
async function recoverHost(network: NetworkManager, sandboxes: SandboxStore, containers: ContainerStore, root: string, mountsDir: string): Promise<void> {
  await claimBridge(network.bridge, root, mountsDir);
  const [sb, ct] = await Promise.all([sandboxes.list(), containers.list()]);
  await removeUnrecorded({ bridge: network.bridge, runcRoot: containers.runcRoot, sandboxIds: sb.map((s) => s.id), containerIds: ct.map((c) => c.id) });
  const cidr = await network.podCidr();
  if (cidr) await network.checkPodCidr(cidr);
}

/**
 * Starts the runtime service. Closing it leaves containers running; a new one on the same root finds them. The clock
 * is a parameter of its own, not an option: the options go to a runtime child as JSON (child.ts).
 */
export async function startRuntimeService(opts: RuntimeServiceOptions, clock: Clock = realClock): Promise<RuntimeServiceHandle> {
  const root = resolve(opts.root);
  await mkdir(root, { recursive: true });
  const network = new NetworkManager(root, opts.bridge ?? defaultBridge(root));
  let containers: ContainerStore | undefined;
  const images = new ImageStore(
    root,
    { insecureRegistries: opts.insecureRegistries ?? [], mirrors: opts.registryMirrors ?? {}, ...(opts.clusterTls ? { clusterTls: opts.clusterTls } : {}) },
    async () => (containers ? containers.imagesInUse() : { imageIds: new Set<string>(), chainIds: new Set<string>() }),
    clock,
  );
  containers = new ContainerStore(root, images, { maxBytes: opts.containerLogMaxBytes ?? 10 * 1024 * 1024, maxFiles: opts.containerLogMaxFiles ?? 5 }, clock);
  const sandboxes = new SandboxStore(root, network);
  await Promise.all([images.init(), containers.init(), sandboxes.init(), network.init()]);
  await recoverHost(network, sandboxes, containers, root, opts.mountsDir ? resolve(opts.mountsDir) : root);
  const streaming = new StreamingServer(
    {
      runcRoot: containers.runcRoot,
      helperDir: join(root, 'bin'),
      containerDir: containers.containerDir.bind(containers),
      sandboxNet: async (id) => {
        const s = await sandboxes.get(id);
        return { ip: s.network?.ip, netnsPath: s.hostNetwork ? undefined : s.network?.netnsPath };
      },
    },
    opts.streamingAddress,
    clock,
  );
  await streaming.start(opts.streamingPort);
  const gcPolicy: ImageGcPolicy = {
    highThresholdPercent: opts.imageGc?.highThresholdPercent ?? 85,
    lowThresholdPercent: opts.imageGc?.lowThresholdPercent ?? 80,
    minAgeMs: opts.imageGc?.minAgeMs ?? 2 * 60_000,
  };
  // Each collection starts intervalMs after the previous one ended, so two never overlap. A node agent that runs this
  // runtime turns it off: the agent collects over the CRI (agent/image-gc.ts), as the kubelet does.
  const gc = opts.imageGc?.disabled ? undefined : every(clock, opts.imageGc?.intervalMs ?? 5 * 60_000, () => images.garbageCollect(gcPolicy), (err) => log.warn('image garbage collection failed', { error: String(err) }), {
    delayFirst: true,
  });
  const runc = await runcVersion();
  if (!runc) log.warn('runc not found: containers cannot run');

  const socketPath = opts.listen.startsWith('unix://') ? opts.listen.slice('unix://'.length) : undefined;
  if (socketPath) {
    await mkdir(resolve(socketPath, '..'), { recursive: true });
    await rm(socketPath, { force: true });
  }
  const server = await serveCri(opts.listen, runtimeService({ sandboxes, containers, network, streaming, runcVersion: runc }), imageService(images), clock);
  const [sb, ct] = await Promise.all([sandboxes.list(), containers.list()]);
  log.info('runtime service listening', { listen: opts.listen, root, sandboxes: sb.length, containers: ct.length, runc });
  return {
    async removeAllPods(graceSeconds = 0) {
      const client = connectRuntime(opts.listen, { timeoutMs: 60_000 + graceSeconds * 1000 });
      try {
        if (graceSeconds > 0) await stopGracefully(client, graceSeconds, clock);
        const { items } = await client.runtime.listPodSandbox({});
        for (const sb of items ?? []) {
          await client.runtime.stopPodSandbox({ podSandboxId: sb.id });
          await client.runtime.removePodSandbox({ podSandboxId: sb.id });
        }
      } finally {
        client.close();
      }
      await network.removeBridge();
    },
    async close() {
      gc?.cancel();
      await new Promise<void>((res) => server.tryShutdown(() => res()));
      await streaming.close();
      await containers?.close();
      if (socketPath) await rm(socketPath, { force: true });
      log.info('runtime service stopped', { listen: opts.listen });
    },
  };
}

/**
 * Puts the host's busybox into the image store of a runtime root under refs; with keepExisting, names the store already
 * has keep their image. Returns the names written. The runtime must not run on that root meanwhile.
 */
export async function importHostBusybox(root: string, refs: string[], opts: { keepExisting?: boolean } = {}): Promise<string[]> {
  const images = new ImageStore(resolve(root), { insecureRegistries: [], mirrors: {} });
  await images.init();
  const wanted: string[] = [];
  for (const ref of refs) if (!opts.keepExisting || !(await images.find(ref))) wanted.push(ref);
  if (!wanted.length) return [];
  const dir = await mkdtemp(join(tmpdir(), 'ketch-host-busybox-'));
  try {
    await writeHostBusyboxArchive(join(dir, 'busybox.tar'), wanted);
    await images.loadArchive(join(dir, 'busybox.tar'));
    return wanted;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Imports an OCI image-layout tar into the image store under `root` (the service need not run). */
export async function loadImageArchive(root: string, file: string, opts: { name?: string } = {}): Promise<string[]> {
  const loaded = await (await localStore(root)).loadArchive(file, opts);
  return loaded.flatMap((i) => i.repoTags);
}

async function localStore(root: string): Promise<ImageStore> {
  const images = new ImageStore(resolve(root), { insecureRegistries: [], mirrors: {} });
  await images.init();
  return images;
}

/** `ketch image save`: images of the store under root as an OCI image-layout tar; returns the names written. */
export async function saveImagesArchive(root: string, names: string[], file: string): Promise<string[]> {
  return saveImageArchive(await localStore(root), names, file);
}

/** `ketch image tag`: names an image of the store under root also as target; returns its id. */
export async function tagImage(root: string, source: string, target: string): Promise<string> {
  return (await (await localStore(root)).tag(source, target)).id;
}

/** Pod/container names of the running containers, as a reader knows them ("default/web-1/web"). */
async function runningContainers(client: RuntimeClient): Promise<Map<string, string>> {
  const [{ items }, { containers }] = await Promise.all([client.runtime.listPodSandbox({}), client.runtime.listContainers({ filter: { state: { state: 'CONTAINER_RUNNING' } } })]);
  const pods = new Map(items.map((sb) => [sb.id, sb.metadata ? `${sb.metadata.namespace}/${sb.metadata.name}` : sb.id.slice(0, 12)]));
  return new Map(containers.map((c) => [c.id, `${pods.get(c.podSandboxId) ?? c.podSandboxId.slice(0, 12)}/${c.metadata?.name ?? c.id.slice(0, 12)}`]));
}

/**
 * Sends every running container its stop signal at once and waits up to graceSeconds for them to exit (then they are
 * killed). Says what it waits for: at the start, and after a second the ones still running (those ignore SIGTERM).
 */
async function stopGracefully(client: RuntimeClient, graceSeconds: number, clock: Clock): Promise<void> {
  const running = await runningContainers(client);
  if (!running.size) return;
  log.info('stopping containers', { containers: [...running.values()], graceSeconds });
  const slow = clock.setTimer(1000, () => {
    runningContainers(client).then(
      (left) => left.size && log.warn('waiting for containers to exit after their stop signal, killing them when the grace period ends', { containers: [...left.values()], graceSeconds }),
      (err: unknown) => log.debug('listing running containers failed', { error: String(err) }),
    );
  });
  try {
    await Promise.all(
      [...running].map(([id, name]) =>
        client.runtime.stopContainer({ containerId: id, timeout: graceSeconds }).catch((err: unknown) => log.warn('container stop failed, the sandbox removal kills it', { container: name, error: String(err) })),
      ),
    );
  } finally {
    slow.cancel();
  }
}
