// What to do for one pod, computed from its spec and what the runtime holds (kubelet's computePodActions in
// kuberuntime_manager.go). A pure function: no runtime, no clock, no API; the executor (pod-sync.ts) carries the
// actions out. Init containers run one at a time, in order, before any app container; a sidecar (an init container
// with restartPolicy Always) lets the next one start once it has started, then keeps running beside the app
// containers, restarted whenever it exits, until they are all done (kube 1.29+'s computeInitContainerActions).
import { isRestartableInitContainer, type Container, type Pod } from '../api/index.js';
import type { ContainerStatus as CriStatus } from './cri/index.js';
import { CONTAINER_HASH_ANNOTATION, containerHash } from './pod-config.js';
import { isExited, isRunning } from './pod-status.js';
import type { ProbeFailure } from './probes.js';

export type ContainerKind = 'init' | 'app';

/** Seconds of grace when the pod does not say (kubelet's default terminationGracePeriodSeconds). */
export const DEFAULT_GRACE_SECONDS = 30;

/** A pod sandbox as the runtime lists it. */
export interface SandboxSummary {
  id: string;
  ready: boolean;
  attempt: number;
}

/** What the runtime holds for the pod (kubelet's kubecontainer.PodStatus). */
export interface PodRuntimeState {
  /** The pod's sandboxes, in any order. */
  sandboxes: readonly SandboxSummary[];
  /** The latest attempt of each container, by name, in the current (ready) sandbox. */
  containers: ReadonlyMap<string, CriStatus>;
}


/** The crash-loop back-off, read only: the time left before the next restart may be made, if any. */
export interface BackOffView {
  check(key: string, since?: number): { remainingMs: number; delayMs: number } | undefined;
}

/** What the agent itself knows about the pod's containers besides the runtime's view. */
export interface ContainerFacts {
  /** Probe failures, by container id. */
  probeFailures: ReadonlyMap<string, ProbeFailure>;
  /** Running containers whose startup probe has succeeded, by id (a sidecar with one waits for it). */
  started: ReadonlySet<string>;
  /** When each exited container was first seen exited (clock ms), by container id: back-off counts from there. */
  exitedAt: ReadonlyMap<string, number>;
  backOff: BackOffView;
}

export interface ContainerToStart {
  container: Container;
  kind: ContainerKind;
  /** The attempt number of the new container (restartCount). */
  attempt: number;
  /** Start this container, created but never started (an earlier pass failed half way), instead of a new one. */
  createdId?: string;
  /** A restart after an exit: record it on this back-off key before starting. */
  backOffKey?: string;
}

/** PodCompleted: every app container of a Never/OnFailure pod is done, so its sidecars are stopped. */
export type KillReason = 'LivenessProbe' | 'StartupProbe' | 'SpecChanged' | 'PodCompleted';

export interface ContainerToKill {
  id: string;
  container: Container;
  reason: KillReason;
  /** The probe's message, or why the container goes. */
  message: string;
  gracePeriodSeconds: number;
}

/** A container that exited and waits for its back-off before it is restarted (CrashLoopBackOff). */
export interface BackingOff {
  container: Container;
  kind: ContainerKind;
  delayMs: number;
}

export interface PodActions {
  /** Stop every container and the sandbox: the pod is being deleted. */
  killPod: boolean;
  /** Make a new sandbox, attempt `attempt`, after removing `sandboxesToRemove` (those not ready). */
  createSandbox: boolean;
  attempt: number;
  sandboxesToRemove: string[];
  /** The ready sandbox the pod's containers run in (none when one is to be created). */
  sandboxId?: string;
  /** Killed first, one after the other in this order (with their restarts, if any, in containersToStart). */
  containersToKill: ContainerToKill[];
  /** Init containers (at most one, besides sidecars being restarted) come before app containers here, in spec order. */
  containersToStart: ContainerToStart[];
  backingOff: BackingOff[];
  /** An init container failed under restartPolicy Never: the pod has failed and nothing more runs. */
  initFailed: boolean;
}

const isCreated = (s: CriStatus | undefined): s is CriStatus & { state: 'CONTAINER_CREATED' } => s?.state === 'CONTAINER_CREATED';

/** The kubelet's deletion check: a pod with a deletion timestamp is torn down (pod_workers.go's termination). */
export function isTerminationRequested(pod: Pod): boolean {
  return Boolean(pod.metadata.deletionTimestamp);
}

/** The crash-loop back-off key of a container (per pod and container name). */
export function restartBackOffKey(uid: string, name: string): string {
  return `${uid}/${name}`;
}

/** The sandbox the pod's containers run in: the ready one of the highest attempt. */
export function currentSandbox(sandboxes: readonly SandboxSummary[]): SandboxSummary | undefined {
  return [...sandboxes].sort((a, b) => b.attempt - a.attempt).find((s) => s.ready);
}

function shouldRestart(pod: Pod, exitCode: number): boolean {
  const policy = pod.spec.restartPolicy ?? 'Always';
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

function emptyActions(): PodActions {
  return { killPod: false, createSandbox: false, attempt: 0, sandboxesToRemove: [], containersToKill: [], containersToStart: [], backingOff: [], initFailed: false };
}

/** An exited container's restart: at once, or after its back-off (counted from when the exit was first seen). */
function restartOrBackOff(pod: Pod, c: Container, kind: ContainerKind, cur: CriStatus, facts: ContainerFacts, out: PodActions): void {
  const key = restartBackOffKey(pod.metadata.uid ?? '', c.name);
  const b = facts.backOff.check(key, facts.exitedAt.get(cur.id));
  if (b) out.backingOff.push({ container: c, kind, delayMs: b.delayMs });
  else out.containersToStart.push({ container: c, kind, attempt: (cur.metadata?.attempt ?? 0) + 1, backOffKey: key });
}

/** One regular init container's part: done (exited 0), or it holds the pod back, with what to do about it. */
function initContainerStep(pod: Pod, c: Container, cur: CriStatus | undefined, facts: ContainerFacts, out: PodActions): 'done' | 'wait' {
  if (isExited(cur) && cur.exitCode === 0) return 'done';
  if (isRunning(cur)) return 'wait';
  if (isCreated(cur)) out.containersToStart.push({ container: c, kind: 'init', attempt: cur.metadata?.attempt ?? 0, createdId: cur.id });
  else if (isExited(cur)) {
    if ((pod.spec.restartPolicy ?? 'Always') === 'Never') out.initFailed = true;
    else restartOrBackOff(pod, c, 'init', cur, facts, out);
  } else out.containersToStart.push({ container: c, kind: 'init', attempt: 0 });
  return 'wait';
}

/**
 * A sidecar's part: 'done' once it runs and has passed its startup probe (if any), so that the next init container
 * may start; else what to do about it. An exited sidecar is restarted (with back-off) whatever the pod's
 * restartPolicy; a failed probe or a changed definition kills it as for an app container.
 */
function sidecarStep(pod: Pod, c: Container, cur: CriStatus | undefined, facts: ContainerFacts, out: PodActions): 'done' | 'wait' {
  if (isRunning(cur)) {
    if (killRunning(pod, c, cur, 'init', facts, out)) return 'wait';
    return !c.startupProbe || facts.started.has(cur.id) ? 'done' : 'wait';
  }
  if (isCreated(cur)) out.containersToStart.push({ container: c, kind: 'init', attempt: cur.metadata?.attempt ?? 0, createdId: cur.id });
  else if (isExited(cur)) restartOrBackOff(pod, c, 'init', cur, facts, out);
  else if (!cur) out.containersToStart.push({ container: c, kind: 'init', attempt: 0 });
  return 'wait';
}

/**
 * The init containers, in order; true once the pod is initialized. After the app containers were made (kube's
 * isPreviouslyInitialized) only the sidecars are kept: each is restarted on its own, nothing holds the pod back.
 */
function initContainersStep(pod: Pod, containers: ReadonlyMap<string, CriStatus>, facts: ContainerFacts, out: PodActions): boolean {
  const initialized = pod.spec.containers.some((c) => containers.has(c.name));
  for (const c of pod.spec.initContainers ?? []) {
    const cur = containers.get(c.name);
    if (isRestartableInitContainer(c)) {
      if (sidecarStep(pod, c, cur, facts, out) === 'wait' && !initialized) return false;
    } else if (!initialized && initContainerStep(pod, c, cur, facts, out) === 'wait') return false;
  }
  return true;
}

/** A running container to kill: a failed liveness or startup probe, or a changed definition (then restarted). */
function killReason(pod: Pod, c: Container, cur: CriStatus, facts: ContainerFacts): Omit<ContainerToKill, 'id' | 'container'> | undefined {
  const podGrace = pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const hash = cur.annotations?.[CONTAINER_HASH_ANNOTATION];
  // A container made before hashes were recorded has none: it is not taken for changed.
  if (hash && hash !== containerHash(c)) {
    return { reason: 'SpecChanged', message: `Container ${c.name} definition changed`, gracePeriodSeconds: Number(podGrace) };
  }
  const failed = facts.probeFailures.get(cur.id);
  if (!failed) return undefined;
  const probe = failed.kind === 'liveness' ? c.livenessProbe : c.startupProbe;
  return {
    reason: failed.kind === 'liveness' ? 'LivenessProbe' : 'StartupProbe',
    message: failed.message,
    gracePeriodSeconds: Number(probe?.terminationGracePeriodSeconds ?? podGrace),
  };
}

/** Kills a running container that must go; true when it does. */
function killRunning(pod: Pod, c: Container, cur: CriStatus, kind: ContainerKind, facts: ContainerFacts, out: PodActions): boolean {
  const kill = killReason(pod, c, cur, facts);
  if (!kill) return false;
  out.containersToKill.push({ id: cur.id, container: c, ...kill });
  // A changed definition restarts at once, whatever the restart policy (kubelet does so); a probe kill is seen
  // exited on the next pass and restarted as the policy says.
  if (kill.reason === 'SpecChanged') out.containersToStart.push({ container: c, kind, attempt: (cur.metadata?.attempt ?? 0) + 1 });
  return true;
}

function appContainerStep(pod: Pod, c: Container, cur: CriStatus | undefined, facts: ContainerFacts, out: PodActions): void {
  if (!cur) out.containersToStart.push({ container: c, kind: 'app', attempt: 0 });
  else if (isCreated(cur)) out.containersToStart.push({ container: c, kind: 'app', attempt: cur.metadata?.attempt ?? 0, createdId: cur.id });
  else if (isRunning(cur)) killRunning(pod, c, cur, 'app', facts, out);
  else if (isExited(cur) && shouldRestart(pod, cur.exitCode)) restartOrBackOff(pod, c, 'app', cur, facts, out);
}

/** Every app container exited for good (restartPolicy Never, or OnFailure with exit 0): the pod is done. */
function appContainersDone(pod: Pod, containers: ReadonlyMap<string, CriStatus>): boolean {
  return pod.spec.containers.every((c) => {
    const cur = containers.get(c.name);
    return isExited(cur) && !shouldRestart(pod, cur.exitCode);
  });
}

/** The running sidecars of a finished pod, to stop last to first (kube stops them in reverse order). */
function stopSidecars(pod: Pod, containers: ReadonlyMap<string, CriStatus>, out: PodActions): void {
  const grace = Number(pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS);
  for (const c of [...(pod.spec.initContainers ?? [])].reverse()) {
    const cur = containers.get(c.name);
    if (!isRestartableInitContainer(c) || !isRunning(cur)) continue;
    out.containersToKill.push({ id: cur.id, container: c, reason: 'PodCompleted', message: `Stopping container ${c.name}`, gracePeriodSeconds: grace });
  }
}

/**
 * The actions for `pod`: tear it down when deleted; else find its ready sandbox or make a new one (a sandbox that
 * died takes its containers with it, and all start again in the new one), run the init containers in order, then
 * keep every app container as its restart policy says, with back-off. Once every app container is done for good,
 * nothing starts again and the sidecars are stopped (a sidecar never keeps a Job's pod from completing).
 */
export function computePodActions(pod: Pod, runtime: PodRuntimeState, facts: ContainerFacts): PodActions {
  const out = emptyActions();
  if (isTerminationRequested(pod)) {
    out.killPod = true;
    return out;
  }
  const ready = currentSandbox(runtime.sandboxes);
  let containers = runtime.containers;
  if (ready) out.sandboxId = ready.id;
  else {
    out.createSandbox = true;
    out.attempt = runtime.sandboxes.length ? Math.max(...runtime.sandboxes.map((s) => s.attempt)) + 1 : 0;
    out.sandboxesToRemove = runtime.sandboxes.map((s) => s.id);
    // The new sandbox has no containers yet: everything starts from its first attempt.
    containers = new Map();
  }
  if (appContainersDone(pod, containers)) {
    stopSidecars(pod, containers, out);
    return out;
  }
  if (!initContainersStep(pod, containers, facts, out)) return out;
  for (const c of pod.spec.containers) appContainerStep(pod, c, containers.get(c.name), facts, out);
  return out;
}
