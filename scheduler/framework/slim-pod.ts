// What the scheduler's pod cache keeps of a pod: what its queue, cache and plugins read, so that 30,000 pods held in
// its informer cost a fraction of their full form. Applied to each pod as it arrives (an informer transform).
import { DIAGNOSIS_ANNOTATION } from '../../api/annotations.js';
import type { Pod } from '../../api/index.js';
import { slimPodSpec, without } from '../../client/informer-transform.js';

const CUT_METADATA = new Set(['managedFields', 'annotations']);

/**
 * The pod as the scheduler keeps it: no field ownership, no annotations but its own diagnosis, of the volumes only those
 * that name a claim (the volume plugins'), containers cut to what scheduling reads, and of the status only the phase, the PodScheduled
 * condition, the nominated node and the start time (preemption's order). Changes the pod it is given (a fresh parse) and returns it.
 */
export function slimPod(pod: Pod): Pod {
  // New objects built property by property (client/informer-transform.ts: shapes shared among pods, never a dictionary).
  const m = pod.metadata;
  if (m) {
    const diag = m.annotations?.[DIAGNOSIS_ANNOTATION];
    const meta = without(m, CUT_METADATA);
    if (diag !== undefined) meta.annotations = { [DIAGNOSIS_ANNOTATION]: diag };
    pod.metadata = meta;
  }
  if (pod.spec) pod.spec = slimPodSpec(pod.spec);
  const st = pod.status;
  if (st) {
    const scheduled = st.conditions?.find((c) => c.type === 'PodScheduled');
    const status: NonNullable<Pod['status']> = {};
    if (st.phase !== undefined) status.phase = st.phase;
    if (scheduled) status.conditions = [scheduled];
    if (st.nominatedNodeName !== undefined) status.nominatedNodeName = st.nominatedNodeName;
    if (st.startTime !== undefined) status.startTime = st.startTime;
    pod.status = status;
  }
  return pod;
}
