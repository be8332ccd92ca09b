// Deployment arithmetic (pkg/controller/deployment/util): pod-template hashes, maxSurge/maxUnavailable, the size of
// the new ReplicaSet at each step, proportional scaling, revision annotations and conditions. Pure functions.
import { scaledValue } from '../../api/intstr.js';
import { hashOf, stableJson } from '../../lib/hash.js';
import { rfc3339 } from '../framework/pods.js';
import type { Deployment, DeploymentCondition, DeploymentStatus, PodTemplateSpec, ReplicaSet } from '../framework/types.js';

export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
/** Deployment annotations not copied onto its ReplicaSets. */
const ANNOTATIONS_TO_SKIP = new Set(['kubectl.kubernetes.io/last-applied-configuration', REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, 'deprecated.deployment.rollback.to']);
/** kube-controller-manager's limit on the revision-history annotation. */
export const MAX_REVISION_HISTORY_CHARS = 2000;

// Condition reasons, as kubectl prints them.
export const Reason = {
  NewReplicaSetCreated: 'NewReplicaSetCreated',
  FoundNewReplicaSet: 'FoundNewReplicaSet',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  NewReplicaSetAvailable: 'NewReplicaSetAvailable',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  DeploymentPaused: 'DeploymentPaused',
  DeploymentResumed: 'DeploymentResumed',
  FailedCreate: 'ReplicaSetCreateError',
} as const;

/** The int32 max: a progressDeadlineSeconds of this means "no deadline". */
export const NO_DEADLINE = 2147483647;

// ---- hashing ----

export { safeEncodeString } from '../../lib/hash.js';

/** The pod-template-hash of a template (FNV-32a over its canonical JSON, and the collision count). */
export function computeHash(template: PodTemplateSpec, collisionCount?: number): string {
  return hashOf(template, collisionCount);
}

function withoutHashLabel(t: PodTemplateSpec | undefined): unknown {
  if (!t) return undefined;
  const labels = { ...(t.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH];
  return { ...t, metadata: { ...(t.metadata ?? {}), labels } };
}

/** Templates equal but for the pod-template-hash label. */
export function equalIgnoreHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return stableJson(withoutHashLabel(a)) === stableJson(withoutHashLabel(b));
}

// ---- surge and unavailability ----

export { scaledValue } from '../../api/intstr.js';

/** maxSurge rounded up and maxUnavailable rounded down; both zero would deadlock, so unavailability becomes 1. */
export function resolveFenceposts(maxSurge: number | string | undefined, maxUnavailable: number | string | undefined, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge, desired, true);
  let unavailable = scaledValue(maxUnavailable, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export const replicasOf = (x: { spec?: { replicas?: number } }): number => x.spec?.replicas ?? 1;
export const isRollingUpdate = (d: Deployment): boolean => (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

function fenceposts(d: Deployment): { surge: number; unavailable: number } {
  const ru = d.spec.strategy?.rollingUpdate ?? {};
  return resolveFenceposts(ru.maxSurge ?? '25%', ru.maxUnavailable ?? '25%', replicasOf(d));
}

export function maxSurge(d: Deployment): number {
  return isRollingUpdate(d) ? fenceposts(d).surge : 0;
}

export function maxUnavailable(d: Deployment): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  return Math.min(fenceposts(d).unavailable, replicas);
}

// ---- replica counts over ReplicaSets ----

export const specReplicas = (rss: Array<ReplicaSet | undefined>): number => rss.reduce((n, rs) => n + (rs ? replicasOf(rs) : 0), 0);
export const actualReplicas = (rss: Array<ReplicaSet | undefined>): number => rss.reduce((n, rs) => n + (rs?.status?.replicas ?? 0), 0);
export const readyReplicas = (rss: Array<ReplicaSet | undefined>): number => rss.reduce((n, rs) => n + (rs?.status?.readyReplicas ?? 0), 0);
export const availableReplicas = (rss: Array<ReplicaSet | undefined>): number => rss.reduce((n, rs) => n + (rs?.status?.availableReplicas ?? 0), 0);

/**
 * Pods a set is answerable for while it converges: the larger of what it wants and what it has (pods of a set being
 * scaled down exist until its controller deletes them). Used for maxSurge so that the bound holds for real pods.
 */
export const podsAccountedFor = (rss: Array<ReplicaSet | undefined>): number =>
  rss.reduce((n, rs) => n + (rs ? Math.max(replicasOf(rs), rs.status?.replicas ?? 0) : 0), 0);

/**
 * Available pods a set will still have once it reaches its spec: its controller deletes unavailable pods first, so at
 * most spec.replicas of its available pods survive. Used for maxUnavailable so that a status not yet updated after a
 * scale-down does not count pods that are about to go.
 */
export const availableAfterScaling = (rss: Array<ReplicaSet | undefined>): number =>
  rss.reduce((n, rs) => n + (rs ? Math.min(replicasOf(rs), rs.status?.availableReplicas ?? 0) : 0), 0);

export const activeReplicaSets = (rss: ReplicaSet[]): ReplicaSet[] => rss.filter((rs) => replicasOf(rs) > 0);

const created = (rs: ReplicaSet): number => Date.parse(rs.metadata.creationTimestamp ?? '') || 0;
/** Oldest first; ties by name. */
export const byCreation = (a: ReplicaSet, b: ReplicaSet): number => created(a) - created(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

/**
 * The size of the new ReplicaSet for the next step. RollingUpdate: grow by what maxSurge leaves room for, never past
 * spec.replicas. Recreate: spec.replicas at once.
 */
export function newRSNewReplicas(d: Deployment, allRSs: ReplicaSet[], newRS: ReplicaSet): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d)) return replicas;
  const maxTotal = replicas + maxSurge(d);
  const current = podsAccountedFor(allRSs);
  if (current >= maxTotal) return replicasOf(newRS);
  const up = Math.min(maxTotal - current, replicas - replicasOf(newRS));
  return replicasOf(newRS) + Math.max(0, up);
}

/**
 * How far the old ReplicaSets may shrink now (reconcileOldReplicaSets): all pods, less the minimum available, less the
 * new set's pods that are not yet available (they may never become so).
 */
export function maxScaledDown(d: Deployment, allRSs: ReplicaSet[], newRS: ReplicaSet | undefined): number {
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const newUnavailable = newRS ? Math.max(0, replicasOf(newRS) - (newRS.status?.availableReplicas ?? 0)) : 0;
  return specReplicas(allRSs) - minAvailable - newUnavailable;
}

/** Scale-downs of unhealthy old pods (cleanupUnhealthyReplicas): name -> new size, oldest sets first. */
export function unhealthyScaleDowns(oldRSs: ReplicaSet[], maxCleanup: number): Map<string, number> {
  const out = new Map<string, number>();
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= maxCleanup) break;
    const replicas = replicasOf(rs);
    if (replicas === 0) continue;
    const unhealthy = replicas - (rs.status?.availableReplicas ?? 0);
    if (unhealthy <= 0) continue;
    const n = Math.min(maxCleanup - total, unhealthy);
    out.set(rs.metadata.name ?? '', replicas - n);
    total += n;
  }
  return out;
}

/** Scale-downs of old sets while keeping the minimum available (scaleDownOldReplicaSetsForRollingUpdate). */
export function rollingScaleDowns(d: Deployment, allRSs: ReplicaSet[], oldRSs: ReplicaSet[]): Map<string, number> {
  const out = new Map<string, number>();
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const available = availableAfterScaling(allRSs);
  if (available <= minAvailable) return out;
  const totalDown = available - minAvailable;
  let done = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (done >= totalDown) break;
    const replicas = replicasOf(rs);
    if (replicas === 0) continue;
    const n = Math.min(replicas, totalDown - done);
    out.set(rs.metadata.name ?? '', replicas - n);
    done += n;
  }
  return out;
}

// ---- proportional scaling ----

function annotationInt(rs: ReplicaSet, key: string): number | undefined {
  const v = rs.metadata.annotations?.[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}
export const desiredReplicasAnnotation = (rs: ReplicaSet): number | undefined => annotationInt(rs, DESIRED_REPLICAS);

/** Go's math.Round: halves away from zero. */
const goRound = (x: number): number => Math.sign(x) * Math.round(Math.abs(x));

function replicaSetFraction(rs: ReplicaSet, d: Deployment): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const deploymentReplicas = replicasOf(d) + maxSurge(d);
  const annotated = annotationInt(rs, MAX_REPLICAS) ?? d.status?.replicas ?? 0;
  if (annotated === 0) return 0;
  return goRound((replicasOf(rs) * deploymentReplicas) / annotated) - replicasOf(rs);
}

function proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/**
 * New sizes when a Deployment is resized in the middle of a rollout: spread the change over the active sets in
 * proportion to their size (larger first; newer first when growing, older first when shrinking).
 */
export function proportionalScale(d: Deployment, active: ReplicaSet[]): { sizes: Map<string, number>; operation: 'up' | 'down' | '' } {
  const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
  const toAdd = allowed - specReplicas(active);
  const sorted = [...active].sort((a, b) => {
    const bySize = replicasOf(b) - replicasOf(a);
    if (bySize !== 0) return bySize;
    return toAdd > 0 ? -byCreation(a, b) : byCreation(a, b);
  });
  const sizes = new Map<string, number>();
  let added = 0;
  for (const rs of sorted) {
    if (toAdd !== 0) {
      const p = proportion(rs, d, toAdd, added);
      sizes.set(rs.metadata.name ?? '', replicasOf(rs) + p);
      added += p;
    } else sizes.set(rs.metadata.name ?? '', replicasOf(rs));
  }
  const first = sorted[0];
  if (toAdd !== 0 && first) {
    const name = first.metadata.name ?? '';
    sizes.set(name, Math.max(0, (sizes.get(name) ?? 0) + toAdd - added));
  }
  return { sizes, operation: toAdd > 0 ? 'up' : toAdd < 0 ? 'down' : '' };
}

// ---- revisions and annotations ----

export function revisionOf(obj: { metadata: { annotations?: Record<string, string> } }): number {
  const n = Number(obj.metadata.annotations?.[REVISION] ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

export const maxRevision = (rss: ReplicaSet[]): number => rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);

/** desired-replicas and max-replicas; true when changed. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = (rs.metadata.annotations ??= {});
  if (a[DESIRED_REPLICAS] === String(desired) && a[MAX_REPLICAS] === String(max)) return false;
  a[DESIRED_REPLICAS] = String(desired);
  a[MAX_REPLICAS] = String(max);
  return true;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = rs.metadata.annotations ?? {};
  return a[DESIRED_REPLICAS] !== String(desired) || a[MAX_REPLICAS] !== String(max);
}

/**
 * The new ReplicaSet's annotations (SetNewReplicaSetAnnotations): the Deployment's own annotations, the new revision,
 * and the revisions it had before in revision-history when an old set becomes new again (a rollback). Mutates rs.
 */
export function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number, exists: boolean): boolean {
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (ANNOTATIONS_TO_SKIP.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  const oldRevision = a[REVISION];
  const old = oldRevision === undefined ? 0 : Number(oldRevision);
  if (!Number.isInteger(old)) return changed;
  if (old < newRevision) {
    a[REVISION] = String(newRevision);
    changed = true;
    if (oldRevision !== undefined && oldRevision !== '') {
      const history = a[REVISION_HISTORY] ? a[REVISION_HISTORY].split(',') : [];
      history.push(oldRevision);
      while (history.join(',').length > MAX_REVISION_HISTORY_CHARS && history.length > 1) history.shift();
      a[REVISION_HISTORY] = history.join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

// ---- conditions ----

export function getCondition(status: DeploymentStatus | undefined, type: string): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, now: number): DeploymentCondition {
  const t = rfc3339(now);
  return { type, status, reason, message, lastUpdateTime: t, lastTransitionTime: t };
}

/** Sets a condition; one with the same status and reason is left as it is; a status change moves lastTransitionTime. */
export function setCondition(status: DeploymentStatus, c: DeploymentCondition): void {
  const cur = getCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = cur && cur.status === c.status ? { ...c, lastTransitionTime: cur.lastTransitionTime ?? c.lastTransitionTime } : c;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  if (!status.conditions) return;
  status.conditions = status.conditions.filter((c) => c.type !== type);
}

export const hasProgressDeadline = (d: Deployment): boolean => (d.spec.progressDeadlineSeconds ?? 600) !== NO_DEADLINE;

/** Every replica updated and available, and the status is of the current generation. */
export function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const r = replicasOf(d);
  return (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** The rollout moved since the last status: more updated, ready or available pods, or fewer old ones. */
export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/** The Progressing condition has not moved for progressDeadlineSeconds. */
export function deploymentTimedOut(d: Deployment, s: DeploymentStatus, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c) return false;
  if (c.reason === Reason.NewReplicaSetAvailable) return false;
  if (c.reason === Reason.ProgressDeadlineExceeded) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  if (!Number.isFinite(from)) return false;
  return from + (d.spec.progressDeadlineSeconds ?? 600) * 1000 < now;
}

/** The status a Deployment's ReplicaSets add up to, with the Available condition (calculateStatus). */
export function calculateStatus(d: Deployment, allRSs: ReplicaSet[], newRS: ReplicaSet | undefined, now: number): DeploymentStatus {
  const available = availableReplicas(allRSs);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation ?? 0,
    replicas: actualReplicas(allRSs),
    updatedReplicas: actualReplicas([newRS]),
    readyReplicas: readyReplicas(allRSs),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, specReplicas(allRSs) - available),
    ...(d.status?.collisionCount !== undefined ? { collisionCount: d.status.collisionCount } : {}),
    conditions: [...(d.status?.conditions ?? [])],
  };
  if (available >= replicasOf(d) - maxUnavailable(d)) {
    setCondition(status, newCondition('Available', 'True', Reason.MinimumReplicasAvailable, 'Deployment has minimum availability.', now));
  } else {
    setCondition(status, newCondition('Available', 'False', Reason.MinimumReplicasUnavailable, 'Deployment does not have minimum availability.', now));
  }
  return status;
}

/** The old ReplicaSets beyond revisionHistoryLimit that may be deleted: lowest revisions first, only empty ones. */
export function replicaSetsToCleanUp(d: Deployment, oldRSs: ReplicaSet[]): ReplicaSet[] {
  const limit = d.spec.revisionHistoryLimit;
  if (limit === undefined) return [];
  const alive = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
  const diff = alive.length - limit;
  if (diff <= 0) return [];
  const sorted = [...alive].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
  return sorted
    .slice(0, diff)
    .filter((rs) => (rs.status?.replicas ?? 0) === 0 && replicasOf(rs) === 0 && (rs.metadata.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}
