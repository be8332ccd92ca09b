// VolumeBinding's reading of a pod's claims (GetPodVolumes) and of one node (FindPodVolumes): which claims are bound,
// which wait for this scheduling decision, and, for a node, the volumes that would be bound there and the claims that
// would be provisioned there, or the reasons the node cannot have them.
import {
  ANN_BIND_COMPLETED, claimClass, claimRequest, compareQuantities, findMatchingVolume, isDelayBinding, selectedNode, volumeNodeAffinityMatches,
  type Node, type PersistentVolume, type PersistentVolumeClaim, type Pod, type StorageClass,
} from '../../../api/index.js';
import type { VolumeListers } from '../../framework/types.js';

export const ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";
export const ERR_REASON_NODE_CONFLICT = 'node(s) had volume node affinity conflict';
export const ERR_REASON_PV_NOT_EXIST = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
export const ERR_UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims';
/** A class that says "no provisioner": only volumes made by hand can serve its claims. */
export const NOT_SUPPORTED_PROVISIONER = 'kubernetes.io/no-provisioner';

export interface PodClaims {
  /** Bound: a volume name and the bind-completed annotation. */
  bound: PersistentVolumeClaim[];
  /** Unbound claims of WaitForFirstConsumer classes: this scheduling decision binds or provisions them. */
  toBind: PersistentVolumeClaim[];
}

export interface NodeVolumes {
  staticBindings: Array<{ pv: PersistentVolume; pvc: PersistentVolumeClaim }>;
  dynamicProvisions: PersistentVolumeClaim[];
}

export const claimKeyOf = (pvc: PersistentVolumeClaim): string => `${pvc.metadata?.namespace ?? ''}/${pvc.metadata?.name ?? ''}`;

export const isFullyBound = (pvc: PersistentVolumeClaim): boolean => !!pvc.spec?.volumeName && pvc.metadata?.annotations?.[ANN_BIND_COMPLETED] !== undefined;

/** The pod's claims, or why it cannot be scheduled at all (a message for UnschedulableAndUnresolvable). */
export function podClaims(pod: Pod, claim: (ns: string, name: string) => PersistentVolumeClaim | undefined, classOf: (name: string) => StorageClass | undefined): PodClaims | string {
  const ns = pod.metadata?.namespace ?? '';
  const out: PodClaims = { bound: [], toBind: [] };
  let immediate = false;
  for (const v of pod.spec.volumes ?? []) {
    const ephemeral = !!v.ephemeral;
    const name = v.persistentVolumeClaim?.claimName ?? (ephemeral ? `${pod.metadata?.name ?? ''}-${v.name}` : undefined);
    if (!name) continue;
    const pvc = claim(ns, name);
    if (!pvc) return `persistentvolumeclaim "${name}" not found`;
    if (pvc.metadata?.deletionTimestamp) return `persistentvolumeclaim "${name}" is being deleted`;
    if (ephemeral && !(pvc.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === pod.metadata?.uid)) {
      return `persistentvolumeclaim "${name}" was not created for the pod`;
    }
    if (isFullyBound(pvc)) out.bound.push(pvc);
    else if (!pvc.spec?.volumeName && isDelayBinding(pvc, classOf)) out.toBind.push(pvc);
    else immediate = true; // an Immediate claim (or one pre-bound to a volume) the PV controller has not bound yet
  }
  return immediate ? ERR_UNBOUND_IMMEDIATE : out;
}

/** The class admits provisioning on the node: a provisioner, and the node within allowedTopologies (if any). */
function canProvisionOn(cls: StorageClass | undefined, node: Node): boolean {
  if (!cls?.provisioner || cls.provisioner === NOT_SUPPORTED_PROVISIONER) return false;
  const terms = cls.allowedTopologies ?? [];
  if (!terms.length) return true;
  const labels = node.metadata?.labels ?? {};
  return terms.some((t) => (t.matchLabelExpressions ?? []).every((r) => r.values.includes(labels[r.key] ?? '\u0000')));
}

/**
 * FindPodVolumes for one node: bound claims' volumes must admit the node; each claim to bind gets the smallest
 * matching Available volume there (not one another pod has been promised), else must be provisionable there; a
 * claim whose node was already selected fits that node only. Returns the plan, or the reasons against the node.
 */
export function findPodVolumes(claims: PodClaims, node: Node, listers: VolumeListers, promised: (pvName: string, claimKey: string) => boolean): NodeVolumes | string[] {
  const reasons = new Set<string>();
  for (const pvc of claims.bound) {
    const pv = listers.volume(pvc.spec?.volumeName ?? '');
    if (!pv) reasons.add(ERR_REASON_PV_NOT_EXIST);
    else if (!volumeNodeAffinityMatches(pv, node)) reasons.add(ERR_REASON_NODE_CONFLICT);
  }
  const plan: NodeVolumes = { staticBindings: [], dynamicProvisions: [] };
  const toMatch: PersistentVolumeClaim[] = [];
  for (const pvc of claims.toBind) {
    const sel = selectedNode(pvc);
    if (sel === undefined) toMatch.push(pvc);
    else if (sel === node.metadata?.name) plan.dynamicProvisions.push(pvc);
    else reasons.add(ERR_REASON_BIND_CONFLICT);
  }
  // Smallest requests first, as Kubernetes sorts them, so that small claims do not take the big volumes.
  toMatch.sort((a, b) => compareQuantities(claimRequest(a), claimRequest(b)));
  const chosen = new Set<string>();
  for (const pvc of toMatch) {
    const key = claimKeyOf(pvc);
    const candidates = listers.volumesOfClass(claimClass(pvc)).filter((pv) => !chosen.has(pv.metadata.name ?? '') && !promised(pv.metadata.name ?? '', key));
    const pv = findMatchingVolume(pvc, candidates, { node, delayBinding: true });
    if (pv) {
      chosen.add(pv.metadata.name ?? '');
      plan.staticBindings.push({ pv, pvc });
    } else if (canProvisionOn(listers.storageClass(claimClass(pvc)), node)) plan.dynamicProvisions.push(pvc);
    else reasons.add(ERR_REASON_BIND_CONFLICT);
  }
  return reasons.size ? [...reasons] : plan;
}
