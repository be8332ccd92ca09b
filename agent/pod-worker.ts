// One worker per pod: reconciles the pod with the runtime (sandbox, init containers in order, app containers,
// restarts with back-off, probes), tears it down on deletion, and writes its status when it changed.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultPullPolicy, isConflict, isNotFound, nowRFC3339, type ConfigMap, type Container, type LifecycleHandler, type Pod, type Secret } from '../api/index.js';
import type { EventRecorder, ResourceClient, RestClient } from '../client/index.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Backoff } from './backoff.js';
import { ContainerConfigError, LABELS, ObjectCache, containerConfig, containerEnv, containerMounts } from './pod-config.js';
import { computePodStatus, isExited, isRunning, stableJson, type ContainerObservation } from './pod-status.js';
import { ContainerProbes, runProbe } from './probes.js';
import { POD_CIDR_ANNOTATION, type ContainerStatus as CriStatus, type DeepPartial, type PodSandboxConfig, type RuntimeClient } from './cri/index.js';
import { MountError, type VolumeManager } from './volumes.js';

export interface PodWorkerContext {
  rest: RestClient;
  pods: ResourceClient<Pod>;
  configMaps: ResourceClient<ConfigMap>;
  secrets: ResourceClient<Secret>;
  runtime: RuntimeClient;
  runtimeName: string;
  clock: Clock;
  log: Logger;
  volumes: VolumeManager;
  backoff: Backoff;
  events: EventRecorder;
  nodeName: string;
  hostIP: string;
  hostCapacity: Record<string, string>;
  /** The node's pod CIDR, once the controller manager has allocated it. */
  podCIDR(): string | undefined;
  logDir(pod: Pod): string;
  /**
   * How often a pod that is still changing (starting, backing off, waiting for something) is synced, and the period
   * of the pod manager's relist, which syncs at once any pod whose containers or sandbox changed in the runtime.
   */
  syncIntervalMs: number;
}

/** A settled pod (all containers running or done, nothing waiting) is synced every this many relist periods. */
const SETTLED_RESYNC_PERIODS = 10;

type Kind = 'init' | 'app';

interface Observed {
  init: Map<string, ContainerObservation>;
  app: Map<string, ContainerObservation>;
  podIP?: string;
}

const GRACE_DEFAULT = 30;
const VOLUME_REFRESH_MS = 60_000;

export class PodWorker {
  private pod: Pod;
  private removed = false;
  private finished = false;
  private sandboxId: string | undefined;
  private sandboxConfig: DeepPartial<PodSandboxConfig> | undefined;
  private podIP: string | undefined;
  private readonly probes = new Map<string, ContainerProbes>();
  private readonly waiting = new Map<string, { reason: string; message: string }>();
  /** When each exited container was first seen exited (clock time): back-off counts from there. */
  private readonly exitSeen = new Map<string, number>();
  private startTime: string | undefined;
  private volumes: Map<string, string> | undefined;
  private volumesAt = 0;
  private sandboxStopped = false;
  private lastWritten = '';
  private running: Promise<void> | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The last pass left nothing to do: the relist (pod-manager.ts) and probes wake the worker on changes. */
  private settled = false;
  private readonly log: Logger;
  readonly uid: string;

  constructor(
    pod: Pod,
    private readonly ctx: PodWorkerContext,
    private readonly onFinished: (uid: string) => void,
  ) {
    this.pod = pod;
    this.uid = pod.metadata.uid ?? '';
    this.log = ctx.log.child({ pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
  }

  get key(): string {
    return `${this.pod.metadata.namespace}/${this.pod.metadata.name}`;
  }

  get current(): Pod {
    return this.pod;
  }

  get sandbox(): string | undefined {
    return this.sandboxId;
  }

  update(pod: Pod): void {
    // The echo of our own status write: the worker has this version already and acted on it.
    const same = pod.metadata.resourceVersion !== undefined && pod.metadata.resourceVersion === this.pod.metadata.resourceVersion;
    this.pod = pod;
    if (!same) this.kick();
  }

  /** The pod object is gone from the API (force delete): stop everything, nothing to report. */
  remove(): void {
    this.removed = true;
    this.kick();
  }

  /** Stops the worker loop, leaving containers as they are (agent shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const p of this.probes.values()) p.stop();
    await this.running;
  }

  kick(): void {
    if (this.stopped || this.finished) return;
    this.dirty = true;
    if (this.running) return;
    this.running = (async () => {
      while (this.dirty && !this.stopped && !this.finished) {
        this.dirty = false;
        try {
          await this.sync();
        } catch (err) {
          this.log.warn('pod sync failed', { error: err instanceof Error ? err.message : String(err) });
        }
      }
      this.running = undefined;
      if (!this.stopped && !this.finished) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => this.kick(), this.ctx.syncIntervalMs * (this.settled ? SETTLED_RESYNC_PERIODS : 1));
        this.timer.unref();
      }
    })();
  }

  private get terminating(): boolean {
    return this.removed || Boolean(this.pod.metadata.deletionTimestamp);
  }

  private isTerminalPhase(): boolean {
    const p = this.pod.status?.phase;
    return p === 'Succeeded' || p === 'Failed';
  }

  // ---- the reconcile pass ----

  private async sync(): Promise<void> {
    this.settled = false;
    if (this.terminating) return this.terminate();
    const pod = this.pod;
    this.startTime ??= pod.status?.startTime ?? nowRFC3339(new Date(this.ctx.clock.now()));
    if (this.isTerminalPhase()) {
      // A finished pod never runs again; release its network but keep the containers for logs.
      if (!this.sandboxStopped) await this.stopSandboxes(false);
      this.sandboxStopped = true;
      return;
    }
    const cidr = this.ctx.podCIDR();
    if (!pod.spec.hostNetwork && !cidr) {
      await this.writeStatus(await this.observe(), 'waiting for the node pod CIDR');
      return;
    }
    const objects = new ObjectCache({ configMaps: this.ctx.configMaps, secrets: this.ctx.secrets }, pod.metadata.namespace ?? 'default');
    let volumes: Map<string, string>;
    try {
      // Volume contents (configMaps, secrets, tokens) are refreshed once a minute, not on every pass.
      if (!this.volumes || Date.now() - this.volumesAt > VOLUME_REFRESH_MS) {
        this.volumes = await this.ctx.volumes.setUp({ pod, hostIP: this.ctx.hostIP, podIP: this.podIP ?? '', objects, rest: this.ctx.rest });
        this.volumesAt = Date.now();
      }
      volumes = this.volumes;
    } catch (err) {
      if (!(err instanceof MountError || err instanceof ContainerConfigError)) throw err;
      this.setWaitingAll('ContainerCreating', err.message);
      void this.ctx.events.event(this.ref(), 'Warning', 'FailedMount', err.message);
      await this.writeStatus(await this.observe());
      return;
    }
    if (!(await this.ensureSandbox(cidr))) {
      await this.writeStatus(await this.observe());
      return;
    }
    let obs = await this.observe();
    this.updateProbes(obs);
    const acted = await this.reconcileContainers(obs, objects, volumes);
    if (acted) obs = await this.observe();
    const status = await this.writeStatus(obs);
    this.settled = this.waiting.size === 0 && isSettled(status);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') {
      this.log.info('pod finished', { phase: status.phase });
      for (const p of this.probes.values()) p.stop();
      this.probes.clear();
      await this.stopSandboxes(false);
    }
  }

  private ref(): Pod {
    return { ...this.pod, apiVersion: 'v1', kind: 'Pod' };
  }

  private setWaitingAll(reason: string, message: string): void {
    for (const c of [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]) this.waiting.set(c.name, { reason, message });
  }

  private sandboxLabels(): Record<string, string> {
    return {
      [LABELS.podUid]: this.uid,
      [LABELS.podName]: this.pod.metadata.name ?? '',
      [LABELS.podNamespace]: this.pod.metadata.namespace ?? '',
      [LABELS.node]: this.ctx.nodeName,
    };
  }

  private buildSandboxConfig(attempt: number, cidr: string | undefined): DeepPartial<PodSandboxConfig> {
    const pod = this.pod;
    const dns = pod.spec.dnsConfig;
    return {
      metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: this.uid, attempt },
      hostname: pod.spec.hostname || pod.metadata.name,
      logDirectory: this.ctx.logDir(pod),
      ...(dns ? { dnsConfig: { servers: dns.nameservers ?? [], searches: dns.searches ?? [], options: (dns.options ?? []).map((o) => (o.value ? `${o.name}:${o.value}` : (o.name ?? ''))) } } : {}),
      portMappings: pod.spec.containers.flatMap((c) =>
        (c.ports ?? []).filter((p) => p.hostPort).map((p) => ({ protocol: p.protocol ?? 'TCP', containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIP ?? '' })),
      ),
      labels: this.sandboxLabels(),
      annotations: cidr ? { [POD_CIDR_ANNOTATION]: cidr } : {},
      linux: {
        sysctls: Object.fromEntries((pod.spec.securityContext?.sysctls ?? []).map((s) => [s.name, s.value])),
        securityContext: {
          namespaceOptions: {
            network: pod.spec.hostNetwork ? 'NODE' : 'POD',
            pid: pod.spec.hostPID ? 'NODE' : pod.spec.shareProcessNamespace ? 'POD' : 'CONTAINER',
            ipc: pod.spec.hostIPC ? 'NODE' : 'POD',
          },
        },
      },
    };
  }

  /** Finds or creates a ready sandbox; a sandbox that died is replaced (with all its containers). */
  private async ensureSandbox(cidr: string | undefined): Promise<boolean> {
    const rt = this.ctx.runtime.runtime;
    const { items } = await rt.listPodSandbox({ filter: { labelSelector: { [LABELS.podUid]: this.uid } } });
    const sorted = [...items].sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0));
    const ready = sorted.find((s) => s.state === 'SANDBOX_READY');
    if (ready) {
      if (this.sandboxId !== ready.id || !this.podIP) {
        this.sandboxId = ready.id;
        this.sandboxConfig = this.buildSandboxConfig(ready.metadata?.attempt ?? 0, cidr);
        const st = await rt.podSandboxStatus({ podSandboxId: ready.id });
        this.podIP = this.pod.spec.hostNetwork ? this.ctx.hostIP : st.status?.network?.ip || undefined;
      }
      return true;
    }
    const attempt = sorted.length ? (sorted[0]?.metadata?.attempt ?? 0) + 1 : 0;
    for (const s of sorted) {
      this.log.info('removing a dead pod sandbox', { sandbox: s.id });
      await rt.removePodSandbox({ podSandboxId: s.id });
    }
    this.sandboxConfig = this.buildSandboxConfig(attempt, cidr);
    try {
      const { podSandboxId } = await rt.runPodSandbox({ config: this.sandboxConfig });
      this.sandboxId = podSandboxId;
      const st = await rt.podSandboxStatus({ podSandboxId });
      this.podIP = this.pod.spec.hostNetwork ? this.ctx.hostIP : st.status?.network?.ip || undefined;
      this.log.info('pod sandbox started', { sandbox: podSandboxId, ip: this.podIP });
      return true;
    } catch (err) {
      const message = `failed to create pod sandbox: ${err instanceof Error ? err.message : String(err)}`;
      this.setWaitingAll('ContainerCreating', message);
      void this.ctx.events.event(this.ref(), 'Warning', 'FailedCreatePodSandBox', message);
      return false;
    }
  }

  /** The runtime's view of the pod's containers: per name, the latest attempt and the one before. Older attempts are removed. */
  private async observe(): Promise<Observed> {
    const out: Observed = { init: new Map(), app: new Map(), podIP: this.podIP };
    const pod = this.pod;
    const byName = new Map<string, CriStatus[]>();
    if (this.sandboxId) {
      const rt = this.ctx.runtime.runtime;
      const { containers } = await rt.listContainers({ filter: { podSandboxId: this.sandboxId, labelSelector: { [LABELS.podUid]: this.uid } } });
      const groups = new Map<string, typeof containers>();
      for (const c of containers) {
        const name = c.labels[LABELS.container] ?? c.metadata?.name ?? '';
        groups.set(name, [...(groups.get(name) ?? []), c]);
      }
      for (const [name, list] of groups) {
        list.sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0));
        for (const old of list.slice(2)) await rt.removeContainer({ containerId: old.id }).catch(() => undefined);
        const statuses: CriStatus[] = [];
        for (const c of list.slice(0, 2)) {
          const s = await rt.containerStatus({ containerId: c.id }).catch(() => undefined);
          if (s?.status) statuses.push(s.status);
        }
        byName.set(name, statuses);
      }
    }
    const fill = (containers: Container[], target: Map<string, ContainerObservation>): void => {
      for (const c of containers) {
        const [current, previous] = byName.get(c.name) ?? [];
        const probes = current ? this.probes.get(current.id) : undefined;
        if (isExited(current) && !this.exitSeen.has(current.id)) this.exitSeen.set(current.id, this.ctx.clock.now());
        target.set(c.name, {
          ...(current ? { current } : {}),
          ...(previous ? { previous } : {}),
          ...(this.waiting.has(c.name) ? { waiting: this.waiting.get(c.name)! } : {}),
          ready: probes ? probes.ready : false,
          started: probes ? probes.started : false,
        });
      }
    };
    fill(pod.spec.initContainers ?? [], out.init);
    fill(pod.spec.containers, out.app);
    return out;
  }

  /** Starts probe workers for running app containers and drops those of containers that stopped. */
  private updateProbes(obs: Observed): void {
    const live = new Set<string>();
    for (const c of this.pod.spec.containers) {
      const cur = obs.app.get(c.name)?.current;
      if (!isRunning(cur)) continue;
      live.add(cur.id);
      if (!this.probes.has(cur.id)) {
        const probes = new ContainerProbes(
          {
            containerId: cur.id,
            container: c,
            host: this.podIP ?? this.ctx.hostIP,
            exec: this.execSync,
          },
          this.ctx.clock,
          () => this.kick(),
        );
        this.probes.set(cur.id, probes);
        const o = obs.app.get(c.name);
        if (o) {
          o.ready = probes.ready;
          o.started = probes.started;
        }
      }
    }
    for (const [id, p] of this.probes) {
      if (!live.has(id)) {
        p.stop();
        this.probes.delete(id);
      }
    }
  }

  /** Runs a command in a container for probes and hooks: exit code and combined output. */
  private readonly execSync = async (containerId: string, cmd: string[], timeoutSec: number): Promise<{ exitCode: number; output: string }> => {
    const r = await this.ctx.runtime.runtime.execSync({ containerId, cmd, timeout: timeoutSec }, { timeoutMs: (timeoutSec + 5) * 1000 });
    return { exitCode: r.exitCode, output: Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)]).toString('utf8') };
  };

  private shouldRestart(exitCode: number): boolean {
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
  }

  /** Runs init containers in order, then the app containers; returns true when it changed something. */
  private async reconcileContainers(obs: Observed, objects: ObjectCache, volumes: Map<string, string>): Promise<boolean> {
    const pod = this.pod;
    for (const c of pod.spec.initContainers ?? []) {
      const o = obs.init.get(c.name);
      const cur = o?.current;
      if (isExited(cur) && cur.exitCode === 0) continue;
      if (isRunning(cur)) return false;
      if (cur?.state === 'CONTAINER_CREATED') return this.startCreated(c, cur);
      if (isExited(cur)) {
        if ((pod.spec.restartPolicy ?? 'Always') === 'Never') return false; // the pod has failed
        return this.restartWithBackoff(c, 'init', cur, objects, volumes);
      }
      return this.start(c, 'init', 0, objects, volumes);
    }
    let acted = false;
    for (const c of pod.spec.containers) {
      const o = obs.app.get(c.name);
      const cur = o?.current;
      if (!cur) {
        acted = (await this.start(c, 'app', 0, objects, volumes)) || acted;
      } else if (cur.state === 'CONTAINER_CREATED') {
        acted = (await this.startCreated(c, cur)) || acted;
      } else if (isRunning(cur)) {
        const failed = this.probes.get(cur.id)?.failed;
        if (failed) {
          this.log.info('probe failed, killing the container', { container: c.name, probe: failed.kind, message: failed.message });
          void this.ctx.events.event(this.ref(), 'Warning', 'Unhealthy', failed.message);
          void this.ctx.events.event(this.ref(), 'Normal', 'Killing', `Container ${c.name} failed ${failed.kind} probe, will be restarted`);
          this.probes.get(cur.id)?.stop();
          this.probes.delete(cur.id);
          const probe = failed.kind === 'liveness' ? c.livenessProbe : c.startupProbe;
          const grace = Number(probe?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? GRACE_DEFAULT);
          await this.stopContainer(cur.id, grace);
          acted = true;
        }
      } else if (isExited(cur) && this.shouldRestart(cur.exitCode)) {
        acted = (await this.restartWithBackoff(c, 'app', cur, objects, volumes)) || acted;
      }
    }
    return acted;
  }

  private async startCreated(c: Container, cur: CriStatus): Promise<boolean> {
    // Created but never started (an earlier pass failed half way): start it now.
    try {
      await this.ctx.runtime.runtime.startContainer({ containerId: cur.id });
      this.waiting.delete(c.name);
    } catch (err) {
      this.waiting.set(c.name, { reason: 'RunContainerError', message: err instanceof Error ? err.message : String(err) });
      // A container that will not start is removed, so that the next pass creates a new one instead of retrying it forever.
      await this.ctx.runtime.runtime.removeContainer({ containerId: cur.id }).catch((e: unknown) => this.log.warn('container not removed', { container: c.name, error: String(e) }));
    }
    return true;
  }

  private async restartWithBackoff(c: Container, kind: Kind, cur: CriStatus, objects: ObjectCache, volumes: Map<string, string>): Promise<boolean> {
    const key = `${this.uid}/${c.name}`;
    const b = this.ctx.backoff.check(key, this.exitSeen.get(cur.id));
    if (b) {
      const message = `back-off ${Math.round(b.delayMs / 1000)}s restarting failed container=${c.name} pod=${this.pod.metadata.name}_${this.pod.metadata.namespace}(${this.uid})`;
      if (this.waiting.get(c.name)?.reason !== 'CrashLoopBackOff') {
        void this.ctx.events.event(this.ref(), 'Warning', 'BackOff', 'Back-off restarting failed container');
      }
      this.waiting.set(c.name, { reason: 'CrashLoopBackOff', message });
      return false;
    }
    this.ctx.backoff.next(key);
    return this.start(c, kind, (cur.metadata?.attempt ?? 0) + 1, objects, volumes);
  }

  /** Pulls the image as imagePullPolicy says; on failure the container waits in ErrImagePull / ImagePullBackOff. */
  private async ensureImage(c: Container): Promise<boolean> {
    const img = this.ctx.runtime.image;
    const policy = c.imagePullPolicy ?? defaultPullPolicy(c.image);
    const present = (await img.imageStatus({ image: { image: c.image } })).image;
    if (policy === 'Never') {
      if (present) return true;
      this.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: `Container image "${c.image}" is not present with pull policy of Never` });
      return false;
    }
    if (policy === 'IfNotPresent' && present) return true;
    const key = `${this.uid}/pull/${c.name}`;
    if (this.ctx.backoff.check(key)) {
      this.waiting.set(c.name, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` });
      return false;
    }
    void this.ctx.events.event(this.ref(), 'Normal', 'Pulling', `Pulling image "${c.image}"`);
    try {
      const started = Date.now();
      await this.ctx.runtime.image.pullImage({ image: { image: c.image }, sandboxConfig: this.sandboxConfig ?? null });
      this.ctx.backoff.reset(key);
      void this.ctx.events.event(this.ref(), 'Normal', 'Pulled', `Successfully pulled image "${c.image}" in ${Date.now() - started}ms`);
      return true;
    } catch (err) {
      this.ctx.backoff.next(key);
      const message = `Failed to pull image "${c.image}": ${err instanceof Error ? err.message : String(err)}`;
      this.waiting.set(c.name, { reason: 'ErrImagePull', message });
      void this.ctx.events.event(this.ref(), 'Warning', 'Failed', message);
      return false;
    }
  }

  private async start(c: Container, kind: Kind, attempt: number, objects: ObjectCache, volumes: Map<string, string>): Promise<boolean> {
    if (!this.sandboxId) return false;
    if (!(await this.ensureImage(c))) return true;
    const rt = this.ctx.runtime.runtime;
    let containerId: string;
    try {
      const env = await containerEnv(c, { pod: this.pod, hostIP: this.ctx.hostIP, podIP: this.podIP ?? '', objects, hostCapacity: this.ctx.hostCapacity });
      const mounts = containerMounts(c, volumes, env);
      const config = containerConfig({ pod: this.pod, container: c, kind, attempt, env, mounts });
      ({ containerId } = await rt.createContainer({ podSandboxId: this.sandboxId, config, sandboxConfig: this.sandboxConfig ?? null }));
    } catch (err) {
      const reason = err instanceof ContainerConfigError ? 'CreateContainerConfigError' : 'CreateContainerError';
      const message = err instanceof Error ? err.message : String(err);
      this.waiting.set(c.name, { reason, message });
      void this.ctx.events.event(this.ref(), 'Warning', 'Failed', `Error: ${message}`);
      return true;
    }
    void this.ctx.events.event(this.ref(), 'Normal', 'Created', `Created container ${c.name}`);
    try {
      await rt.startContainer({ containerId });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.waiting.set(c.name, { reason: 'RunContainerError', message });
      void this.ctx.events.event(this.ref(), 'Warning', 'Failed', `Error: ${message}`);
      return true;
    }
    this.waiting.delete(c.name);
    this.log.info('container started', { container: c.name, attempt, id: containerId.slice(0, 12) });
    void this.ctx.events.event(this.ref(), 'Normal', 'Started', `Started container ${c.name}`);
    if (c.lifecycle?.postStart) {
      const r = await this.runHook(c.lifecycle.postStart, containerId, c, 30);
      if (!r.ok) {
        void this.ctx.events.event(this.ref(), 'Warning', 'FailedPostStartHook', r.message);
        await this.stopContainer(containerId, 0);
      }
    }
    return true;
  }

  private async runHook(h: LifecycleHandler, containerId: string, c: Container, timeoutSec: number): Promise<{ ok: boolean; message: string }> {
    if (h.sleep) {
      await new Promise((r) => setTimeout(r, Math.min(Number(h.sleep?.seconds ?? 0), timeoutSec) * 1000));
      return { ok: true, message: '' };
    }
    const target = {
      containerId,
      container: c,
      host: this.podIP ?? this.ctx.hostIP,
      exec: this.execSync,
    };
    return runProbe({ ...(h.exec ? { exec: h.exec } : {}), ...(h.httpGet ? { httpGet: h.httpGet } : {}), ...(h.tcpSocket ? { tcpSocket: h.tcpSocket } : {}), timeoutSeconds: Math.max(1, timeoutSec) }, target);
  }

  private async stopContainer(containerId: string, graceSec: number): Promise<void> {
    await this.ctx.runtime.runtime
      .stopContainer({ containerId, timeout: Math.max(0, Math.ceil(graceSec)) }, { timeoutMs: (graceSec + 60) * 1000 })
      .catch((err: unknown) => this.log.warn('stopping a container failed', { container: containerId, error: String(err) }));
  }

  private async stopSandboxes(remove: boolean): Promise<void> {
    const rt = this.ctx.runtime.runtime;
    const { items } = await rt.listPodSandbox({ filter: { labelSelector: { [LABELS.podUid]: this.uid } } });
    for (const s of items) {
      if (remove) await rt.removePodSandbox({ podSandboxId: s.id });
      else if (s.state === 'SANDBOX_READY') await rt.stopPodSandbox({ podSandboxId: s.id });
    }
  }

  // ---- termination ----

  /** preStop hooks, SIGTERM, the grace period, SIGKILL, sandbox removal, volumes, then the final DELETE. */
  private async terminate(): Promise<void> {
    const pod = this.pod;
    const grace = this.removed ? 0 : Number(pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? GRACE_DEFAULT);
    const deadline = Date.now() + grace * 1000;
    this.log.info('terminating pod', { gracePeriodSeconds: grace, deleted: this.removed });
    for (const p of this.probes.values()) p.stop();
    this.probes.clear();
    const rt = this.ctx.runtime.runtime;
    const { containers } = await rt.listContainers({ filter: { labelSelector: { [LABELS.podUid]: this.uid } } });
    const running = containers.filter((c) => c.state === 'CONTAINER_RUNNING');
    await Promise.all(
      running.map(async (rc) => {
        const spec = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === rc.labels[LABELS.container]);
        const preStop = spec?.lifecycle?.preStop;
        if (preStop && spec && grace > 0) {
          const left = Math.max(1, Math.floor((deadline - Date.now()) / 1000));
          const r = await Promise.race([
            this.runHook(preStop, rc.id, spec, left),
            new Promise<{ ok: boolean; message: string }>((res) => setTimeout(() => res({ ok: false, message: 'preStop hook timed out' }), left * 1000).unref()),
          ]);
          if (!r.ok) void this.ctx.events.event(this.ref(), 'Warning', 'FailedPreStopHook', r.message);
        }
        if (spec) void this.ctx.events.event(this.ref(), 'Normal', 'Killing', `Stopping container ${spec.name}`);
        // As kubelet: at least 2 s for SIGTERM after a preStop hook that used up the grace period.
        const left = grace === 0 ? 0 : Math.max(preStop ? 2 : 0, (deadline - Date.now()) / 1000);
        await this.stopContainer(rc.id, left);
      }),
    );
    let obs: Observed | undefined;
    if (!this.removed) obs = await this.observe().catch(() => undefined);
    await this.stopSandboxes(true);
    await this.ctx.volumes.tearDown(this.uid);
    await rm(this.ctx.logDir(pod), { recursive: true, force: true });
    this.ctx.backoff.forget(`${this.uid}/`);
    if (!this.removed) {
      if (obs) await this.writeStatus(obs).catch((err: unknown) => this.log.debug('final status write failed', { error: String(err) }));
      try {
        await this.ctx.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
        this.log.info('pod deleted', {});
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    this.finished = true;
    this.onFinished(this.uid);
  }

  // ---- status ----

  private async writeStatus(obs: Observed, message?: string): Promise<NonNullable<Pod['status']>> {
    const status = computePodStatus({
      pod: this.pod,
      hostIP: this.ctx.hostIP,
      ...(obs.podIP ? { podIP: obs.podIP } : {}),
      startTime: this.startTime ?? nowRFC3339(new Date(this.ctx.clock.now())),
      runtimeName: this.ctx.runtimeName,
      init: obs.init,
      app: obs.app,
      now: new Date(this.ctx.clock.now()),
    });
    if (message && status.phase === 'Pending') status.message = message;
    const text = stableJson(status);
    if (text === this.lastWritten || text === stableJson(this.pod.status ?? {})) {
      this.lastWritten = text;
      return status;
    }
    let base = this.pod;
    for (let i = 0; ; i++) {
      try {
        const written = await this.ctx.pods.updateStatus({ ...base, status });
        this.lastWritten = text;
        // Keep our own write unless the informer already brought something newer (a deletion, say).
        if (Number(written.metadata.resourceVersion ?? 0) > Number(this.pod.metadata.resourceVersion ?? 0)) this.pod = written;
        this.log.debug('pod status written', { phase: status.phase });
        return status;
      } catch (err) {
        if (!isConflict(err) || i >= 2) throw err;
        base = await this.ctx.pods.get(this.pod.metadata.namespace, this.pod.metadata.name ?? '');
        if (base.metadata.uid !== this.uid) throw err;
      }
    }
  }
}

/** Running or finished, with every container running or terminated for good (a restart would be waiting). */
function isSettled(status: NonNullable<Pod['status']>): boolean {
  if (status.phase === 'Pending' || !status.phase) return false;
  return [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])].every((c) => !c.state?.waiting);
}

/** Where a pod's container logs live: ROOT/logs/<namespace>_<name>_<uid>. */
export function podLogDir(rootDir: string, pod: Pod): string {
  return join(rootDir, 'logs', `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`);
}
