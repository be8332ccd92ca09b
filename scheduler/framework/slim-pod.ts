// What the scheduler's pod cache keeps of a pod: what its queue, cache and plugins read, so that 30,000 pods held in
// its informer cost a fraction of their full form. Applied to each pod as it arrives (an informer transform).
import { DIAGNOSIS_ANNOTATION } from '../../api/annotations.js';
import type { Container, Pod } from '../../api/index.js';

/** The fields of a container the plugins read: requests and limits, host ports, the image (ImageLocality), sidecar-ness. */
function slimContainer(c: Container): Container {
  return {
    name: c.name,
    image: c.image,
    ...(c.resources !== undefined ? { resources: c.resources } : {}),
    ...(c.ports !== undefined ? { ports: c.ports } : {}),
    ...(c.restartPolicy !== undefined ? { restartPolicy: c.restartPolicy } : {}),
  };
}

/**
 * The pod as the scheduler keeps it: no field ownership, no annotations but its own diagnosis, of the volumes only those
 * that name a claim (the volume plugins'), containers cut to what scheduling reads, and of the status only the phase, the PodScheduled
 * condition, the nominated node and the start time (preemption's order). Changes the pod it is given (a fresh parse) and returns it.
 */
export function slimPod(pod: Pod): Pod {
  const m = pod.metadata;
  if (m) {
    delete m.managedFields;
    const diag = m.annotations?.[DIAGNOSIS_ANNOTATION];
    if (diag !== undefined) m.annotations = { [DIAGNOSIS_ANNOTATION]: diag };
    else delete m.annotations;
  }
  const spec = pod.spec;
  if (spec) {
    // VolumeBinding and VolumeRestrictions read the volumes that name a claim (persistentVolumeClaim, ephemeral).
    const claimed = spec.volumes?.filter((v) => v.persistentVolumeClaim || v.ephemeral);
    if (claimed?.length) spec.volumes = claimed;
    else delete spec.volumes;
    spec.containers = spec.containers.map(slimContainer);
    if (spec.initContainers) spec.initContainers = spec.initContainers.map(slimContainer);
  }
  const st = pod.status;
  if (st) {
    const scheduled = st.conditions?.find((c) => c.type === 'PodScheduled');
    pod.status = {
      ...(st.phase !== undefined ? { phase: st.phase } : {}),
      ...(scheduled ? { conditions: [scheduled] } : {}),
      ...(st.nominatedNodeName !== undefined ? { nominatedNodeName: st.nominatedNodeName } : {}),
      ...(st.startTime !== undefined ? { startTime: st.startTime } : {}),
    };
  }
  return pod;
}
