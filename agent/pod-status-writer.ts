// Writes a pod's status as the kubelet's status manager does: the conditions the agent owns (PodScheduled,
// Initialized, ContainersReady, Ready) are computed, every other condition (DisruptionTarget from the eviction API,
// the taint manager or pod GC; readiness gates) is kept as the API server has it. The update carries the
// resourceVersion it was computed from, so a condition written meanwhile makes it conflict, and the retry is computed
// again from the fresh pod: a status computed from an older copy never replaces a newer one. A terminal phase stays.
import { isConflict, nowRFC3339, type Pod } from '../api/index.js';
import type { Observed, PodState, PodWorkerContext } from './pod-state.js';
import { computePodStatus, stableJson } from './pod-status.js';

export type StatusWriterContext = Pick<PodWorkerContext, 'pods' | 'clock' | 'hostIP' | 'runtimeName'>;

/** How many times a write that conflicts is tried again on a fresh read. */
const CONFLICT_RETRIES = 2;

function statusFor(ctx: StatusWriterContext, state: PodState, pod: Pod, obs: Observed, message: string | undefined): NonNullable<Pod['status']> {
  const status = computePodStatus({
    pod,
    hostIP: ctx.hostIP,
    ...(obs.podIP ? { podIP: obs.podIP } : {}),
    startTime: state.startTime ?? nowRFC3339(new Date(ctx.clock.now())),
    runtimeName: ctx.runtimeName,
    init: obs.init,
    app: obs.app,
    now: new Date(ctx.clock.now()),
  });
  if (message && status.phase === 'Pending') status.message = message;
  // As the kubelet's status manager: a pod the API has as Succeeded or Failed never goes back (an agent that forgot
  // a deleted pod, kept by a finalizer, and met it again has nothing to say about its containers).
  if (isTerminal(pod.status?.phase) && !isTerminal(status.phase)) return pod.status!;
  return status;
}

const isTerminal = (phase: string | undefined): boolean => phase === 'Succeeded' || phase === 'Failed';

/** Computes the status and writes it when it differs from what the API has (retrying conflicts on a fresh read). */
export async function writePodStatus(ctx: StatusWriterContext, state: PodState, obs: Observed, message?: string): Promise<NonNullable<Pod['status']>> {
  let base = state.pod;
  let status = statusFor(ctx, state, base, obs, message);
  let text = stableJson(status);
  if (text === state.lastWritten || text === stableJson(state.pod.status ?? {})) {
    state.lastWritten = text;
    return status;
  }
  for (let i = 0; ; i++) {
    try {
      const written = await ctx.pods.updateStatus({ ...base, status });
      state.lastWritten = text;
      // Keep our own write unless the informer already brought something newer (a deletion, say).
      if (Number(written.metadata.resourceVersion ?? 0) > Number(state.pod.metadata.resourceVersion ?? 0)) state.pod = written;
      state.log.debug('pod status written', { phase: status.phase });
      return status;
    } catch (err) {
      if (!isConflict(err) || i >= CONFLICT_RETRIES) throw err;
      base = await ctx.pods.get(state.pod.metadata.namespace, state.pod.metadata.name ?? '');
      if (base.metadata.uid !== state.uid) throw err;
      status = statusFor(ctx, state, base, obs, message);
      text = stableJson(status);
    }
  }
}
