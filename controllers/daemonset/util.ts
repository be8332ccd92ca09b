// DaemonSet rules (pkg/controller/daemon and daemon/util) as pure functions: which nodes should run a daemon pod, the
// tolerations and node affinity daemon pods get, which pods to create and delete on a node, the rolling update's
// surge and unavailability bounds, and the status counts.
import { scaledValue } from '../../api/intstr.js';
import { findUntoleratedTaint, podMatchesNodeSelectorAndAffinity } from '../../api/node-selection.js';
import { isPodAvailable, isPodReady } from '../framework/pods.js';
import type { DaemonSet, DaemonSetStatus, Node, Pod, PodTemplateSpec, Toleration } from '../framework/types.js';
import { CONTROLLER_REVISION_HASH } from '../history/revisions.js';

/** extensions.DaemonSetTemplateGenerationKey: the DaemonSet's template generation a pod was made from. */
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

type PodSpec = Pod['spec'];
type Affinity = NonNullable<PodSpec['affinity']>;

/** AddOrUpdateDaemonPodTolerations: node problems never evict or block a daemon pod. */
const DAEMON_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];
const HOST_NETWORK_TOLERATION: Toleration = { key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' };

const sameToleration = (a: Toleration, b: Toleration): boolean =>
  (a.key ?? '') === (b.key ?? '') && (a.operator ?? 'Equal') === (b.operator ?? 'Equal') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '');

/** The spec's tolerations with the daemon ones added, or put in place of a matching one (AddOrUpdateTolerationInPodSpec). */
export function daemonTolerations(spec: Pick<PodSpec, 'tolerations' | 'hostNetwork'>): Toleration[] {
  const out = [...(spec.tolerations ?? [])];
  for (const t of spec.hostNetwork ? [...DAEMON_TOLERATIONS, HOST_NETWORK_TOLERATION] : DAEMON_TOLERATIONS) {
    const i = out.findIndex((x) => sameToleration(x, t));
    if (i < 0) out.push({ ...t });
    else out[i] = { ...t }; // a tolerationSeconds on it would let node problems evict the daemon pod
  }
  return out;
}

/** CreatePodTemplate: the template with daemon tolerations and the revision labels. */
export function createPodTemplate(template: PodTemplateSpec, generation: number | undefined, hash: string): PodTemplateSpec {
  const t = structuredClone(template);
  t.spec.tolerations = daemonTolerations(t.spec);
  const labels = { ...(t.metadata?.labels ?? {}) };
  if (generation !== undefined) labels[TEMPLATE_GENERATION_LABEL] = String(generation);
  if (hash) labels[CONTROLLER_REVISION_HASH] = hash;
  t.metadata = { ...(t.metadata ?? {}), labels };
  return t;
}

/**
 * ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes the single term `metadata.name In [node]`,
 * so that the default scheduler places the pod on that node (and the preferred terms stay).
 */
export function withNodeNameAffinity(affinity: Affinity | undefined, node: string): Affinity {
  const required = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In' as const, values: [node] }] }] };
  return { ...(affinity ?? {}), nodeAffinity: { ...(affinity?.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: required } };
}

/** GetTargetNodeName: the node a daemon pod is on, or the one its node affinity names while it waits to be scheduled. */
export function targetNodeName(pod: Pod): string | undefined {
  if (pod.spec.nodeName) return pod.spec.nodeName;
  for (const term of pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    for (const f of term.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}

export interface NodeFit {
  /** A daemon pod should be started on the node if it has none. */
  shouldRun: boolean;
  /** A daemon pod already there may stay. */
  shouldContinueRunning: boolean;
}

/** NodeShouldRunDaemonPod for one DaemonSet, with the daemon pod's constraints worked out once for all nodes. */
export class DaemonPlacement {
  private readonly pod: Pod;

  constructor(ds: DaemonSet) {
    const spec = ds.spec.template.spec;
    this.pod = { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { ...spec, tolerations: daemonTolerations(spec) } };
  }

  fit(node: Node): NodeFit {
    const name = node.metadata?.name ?? '';
    if (this.pod.spec.nodeName && this.pod.spec.nodeName !== name) return { shouldRun: false, shouldContinueRunning: false };
    if (!podMatchesNodeSelectorAndAffinity(this.pod, node)) return { shouldRun: false, shouldContinueRunning: false };
    const taints = node.spec?.taints ?? [];
    if (!taints.length) return { shouldRun: true, shouldContinueRunning: true };
    const tolerations = this.pod.spec.tolerations ?? [];
    if (!findUntoleratedTaint(taints, tolerations, ['NoSchedule', 'NoExecute'])) return { shouldRun: true, shouldContinueRunning: true };
    return { shouldRun: false, shouldContinueRunning: !findUntoleratedTaint(taints, tolerations, ['NoExecute']) };
  }
}

const isRollingUpdate = (ds: DaemonSet): boolean => (ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/** SurgeCount: new pods allowed beside old ones, of n nodes (percentages round up); 0 unless rolling with maxSurge. */
export function surgeCount(ds: DaemonSet, n: number): number {
  const v = ds.spec.updateStrategy?.rollingUpdate?.maxSurge;
  return isRollingUpdate(ds) && v !== undefined ? scaledValue(v, n, true) : 0;
}

/** UnavailableCount: nodes allowed without an available pod during the update, of n (percentages round up). */
export function unavailableCount(ds: DaemonSet, n: number): number {
  const v = ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable;
  return isRollingUpdate(ds) && v !== undefined ? scaledValue(v, n, true) : 0;
}

export const allowsSurge = (ds: DaemonSet): boolean => surgeCount(ds, 1) > 0;

/**
 * IsPodUpdated. Kubernetes also accepts a pod whose pod-template-generation label equals the DaemonSet's, but compares
 * it with a pointer's text, so in effect only the hash counts; so here.
 */
export const isPodUpdated = (pod: Pod, hash: string): boolean => !!hash && pod.metadata.labels?.[CONTROLLER_REVISION_HASH] === hash;

const created = (p: Pod): number => Date.parse(p.metadata.creationTimestamp ?? '') || 0;

/** podByCreationTimestampAndPhase: scheduled pods first, then the oldest, then by name. */
export function byCreationAndPhase(a: Pod, b: Pod): number {
  const sa = !!a.spec.nodeName;
  const sb = !!b.spec.nodeName;
  if (sa !== sb) return sa ? -1 : 1;
  return created(a) - created(b) || ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0);
}

export interface NodePodsHooks {
  /** A failed pod may be deleted now (not held back by the per-node back-off); emits the event when it is. */
  deleteFailed(pod: Pod): boolean;
  /** A pod that ran to completion is deleted; for the event. */
  succeeded(pod: Pod): void;
}

/**
 * podsShouldBeOnNode: whether to create a daemon pod on the node and which of its pods to delete: failed and finished
 * ones, all but the oldest (or, when surging, all but the oldest old pod and the oldest new one until the new one is
 * available), or all of them where the daemon may no longer run.
 */
export function podsShouldBeOnNode(fit: NodeFit, pods: Pod[] | undefined, opts: { surge: boolean; hash: string; minReadySeconds: number; now: number }, hooks: NodePodsHooks): { create: boolean; remove: Pod[] } {
  const remove: Pod[] = [];
  if (fit.shouldRun && !pods) return { create: true, remove };
  if (!fit.shouldContinueRunning) return { create: false, remove: (pods ?? []).filter((p) => !p.metadata.deletionTimestamp) };
  const running: Pod[] = [];
  for (const pod of pods ?? []) {
    if (pod.metadata.deletionTimestamp) continue;
    const phase = pod.status?.phase;
    if (phase === 'Failed') {
      if (hooks.deleteFailed(pod)) remove.push(pod);
    } else if (phase === 'Succeeded') {
      hooks.succeeded(pod);
      remove.push(pod);
    } else running.push(pod);
  }
  running.sort(byCreationAndPhase);
  if (!opts.surge) return { create: false, remove: [...remove, ...running.slice(1)] };
  if (running.length <= 1) return { create: running.length === 0 && fit.shouldRun, remove };
  let oldestNew: Pod | undefined;
  let oldestOld: Pod | undefined;
  for (const pod of running) {
    if (isPodUpdated(pod, opts.hash)) {
      if (!oldestNew) oldestNew = pod;
      else remove.push(pod);
    } else if (!oldestOld) oldestOld = pod;
    else remove.push(pod);
  }
  if (oldestNew && oldestOld && (!isPodReady(oldestOld) || isPodAvailable(oldestNew, opts.minReadySeconds, opts.now))) remove.push(oldestOld);
  return { create: false, remove };
}

/** findUpdatedPodsOnNode: the node's one new and one old pod, or ok=false when it has more of either (manage prunes them). */
export function updatedPodsOnNode(pods: Pod[], hash: string): { newPod?: Pod; oldPod?: Pod; ok: boolean } {
  let newPod: Pod | undefined;
  let oldPod: Pod | undefined;
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    if (isPodUpdated(pod, hash)) {
      if (newPod) return { ok: false };
      newPod = pod;
    } else {
      if (oldPod) return { ok: false };
      oldPod = pod;
    }
  }
  return { ...(newPod ? { newPod } : {}), ...(oldPod ? { oldPod } : {}), ok: true };
}

export interface RollingInput {
  /** Pods by node, with an empty entry for every node that should run a pod and has none. */
  nodeToPods: Map<string, Pod[]>;
  hash: string;
  maxSurge: number;
  maxUnavailable: number;
  /** desiredNumberScheduled */
  desired: number;
  minReadySeconds: number;
  now: number;
  shouldRun(node: string): boolean;
}

/**
 * The rolling update's step (update.go rollingUpdate). Without surge: delete old pods while fewer than maxUnavailable
 * nodes lack an available pod (unavailable old pods always go). With surge: start a new pod beside old ones on at most
 * maxSurge nodes at once (at once where the old pod is unavailable), and delete an old pod once its new one is available.
 */
export function rollingUpdatePlan(i: RollingInput): { remove: Pod[]; createOn: string[] } {
  const available = (p: Pod): boolean => isPodAvailable(p, i.minReadySeconds, i.now);
  if (i.maxSurge === 0) {
    let unavailable = 0;
    const replace: Pod[] = [];
    const candidates: Pod[] = [];
    for (const pods of i.nodeToPods.values()) {
      const { newPod, oldPod, ok } = updatedPodsOnNode(pods, i.hash);
      if (!ok || (!oldPod && !newPod) || (oldPod && newPod)) unavailable++;
      else if (newPod) {
        if (!available(newPod)) unavailable++;
      } else if (oldPod && !available(oldPod)) {
        replace.push(oldPod);
        unavailable++;
      } else if (oldPod && unavailable < i.maxUnavailable) candidates.push(oldPod);
    }
    const room = Math.min(Math.max(0, i.maxUnavailable - unavailable), candidates.length);
    return { remove: [...replace, ...candidates.slice(0, room)], createOn: [] };
  }
  const remove: Pod[] = [];
  const notRunHere: Pod[] = [];
  const candidates: string[] = [];
  const allowed: string[] = [];
  let surging = 0;
  let numAvailable = 0;
  for (const [node, pods] of i.nodeToPods) {
    const { newPod, oldPod, ok } = updatedPodsOnNode(pods, i.hash);
    if (!ok) {
      surging++;
      continue;
    }
    if (oldPod ? available(oldPod) : newPod ? available(newPod) : false) numAvailable++;
    if (!oldPod) continue;
    if (!newPod) {
      if (!available(oldPod)) {
        if (i.shouldRun(node)) allowed.push(node);
        else remove.push(oldPod);
      } else if (!i.shouldRun(node)) notRunHere.push(oldPod);
      else if (surging < i.maxSurge) candidates.push(node);
    } else if (!available(newPod)) surging++;
    else remove.push(oldPod);
  }
  // With surge the owner expects full availability: a pod on a node the daemon is leaving goes only once others are up.
  const deletable = Math.min(numAvailable - i.desired, notRunHere.length);
  if (deletable > 0) remove.push(...notRunHere.slice(0, deletable));
  const room = Math.min(Math.max(0, i.maxSurge - surging), candidates.length);
  return { remove, createOn: [...allowed, ...candidates.slice(0, room)] };
}

export type DaemonCounts = Required<Pick<DaemonSetStatus, 'desiredNumberScheduled' | 'currentNumberScheduled' | 'numberMisscheduled' | 'numberReady' | 'updatedNumberScheduled' | 'numberAvailable' | 'numberUnavailable'>>;

/** updateDaemonSetStatus's counts: per node that should run a pod, the oldest pod there decides ready, available, updated. */
export function daemonCounts(nodes: Array<{ name: string; fit: NodeFit }>, nodeToPods: Map<string, Pod[]>, hash: string, minReadySeconds: number, now: number): DaemonCounts {
  const c: DaemonCounts = { desiredNumberScheduled: 0, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0, updatedNumberScheduled: 0, numberAvailable: 0, numberUnavailable: 0 };
  for (const { name, fit } of nodes) {
    const pods = nodeToPods.get(name) ?? [];
    if (!fit.shouldRun) {
      if (pods.length) c.numberMisscheduled++;
      continue;
    }
    c.desiredNumberScheduled++;
    if (!pods.length) continue;
    c.currentNumberScheduled++;
    const pod = [...pods].sort(byCreationAndPhase)[0]!;
    if (isPodReady(pod)) {
      c.numberReady++;
      if (isPodAvailable(pod, minReadySeconds, now)) c.numberAvailable++;
    }
    if (isPodUpdated(pod, hash)) c.updatedNumberScheduled++;
  }
  c.numberUnavailable = c.desiredNumberScheduled - c.numberAvailable;
  return c;
}
