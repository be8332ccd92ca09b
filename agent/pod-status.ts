// Computes a pod's status from what the runtime reports: container states, phase, conditions and IPs.
import { isRestartableInitContainer, nowRFC3339, type ContainerState, type ContainerStatus, type Pod, type PodCondition, type PodStatus } from '../api/index.js';
import type { ContainerStatus as CriStatus } from './cri/index.js';

export interface ContainerObservation {
  /** The latest attempt, and the one before it (lastState). */
  current?: CriStatus;
  previous?: CriStatus;
  /** Why the container is not running now (CrashLoopBackOff, ErrImagePull, ...), set by the pod worker. */
  waiting?: { reason: string; message: string };
  ready: boolean;
  started: boolean;
}

export interface PodObservation {
  pod: Pod;
  hostIP: string;
  podIP?: string;
  startTime: string;
  runtimeName: string;
  init: Map<string, ContainerObservation>;
  app: Map<string, ContainerObservation>;
  now: Date;
  /** The pod is being torn down: no container will run again. */
  terminating?: boolean;
}

export const nsToTime = (ns: string | number | undefined): string | undefined => {
  if (ns === undefined || ns === '' || ns === '0' || ns === 0) return undefined;
  return nowRFC3339(new Date(Number(BigInt(ns) / 1_000_000n)));
};

export const isExited = (s: CriStatus | undefined): s is CriStatus & { state: 'CONTAINER_EXITED' } => s?.state === 'CONTAINER_EXITED';
export const isRunning = (s: CriStatus | undefined): s is CriStatus & { state: 'CONTAINER_RUNNING' } => s?.state === 'CONTAINER_RUNNING';

function terminated(s: CriStatus, runtimeName: string): ContainerState {
  return {
    terminated: {
      exitCode: s.exitCode,
      reason: s.reason || (s.exitCode === 0 ? 'Completed' : 'Error'),
      ...(s.message ? { message: s.message } : {}),
      ...(nsToTime(s.startedAt) ? { startedAt: nsToTime(s.startedAt) } : {}),
      ...(nsToTime(s.finishedAt) ? { finishedAt: nsToTime(s.finishedAt) } : {}),
      containerID: `${runtimeName}://${s.id}`,
    },
  };
}

function containerStatus(name: string, image: string, o: ContainerObservation | undefined, runtimeName: string, defaultWaiting: string): ContainerStatus {
  const cur = o?.current;
  let state: ContainerState;
  let lastState: ContainerState = {};
  if (o?.waiting && !isRunning(cur)) {
    state = { waiting: { reason: o.waiting.reason, ...(o.waiting.message ? { message: o.waiting.message } : {}) } };
    if (isExited(cur)) lastState = terminated(cur, runtimeName);
    else if (isExited(o.previous)) lastState = terminated(o.previous, runtimeName);
  } else if (isRunning(cur)) {
    state = { running: { ...(nsToTime(cur.startedAt) ? { startedAt: nsToTime(cur.startedAt) } : {}) } };
    if (isExited(o?.previous)) lastState = terminated(o.previous, runtimeName);
  } else if (isExited(cur)) {
    state = terminated(cur, runtimeName);
    if (isExited(o?.previous)) lastState = terminated(o.previous, runtimeName);
  } else {
    state = { waiting: { reason: cur ? 'ContainerCreating' : defaultWaiting } };
  }
  return {
    name,
    state,
    lastState,
    ready: Boolean(o?.ready && isRunning(cur)),
    restartCount: cur?.metadata?.attempt ?? 0,
    image,
    imageID: cur?.imageRef ?? '',
    ...(cur ? { containerID: `${runtimeName}://${cur.id}` } : {}),
    started: Boolean(o?.started && isRunning(cur)),
  };
}

/** A started container that has not stopped (a sidecar is initialized once it has started). */
const isStarted = (s: ContainerStatus): boolean => Boolean(s.state?.running && s.started);

/** Some app container runs or ran: the pod was initialized (kube's HasAnyRegularContainerStarted). */
const anyAppStarted = (statuses: ContainerStatus[]): boolean => statuses.some((s) => s.state?.running || s.state?.terminated);

/** The regular init containers' counts toward the phase: failed ones, and ones still to finish. */
function regularInitCounts(pod: Pod, initStatuses: ContainerStatus[]): { failed: number; pending: number } {
  let failed = 0;
  let pending = 0;
  (pod.spec.initContainers ?? []).forEach((c, i) => {
    if (isRestartableInitContainer(c)) return;
    const s = initStatuses[i];
    const t = s?.state?.terminated ?? (s?.state?.waiting ? s.lastState?.terminated : undefined);
    if (t && t.exitCode !== 0) failed++;
    else if (!s?.state?.terminated) pending++;
  });
  return { failed, pending };
}

/**
 * Pending, Running, Succeeded or Failed, by kubelet's getPhase (1.29+): a running sidecar counts as running (so a pod
 * whose sidecars still run is Running), a stopped one not at all, so that once the sidecars are stopped the phase
 * is the app containers'.
 */
export function podPhase(pod: Pod, initStatuses: ContainerStatus[], statuses: ContainerStatus[]): PodStatus['phase'] {
  const policy = pod.spec.restartPolicy ?? 'Always';
  const init = regularInitCounts(pod, initStatuses);
  let pendingSidecars = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  (pod.spec.initContainers ?? []).forEach((c, i) => {
    const s = initStatuses[i];
    if (!isRestartableInitContainer(c) || !s) return;
    if (s.state?.running) {
      if (!s.started) pendingSidecars++;
      running++;
    } else if (s.state?.waiting && !s.lastState?.terminated) {
      pendingSidecars++;
      waiting++;
    }
  });
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    }
  }
  if (init.failed > 0 && policy === 'Never') return 'Failed';
  // Sidecars restarting after the app containers ran do not put the pod back into Pending.
  if (init.pending > 0 || (pendingSidecars > 0 && !anyAppStarted(statuses)) || waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(type: string, ok: boolean, reason: string, message: string, now: string, old: PodCondition[] | undefined): PodCondition {
  const status = ok ? 'True' : 'False';
  const prev = old?.find((c) => c.type === type);
  return {
    type,
    status,
    ...(ok ? {} : { reason, message }),
    lastTransitionTime: prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
  };
}

const OWN_CONDITIONS = new Set(['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']);

/** An init container's status: a regular one is ready once it exited 0 and started while it runs (kubelet). */
function initContainerStatus(c: Pod['spec']['containers'][number], o: ContainerObservation | undefined, runtimeName: string): ContainerStatus {
  const s = containerStatus(c.name, c.image, o, runtimeName, 'PodInitializing');
  if (isRestartableInitContainer(c)) return s;
  return { ...s, ready: s.state?.terminated?.exitCode === 0, started: Boolean(s.state?.running) };
}

/** The names of the init containers that keep the pod from being initialized (a sidecar until it has started). */
function incompleteInit(pod: Pod, initStatuses: ContainerStatus[]): string[] {
  return (pod.spec.initContainers ?? [])
    .filter((c, i) => {
      const s = initStatuses[i];
      return !s || (isRestartableInitContainer(c) ? !isStarted(s) : s.state?.terminated?.exitCode !== 0);
    })
    .map((c) => c.name);
}

export function computePodStatus(o: PodObservation): PodStatus {
  const { pod } = o;
  const now = nowRFC3339(o.now);
  const initStatuses = (pod.spec.initContainers ?? []).map((c) => initContainerStatus(c, o.init.get(c.name), o.runtimeName));
  const incomplete = incompleteInit(pod, initStatuses);
  const statuses = pod.spec.containers.map((c) => containerStatus(c.name, c.image, o.app.get(c.name), o.runtimeName, incomplete.length ? 'PodInitializing' : 'ContainerCreating'));
  const phase = podPhase(pod, initStatuses, statuses);
  const old = pod.status?.conditions;
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  // After the app containers ran, a restarting sidecar does not make the pod uninitialized again (kubelet).
  const initialized = incomplete.length === 0 || phase === 'Succeeded' || anyAppStarted(statuses);
  // Sidecars' readiness counts for the pod, before the app containers' (kube's GenerateContainersReadyCondition).
  const sidecarStatuses = (pod.spec.initContainers ?? []).flatMap((c, i) => (isRestartableInitContainer(c) && initStatuses[i] ? [initStatuses[i]] : []));
  const unready = [...sidecarStatuses, ...statuses].filter((s) => !s.ready).map((s) => s.name);
  const gates = (pod.spec.readinessGates ?? []).filter((g) => old?.find((c) => c.type === g.conditionType)?.status !== 'True').map((g) => g.conditionType);
  const containersReady = !terminal && unready.length === 0;
  const conditions: PodCondition[] = [
    condition('PodScheduled', true, '', '', now, old),
    condition('Initialized', initialized, 'ContainersNotInitialized', `containers with incomplete status: [${incomplete.join(' ')}]`, now, old),
    condition('ContainersReady', containersReady, terminal ? 'PodCompleted' : 'ContainersNotReady', terminal ? '' : `containers with unready status: [${unready.join(' ')}]`, now, old),
    condition(
      'Ready',
      containersReady && gates.length === 0,
      terminal ? 'PodCompleted' : unready.length ? 'ContainersNotReady' : 'ReadinessGatesNotReady',
      terminal ? '' : unready.length ? `containers with unready status: [${unready.join(' ')}]` : `corresponding condition of pod readiness gate "${gates.join(', ')}" does not exist.`,
      now,
      old,
    ),
    ...(old ?? []).filter((c) => !OWN_CONDITIONS.has(c.type)),
  ].map((c) => {
    if (c.reason === '') delete c.reason;
    if (c.message === '') delete c.message;
    return c;
  });
  const podIP = o.podIP || pod.status?.podIP;
  const status: PodStatus = {
    ...(pod.status ?? {}),
    phase,
    conditions,
    hostIP: o.hostIP,
    hostIPs: [{ ip: o.hostIP }],
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: o.startTime,
    ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
  };
  if (!terminal) {
    delete status.reason;
    delete status.message;
  }
  return status;
}

/** JSON with sorted keys: compares statuses regardless of key order. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : val,
  );
}
