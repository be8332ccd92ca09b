// The pod executor (kubelet's SyncPod, SyncTerminatingPod and SyncTerminatedPod): reads the runtime's state, asks
// computePodActions (pod-actions.ts) what to do, does it through the CRI, and writes the pod's status when it changed.
import { rm } from 'node:fs/promises';
import { isConflict, isNotFound, nowRFC3339, type Pod } from '../api/index.js';
import type { TimerHandle } from '../lib/clock.js';
import type { ContainerStatus as CriStatus } from './cri/index.js';
import { computePodActions, currentSandbox, DEFAULT_GRACE_SECONDS, type BackingOff, type ContainerFacts, type ContainerToKill, type PodActions } from './pod-actions.js';
import { killContainer, runHook, startContainer } from './pod-containers.js';
import { ContainerConfigError, LABELS, ObjectCache } from './pod-config.js';
import { observe, updateProbes } from './pod-observe.js';
import { TerminationOrder } from './termination-order.js';
import { adoptSandbox, createSandbox, listSandboxes, stopSandboxes } from './pod-sandbox.js';
import type { Observed, PodState, PodWorkerContext } from './pod-state.js';
import { writePodStatus } from './pod-status-writer.js';
import type { ProbeFailure, ProbeResult } from './probes.js';
import { MountError } from './volumes.js';

/** Volume contents (configMaps, secrets, tokens) are refreshed this often, not on every pass. */
const VOLUME_REFRESH_MS = 60_000;

const isTerminal = (phase: string | undefined): boolean => phase === 'Succeeded' || phase === 'Failed';

/** Running or finished, with every container running or terminated for good (a restart would be waiting). */
function isSettled(status: NonNullable<Pod['status']>): boolean {
  if (status.phase === 'Pending' || !status.phase) return false;
  return [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])].every((c) => !c.state?.waiting);
}

/** The latest attempt of each container, by name. */
function latestContainers(obs: Observed | undefined): Map<string, CriStatus> {
  const out = new Map<string, CriStatus>();
  for (const [name, o] of [...(obs?.init ?? []), ...(obs?.app ?? [])]) if (o.current) out.set(name, o.current);
  return out;
}

/** The waiting reasons as they are now (a back-off noted after the observation) on an observation kept. */
function withWaiting(state: PodState, obs: Observed): void {
  for (const [name, o] of [...obs.init, ...obs.app]) {
    const w = state.waiting.get(name);
    if (w) o.waiting = w;
    else delete o.waiting;
  }
}

export class PodSyncer {
  constructor(private readonly ctx: PodWorkerContext) {}

  /** One pass over a pod that should run; true when it has settled (nothing waiting, nothing changing). */
  async syncPod(state: PodState): Promise<boolean> {
    const { ctx } = this;
    const pod = state.pod;
    state.startTime ??= pod.status?.startTime ?? nowRFC3339(new Date(ctx.clock.now()));
    if (isTerminal(pod.status?.phase)) {
      // A finished pod never runs again; release its network but keep the containers for logs.
      if (!state.sandboxStopped) await stopSandboxes(ctx, state, false);
      state.sandboxStopped = true;
      return false;
    }
    const cidr = ctx.podCIDR();
    if (!pod.spec.hostNetwork && !cidr) {
      await this.writeStatus(state, await observe(ctx, state), 'waiting for the node pod CIDR');
      return false;
    }
    const objects = new ObjectCache({ configMaps: ctx.configMaps, secrets: ctx.secrets }, pod.metadata.namespace ?? 'default');
    const volumes = await this.setUpVolumes(state, objects);
    if (!volumes) return false;
    const sandboxes = await listSandboxes(ctx, state.uid);
    const ready = currentSandbox(sandboxes);
    let obs: Observed | undefined;
    if (ready) {
      await adoptSandbox(ctx, state, ready, cidr);
      obs = await observe(ctx, state);
      updateProbes(ctx, state, obs);
    }
    const actions = computePodActions(pod, { sandboxes, containers: latestContainers(obs) }, this.facts(state));
    if (actions.createSandbox && !(await createSandbox(ctx, state, actions.sandboxesToRemove, actions.attempt, cidr))) {
      await this.writeStatus(state, await observe(ctx, state));
      return false;
    }
    if ((await this.execute(state, actions, objects, volumes)) || !obs) obs = await observe(ctx, state);
    else withWaiting(state, obs);
    const status = await this.writeStatus(state, obs);
    const settled = state.waiting.size === 0 && isSettled(status);
    if (isTerminal(status.phase)) {
      state.log.info('pod finished', { phase: status.phase });
      state.stopProbes();
      await stopSandboxes(ctx, state, false);
    }
    return settled;
  }

  /** The pod's volumes, set up (or refreshed); undefined, with the pod waiting and an event, when one cannot be. */
  private async setUpVolumes(state: PodState, objects: ObjectCache): Promise<Map<string, string> | undefined> {
    const { ctx } = this;
    try {
      if (!state.volumes || ctx.clock.now() - state.volumesAt > (ctx.volumeRefreshMs ?? VOLUME_REFRESH_MS)) {
        state.volumes = await ctx.volumes.setUp({ pod: state.pod, hostIP: ctx.hostIP, podIP: state.podIP ?? '', objects, rest: ctx.rest });
        state.volumesAt = ctx.clock.now();
      }
      return state.volumes;
    } catch (err) {
      if (!(err instanceof MountError || err instanceof ContainerConfigError)) throw err;
      state.setWaitingAll('ContainerCreating', err.message);
      void ctx.events.event(state.ref(), 'Warning', 'FailedMount', err.message);
      await this.writeStatus(state, await observe(ctx, state));
      return undefined;
    }
  }

  private facts(state: PodState): ContainerFacts {
    const probeFailures = new Map<string, ProbeFailure>();
    const started = new Set<string>();
    for (const [id, p] of state.probes) {
      if (p.failed) probeFailures.set(id, p.failed);
      if (p.started) started.add(id);
    }
    return { probeFailures, started, exitedAt: state.exitSeen, backOff: this.ctx.backoff };
  }

  /** Carries the container actions out: kills, then starts, then back-off notices. True when it changed something. */
  private async execute(state: PodState, actions: PodActions, objects: ObjectCache, volumes: Map<string, string>): Promise<boolean> {
    for (const k of actions.containersToKill) await this.kill(state, k);
    for (const s of actions.containersToStart) await startContainer(this.ctx, state, s, objects, volumes);
    for (const b of actions.backingOff) this.noteBackOff(state, b);
    return actions.containersToKill.length > 0 || actions.containersToStart.length > 0;
  }

  private async kill(state: PodState, k: ContainerToKill): Promise<void> {
    const { ctx } = this;
    const name = k.container.name;
    if (k.reason === 'PodCompleted') {
      state.log.info('app containers done, stopping a sidecar', { container: name });
      void ctx.events.event(state.ref(), 'Normal', 'Killing', k.message);
    } else if (k.reason === 'SpecChanged') {
      state.log.info('container definition changed, restarting it', { container: name });
      void ctx.events.event(state.ref(), 'Normal', 'Killing', `${k.message}, will be restarted`);
    } else {
      const probe = k.reason === 'LivenessProbe' ? 'liveness' : 'startup';
      state.log.info('probe failed, killing the container', { container: name, probe, message: k.message });
      void ctx.events.event(state.ref(), 'Warning', 'Unhealthy', k.message);
      void ctx.events.event(state.ref(), 'Normal', 'Killing', `Container ${name} failed ${probe} probe, will be restarted`);
    }
    state.probes.get(k.id)?.stop();
    state.probes.delete(k.id);
    await killContainer(ctx, state, k.id, k.gracePeriodSeconds);
  }

  private noteBackOff(state: PodState, b: BackingOff): void {
    const name = b.container.name;
    const m = state.pod.metadata;
    const message = `back-off ${Math.round(b.delayMs / 1000)}s restarting failed container=${name} pod=${m.name}_${m.namespace}(${state.uid})`;
    if (state.waiting.get(name)?.reason !== 'CrashLoopBackOff') {
      void this.ctx.events.event(state.ref(), 'Warning', 'BackOff', 'Back-off restarting failed container');
    }
    state.waiting.set(name, { reason: 'CrashLoopBackOff', message });
  }

  /** preStop hooks, SIGTERM, the grace period, SIGKILL; then the containers as they ended, for the final status. */
  async syncTerminatingPod(state: PodState): Promise<void> {
    const { ctx } = this;
    const pod = state.pod;
    const grace = state.removed ? 0 : Number(pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS);
    const deadline = ctx.clock.now() + grace * 1000;
    state.log.info('terminating pod', { gracePeriodSeconds: grace, deleted: state.removed });
    state.stopProbes();
    const { containers } = await ctx.runtime.runtime.listContainers({ filter: { labelSelector: { [LABELS.podUid]: state.uid } } });
    const running = containers.filter((c) => c.state === 'CONTAINER_RUNNING');
    const order = new TerminationOrder(pod, running.map((rc) => rc.labels[LABELS.container] ?? ''));
    await Promise.all(
      running.map(async (rc) => {
        const name = rc.labels[LABELS.container] ?? '';
        const spec = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === name);
        const preStop = spec?.lifecycle?.preStop;
        if (preStop && spec && grace > 0) {
          const left = Math.max(1, Math.floor((deadline - ctx.clock.now()) / 1000));
          const r = await this.withDeadline(runHook(ctx, state, preStop, rc.id, spec, left), left * 1000, { ok: false, message: 'preStop hook timed out' });
          if (!r.ok) void ctx.events.event(state.ref(), 'Warning', 'FailedPreStopHook', r.message);
        }
        // Sidecars stop after the app containers, last to first, within the same grace period.
        if (grace > 0) await order.waitForTurn(name, deadline - ctx.clock.now(), ctx.clock);
        if (spec) void ctx.events.event(state.ref(), 'Normal', 'Killing', `Stopping container ${spec.name}`);
        // As kubelet: at least 2 s for SIGTERM after a preStop hook or a wait that used up the grace period.
        const left = grace === 0 ? 0 : Math.max(preStop || order.waits(name) ? 2 : 0, (deadline - ctx.clock.now()) / 1000);
        await killContainer(ctx, state, rc.id, left);
        order.containerStopped(name);
      }),
    );
    state.final = undefined;
    if (!state.removed) {
      state.final = await observe(ctx, state).catch((err: unknown) => {
        state.log.debug('final container states not read; the final status keeps the last ones', { error: String(err) });
        return undefined;
      });
    }
  }

  /** The hook's result, or `late` once `ms` have passed on the clock. */
  private async withDeadline(hook: Promise<ProbeResult>, ms: number, late: ProbeResult): Promise<ProbeResult> {
    let timer: TimerHandle | undefined;
    try {
      return await Promise.race([hook, new Promise<ProbeResult>((res) => (timer = this.ctx.clock.setTimer(ms, () => res(late))))]);
    } finally {
      timer?.cancel();
    }
  }

  /** Sandbox removal, volumes, logs, back-off, the final status, then the DELETE that frees the pod's name. */
  async syncTerminatedPod(state: PodState): Promise<void> {
    const { ctx } = this;
    const pod = state.pod;
    await stopSandboxes(ctx, state, true);
    await ctx.volumes.tearDown(state.uid);
    await rm(ctx.logDir(pod), { recursive: true, force: true });
    ctx.backoff.forget(`${state.uid}/`);
    if (state.removed) return;
    if (state.final) await this.writeStatus(state, state.final).catch((err: unknown) => state.log.debug('final status write failed', { error: String(err) }));
    try {
      await ctx.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: state.uid } });
      state.log.info('pod deleted', {});
    } catch (err) {
      // Gone already, or the name now belongs to a new pod (another uid): either way this pod is done.
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private writeStatus(state: PodState, obs: Observed, message?: string): Promise<NonNullable<Pod['status']>> {
    return writePodStatus(this.ctx, state, obs, message);
  }
}
