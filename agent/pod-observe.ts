// Reads what the runtime holds for a pod (kubelet's GetPodStatus) and keeps its probe workers in step with it.
import { isRestartableInitContainer, type Container } from '../api/index.js';
import type { ContainerStatus as CriStatus } from './cri/index.js';
import { execSync } from './pod-containers.js';
import { LABELS } from './pod-config.js';
import type { Observed, PodState, PodWorkerContext } from './pod-state.js';
import { isExited, isRunning, type ContainerObservation } from './pod-status.js';
import { ContainerProbes } from './probes.js';

/** The latest two attempts of each container of the sandbox, by name; older attempts are removed. */
async function containerAttempts(ctx: PodWorkerContext, state: PodState, sandboxId: string): Promise<Map<string, CriStatus[]>> {
  const rt = ctx.runtime.runtime;
  const byName = new Map<string, CriStatus[]>();
  const { containers } = await rt.listContainers({ filter: { podSandboxId: sandboxId, labelSelector: { [LABELS.podUid]: state.uid } } });
  const groups = new Map<string, typeof containers>();
  for (const c of containers) {
    const name = c.labels[LABELS.container] ?? c.metadata?.name ?? '';
    groups.set(name, [...(groups.get(name) ?? []), c]);
  }
  for (const [name, list] of groups) {
    list.sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0));
    for (const old of list.slice(2)) {
      await rt.removeContainer({ containerId: old.id }).catch((err: unknown) => state.log.debug('old container attempt not removed, next pass retries', { container: old.id, error: String(err) }));
    }
    const statuses: CriStatus[] = [];
    for (const c of list.slice(0, 2)) {
      // A container removed between the list and this call is simply not there.
      const s = await rt.containerStatus({ containerId: c.id }).catch((err: unknown) => {
        state.log.debug('container status not read', { container: c.id, error: String(err) });
        return undefined;
      });
      if (s?.status) statuses.push(s.status);
    }
    byName.set(name, statuses);
  }
  return byName;
}

/** The runtime's view of the pod's containers in its current sandbox (none without one), with waiting reasons and probe results. */
export async function observe(ctx: PodWorkerContext, state: PodState): Promise<Observed> {
  const out: Observed = { init: new Map(), app: new Map(), podIP: state.podIP };
  const byName = state.sandboxId ? await containerAttempts(ctx, state, state.sandboxId) : new Map<string, CriStatus[]>();
  const fill = (containers: Container[], target: Map<string, ContainerObservation>): void => {
    for (const c of containers) {
      const [current, previous] = byName.get(c.name) ?? [];
      const probes = current ? state.probes.get(current.id) : undefined;
      if (isExited(current) && !state.exitSeen.has(current.id)) state.exitSeen.set(current.id, ctx.clock.now());
      const waiting = state.waiting.get(c.name);
      target.set(c.name, {
        ...(current ? { current } : {}),
        ...(previous ? { previous } : {}),
        ...(waiting ? { waiting } : {}),
        ready: probes ? probes.ready : false,
        started: probes ? probes.started : false,
      });
    }
  };
  fill(state.pod.spec.initContainers ?? [], out.init);
  fill(state.pod.spec.containers, out.app);
  return out;
}

/** Starts probe workers for running app containers and sidecars, and drops those of containers that stopped. */
export function updateProbes(ctx: PodWorkerContext, state: PodState, obs: Observed): void {
  const live = new Set<string>();
  const probed: [Container, Map<string, ContainerObservation>][] = [
    ...(state.pod.spec.initContainers ?? []).filter(isRestartableInitContainer).map((c) => [c, obs.init] as [Container, Map<string, ContainerObservation>]),
    ...state.pod.spec.containers.map((c) => [c, obs.app] as [Container, Map<string, ContainerObservation>]),
  ];
  for (const [c, observed] of probed) {
    const o = observed.get(c.name);
    const cur = o?.current;
    if (!o || !isRunning(cur)) continue;
    live.add(cur.id);
    if (state.probes.has(cur.id)) continue;
    const target = { containerId: cur.id, container: c, host: state.podIP ?? ctx.hostIP, exec: (id: string, cmd: string[], t: number) => execSync(ctx, id, cmd, t) };
    const probes = new ContainerProbes(target, ctx.clock, state.wake);
    state.probes.set(cur.id, probes);
    o.ready = probes.ready;
    o.started = probes.started;
  }
  for (const [id, p] of state.probes) {
    if (!live.has(id)) {
      p.stop();
      state.probes.delete(id);
    }
  }
}
