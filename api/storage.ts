// Storage rules shared by the PV controller, the scheduler's volume plugins, admission, the node side and the CLI: the
// well-known annotations and finalizers, and how a claim matches a volume (k8s.io/component-helpers/storage/volume
// and pkg/controller/volume/persistentvolume/util in Kubernetes).
import type { Node, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus } from './schemas/core.js';
import type { StorageClass } from './schemas/storage.js';
import { compareQuantities } from './quantity.js';
import { matchesLabelSelector } from './selectors.js';
import { termMatchesNode } from './node-selection.js';

/** On a claim: binding has completed once (the controller reads later changes differently). */
export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
/** On a volume or claim: the controller, not the user, made the binding. */
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
/** On a volume: the provisioner that made it (and that must delete it). */
export const ANN_DYNAMICALLY_PROVISIONED = 'pv.kubernetes.io/provisioned-by';
/** On a claim: the provisioner expected to make its volume. */
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';
/** On a WaitForFirstConsumer claim: the node the scheduler chose for its first pod (provision there). */
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
/** On a StorageClass: "true" makes it the class of claims that name none. */
export const ANN_DEFAULT_STORAGE_CLASS = 'storageclass.kubernetes.io/is-default-class';
export const ANN_BETA_DEFAULT_STORAGE_CLASS = 'storageclass.beta.kubernetes.io/is-default-class';
/** The class as an annotation, before spec.storageClassName existed; it still wins when set. */
export const ANN_BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';
/** Keeps a claim while pods use it, and a volume while a claim is bound to it. */
export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';

/** The built-in provisioner (rancher's local-path-provisioner semantics) and its default class. */
export const LOCAL_PATH_PROVISIONER = 'rancher.io/local-path';
export const LOCAL_PATH_CLASS = 'local-path';
/** Where local-path volumes live on each node unless the class's `nodePath` parameter says otherwise. */
export const DEFAULT_LOCAL_PATH_ROOT = '/var/lib/ketch/storage';
/** The local-path StorageClass parameter naming the root its volumes live in (one per class; the node reads it too). */
export const LOCAL_PATH_PARAM_NODE_PATH = 'nodePath';
/**
 * On a local-path PersistentVolume: held until the node that has the directory has removed it (Delete reclaim); the
 * node's agent removes the finalizer after removing the directory.
 */
export const LOCAL_PATH_CLEANUP_FINALIZER = 'local-path.ketch.io/cleanup';
/** A local-path volume's directory name: `pvc-<claim uid>_<namespace>_<claim>` (as rancher's provisioner names it). */
export const LOCAL_PATH_DIR_PATTERN = /^pvc-[0-9a-f-]+_[a-z0-9]([-a-z0-9]*[a-z0-9])?_[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** PersistentVolumeClaim conditions and resize states (as Kubernetes names them). */
export const CLAIM_RESIZING = 'Resizing';
export const CLAIM_FILESYSTEM_RESIZE_PENDING = 'FileSystemResizePending';
export const CLAIM_CONTROLLER_RESIZE_ERROR = 'ControllerResizeError';
export const RESIZE_STATUSES = ['ControllerResizeInProgress', 'ControllerResizeInfeasible', 'NodeResizePending', 'NodeResizeInProgress', 'NodeResizeInfeasible'] as const;

const annotation = (o: { metadata?: { annotations?: Record<string, string> } }, key: string): string | undefined => o.metadata?.annotations?.[key];

/** The claim's class: the beta annotation when set, else spec.storageClassName ('' = no class). */
export function claimClass(pvc: PersistentVolumeClaim): string {
  return annotation(pvc, ANN_BETA_STORAGE_CLASS) ?? pvc.spec?.storageClassName ?? '';
}

export function volumeClass(pv: PersistentVolume): string {
  return annotation(pv, ANN_BETA_STORAGE_CLASS) ?? pv.spec?.storageClassName ?? '';
}

/** spec.resources.requests.storage, '0' when missing. */
export function claimRequest(pvc: PersistentVolumeClaim): string | number {
  return pvc.spec?.resources?.requests?.storage ?? '0';
}

export function volumeCapacity(pv: PersistentVolume): string | number {
  return pv.spec?.capacity?.storage ?? '0';
}

/** Whether the class is the default (either annotation "true"). */
export function isDefaultClass(sc: StorageClass): boolean {
  return annotation(sc, ANN_DEFAULT_STORAGE_CLASS) === 'true' || annotation(sc, ANN_BETA_DEFAULT_STORAGE_CLASS) === 'true';
}

/** The default class: with several, the newest (then the first by name), as the DefaultStorageClass admission picks. */
export function defaultClass(classes: readonly StorageClass[]): StorageClass | undefined {
  let best: StorageClass | undefined;
  for (const sc of classes) {
    if (!isDefaultClass(sc)) continue;
    const t = sc.metadata.creationTimestamp ?? '';
    const bt = best?.metadata.creationTimestamp ?? '';
    if (!best || t > bt || (t === bt && (sc.metadata.name ?? '') < (best.metadata.name ?? ''))) best = sc;
  }
  return best;
}

/** The volume's claimRef names this claim (and its uid, when the ref has one). */
export function isVolumeBoundToClaim(pv: PersistentVolume, pvc: PersistentVolumeClaim): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== pvc.metadata?.name || (ref.namespace ?? '') !== (pvc.metadata?.namespace ?? '')) return false;
  return !ref.uid || ref.uid === pvc.metadata?.uid;
}

/** Every access mode the claim asks for is one the volume offers. */
export function accessModesSatisfied(pvc: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  const offered = new Set(pv.spec?.accessModes ?? []);
  return (pvc.spec?.accessModes ?? []).every((m) => offered.has(m));
}

export function volumeModeMismatch(pvc: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  return (pvc.spec?.volumeMode ?? 'Filesystem') !== (pv.spec?.volumeMode ?? 'Filesystem');
}

/** The volume's required node affinity admits the node (no affinity admits every node); terms are ORed. */
export function volumeNodeAffinityMatches(pv: PersistentVolume, node: Node): boolean {
  const req = pv.spec?.nodeAffinity?.required;
  if (!req) return true;
  return req.nodeSelectorTerms.some((t) => termMatchesNode(t, node));
}

/** The node a volume is pinned to by a `kubernetes.io/hostname In [x]` affinity (local volumes), if any. */
export function volumeHostname(pv: PersistentVolume): string | undefined {
  for (const t of pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? []) {
    for (const e of t.matchExpressions ?? []) {
      if (e.key === 'kubernetes.io/hostname' && e.operator === 'In' && e.values?.length === 1) return e.values[0];
    }
  }
  return undefined;
}

/** Why a volume cannot back a claim, or undefined when it can (checkVolumeSatisfyClaim, for pre-bound pairs). */
export function volumeUnfitReason(pv: PersistentVolume, pvc: PersistentVolumeClaim): string | undefined {
  if (compareQuantities(volumeCapacity(pv), claimRequest(pvc)) < 0) return 'requested PV is too small';
  if (volumeClass(pv) !== claimClass(pvc)) return 'storageClassName does not match';
  if (volumeModeMismatch(pvc, pv)) return 'incompatible volumeMode';
  if (!accessModesSatisfied(pvc, pv)) return 'incompatible accessMode';
  return undefined;
}

export interface MatchOptions {
  /** The scheduler's path: only volumes whose node affinity admits this node (and access modes are checked). */
  node?: Node;
  /** Volume names already taken in this pass (other claims of the same pod). */
  excluded?: ReadonlySet<string>;
  /** The claim's class is WaitForFirstConsumer: without a node, only a volume pre-bound to it matches. */
  delayBinding?: boolean;
}

/**
 * FindMatchingVolume: the volume pre-bound to the claim if there is one, else the smallest Available volume of the
 * claim's class that is big enough, has the mode, matches the selector (and, with a node, admits it).
 */
export function findMatchingVolume(pvc: PersistentVolumeClaim, volumes: Iterable<PersistentVolume>, opts: MatchOptions = {}): PersistentVolume | undefined {
  const requested = claimRequest(pvc);
  const cls = claimClass(pvc);
  let smallest: PersistentVolume | undefined;
  for (const pv of volumes) {
    if (opts.excluded?.has(pv.metadata.name ?? '')) continue;
    const boundHere = isVolumeBoundToClaim(pv, pvc);
    if (pv.spec?.claimRef && !boundHere) continue;
    if (compareQuantities(volumeCapacity(pv), requested) < 0) continue;
    if (volumeModeMismatch(pvc, pv) || pv.metadata.deletionTimestamp) continue;
    const affinityOk = !opts.node || volumeNodeAffinityMatches(pv, opts.node);
    // A volume pre-bound to this claim is the answer, or none is when it cannot be on the node.
    if (boundHere) return affinityOk ? pv : undefined;
    if (!opts.node && opts.delayBinding) continue; // the scheduler binds these
    if (pv.status?.phase !== 'Available') continue;
    if (pvc.spec?.selector && !matchesLabelSelector(pvc.spec.selector, pv.metadata.labels)) continue;
    if (volumeClass(pv) !== cls || !affinityOk) continue;
    if (opts.node && !accessModesSatisfied(pvc, pv)) continue;
    if (!smallest || compareQuantities(volumeCapacity(smallest), volumeCapacity(pv)) > 0) smallest = pv;
  }
  return smallest;
}

/**
 * The PV controller's findBestMatchForClaim: volumes are grouped by their access modes, and the groups that offer
 * every mode the claim asks for are tried fewest modes first, so an RWO claim does not take an RWX volume while an RWO
 * one fits.
 */
export function findBestMatchForClaim(pvc: PersistentVolumeClaim, volumes: readonly PersistentVolume[], delayBinding: boolean): PersistentVolume | undefined {
  const groups = new Map<string, PersistentVolume[]>();
  for (const pv of volumes) {
    if (!accessModesSatisfied(pvc, pv)) continue;
    const k = [...new Set(pv.spec?.accessModes ?? [])].sort().join(',');
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(pv);
  }
  const keys = [...groups.keys()].sort((a, b) => a.split(',').length - b.split(',').length || (a < b ? -1 : a > b ? 1 : 0));
  for (const k of keys) {
    const found = findMatchingVolume(pvc, groups.get(k) ?? [], { delayBinding });
    if (found) return found;
  }
  return undefined;
}

/** The claim waits for a pod: its class is WaitForFirstConsumer (an unknown class binds at once, as in Kubernetes). */
export function isDelayBinding(pvc: PersistentVolumeClaim, classOf: (name: string) => StorageClass | undefined): boolean {
  const name = claimClass(pvc);
  if (!name) return false;
  return classOf(name)?.volumeBindingMode === 'WaitForFirstConsumer';
}

/** The scheduler has picked the node of a WaitForFirstConsumer claim: provisioning may start. */
export function selectedNode(pvc: PersistentVolumeClaim): string | undefined {
  return annotation(pvc, ANN_SELECTED_NODE) || undefined;
}

/** The claims a pod's volumes use: persistentVolumeClaim by name, ephemeral as `<pod>-<volume>`. */
export function podClaimNames(pod: { metadata?: { name?: string }; spec: { volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string }; ephemeral?: unknown }> } }): string[] {
  const out: string[] = [];
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim?.claimName) out.push(v.persistentVolumeClaim.claimName);
    else if (v.ephemeral) out.push(`${pod.metadata?.name ?? ''}-${v.name}`);
  }
  return out;
}

/** A claim's status once a resize is done: it shows `size`, and the given conditions and the storage resize step go. */
export function finishResize(st: PersistentVolumeClaimStatus, size: string | number, conditions: readonly string[]): void {
  st.capacity = { ...(st.capacity ?? {}), storage: size };
  st.conditions = (st.conditions ?? []).filter((c) => !conditions.includes(c.type));
  if (!st.conditions.length) delete st.conditions;
  if (st.allocatedResourceStatuses) {
    delete st.allocatedResourceStatuses.storage;
    if (!Object.keys(st.allocatedResourceStatuses).length) delete st.allocatedResourceStatuses;
  }
}

/** Access modes as kubectl shows them (GetAccessModesAsString): RWO, ROX, RWX, RWOP in that order, comma-separated. */
export function accessModesString(modes: readonly unknown[] | undefined): string {
  const have = new Set((modes ?? []).map(String));
  const short: [string, string][] = [['ReadWriteOnce', 'RWO'], ['ReadOnlyMany', 'ROX'], ['ReadWriteMany', 'RWX'], ['ReadWriteOncePod', 'RWOP']];
  return short.filter(([m]) => have.has(m)).map(([, x]) => x).join(',');
}
