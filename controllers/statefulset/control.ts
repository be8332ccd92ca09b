// One StatefulSet sync (stateful_set_control.go): the current and update revisions, then pods created in ordinal
// order (OrderedReady: each only once its predecessors are Running and Ready; Parallel: all at once), pods beyond
// the replicas deleted from the highest ordinal down, and a rolling update from the highest ordinal to the partition
// with at most maxUnavailable replicas unavailable; then status and the revision history limit.
import { isNotFound } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Clock } from '../../lib/clock.js';
import { slowStartBatch } from '../framework/batch.js';
import { podFromTemplate } from '../framework/pods.js';
import { STATEFULSETS, type ControllerRevision, type Pod, type StatefulSet, type StatefulSetStatus } from '../framework/types.js';
import { CONTROLLER_REVISION_HASH, RevisionHistory, equalRevision, findEqualRevisions, newRevision, nextRevision, sortRevisions, templatePatch } from '../history/revisions.js';
import type { StatefulPodControl } from './pod-control.js';
import * as u from './utils.js';

/** kube's MaxBatchSize: pods in flight at once in Parallel mode. */
export const MAX_BATCH_SIZE = 500;

interface Revisions {
  current: ControllerRevision;
  update: ControllerRevision;
  collisionCount: number;
}

/**
 * What one pass works on: the replicas by index (ordinal - start), the pods beyond the range. A missing replica's pod
 * is built only when the pass reaches it, so that a huge spec.replicas costs what exists, not what is asked for.
 */
interface Plan {
  set: StatefulSet;
  updateSet: StatefulSet;
  count: number;
  existing: Map<number, Pod>;
  slot(i: number): Pod;
  condemned: Pod[];
  firstUnavailable: Pod | undefined;
  monotonic: boolean;
  minReady: number;
  now: number;
  log: Logger;
}

export class StatefulSetControl {
  constructor(
    private readonly pods: StatefulPodControl,
    private readonly history: RevisionHistory,
    private readonly writeStatus: (set: StatefulSet, status: StatefulSetStatus) => Promise<void>,
    private readonly clock: Clock,
  ) {}

  /** UpdateStatefulSet: one pass over set and its pods; returns the status written. */
  async sync(set: StatefulSet, pods: Pod[], revisionList: ControllerRevision[], log: Logger): Promise<StatefulSetStatus> {
    const revisions = sortRevisions(revisionList);
    const r = await this.revisions(set, revisions);
    // The status is written even when the pass failed part way: it says what the pass saw and did.
    const { status, error } = await this.update(set, r, pods, log);
    let err = error;
    try {
      u.completeRollingUpdate(set, status);
      if (u.statusChanged(set, status)) await this.writeStatus(set, status);
    } catch (statusErr) {
      if (!err) err = statusErr;
      else log.error('status update failed', { error: String(statusErr) });
    }
    await this.truncateHistory(set, pods, revisions, r);
    if (err) throw err;
    return status;
  }

  /** getStatefulSetRevisions: the update revision is the template now (created, or an older equal one renumbered). */
  private async revisions(set: StatefulSet, revisions: ControllerRevision[]): Promise<Revisions> {
    let collisionCount = set.status?.collisionCount ?? 0;
    const data = templatePatch(set.spec.template);
    const annotations = set.metadata.annotations;
    let update = newRevision(set, STATEFULSETS, set.spec.template.metadata?.labels, data, nextRevision(revisions), collisionCount);
    if (annotations) update.metadata.annotations = { ...annotations };
    const equal = findEqualRevisions(revisions, update);
    const latest = revisions[revisions.length - 1];
    if (equal.length && latest && equalRevision(latest, equal[equal.length - 1]!)) update = latest;
    else if (equal.length) update = await this.history.setRevision(equal[equal.length - 1]!, update.revision);
    else ({ revision: update, collisionCount } = await this.history.create(set, update, collisionCount));
    const current = revisions.find((cr) => cr.metadata.name === set.status?.currentRevision) ?? update;
    return { current, update, collisionCount };
  }

  /** newVersionedStatefulSetPod: below the partition a new pod is made at the current revision, else at the update one. */
  private newPod(set: StatefulSet, currentSet: StatefulSet, updateSet: StatefulSet, r: Revisions, ordinal: number): Pod {
    const ru = set.spec.updateStrategy?.rollingUpdate;
    const atCurrent = (set.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && ru !== undefined && ordinal < u.startOrdinal(set) + (ru.partition ?? 0);
    const from = atCurrent ? currentSet : updateSet;
    const pod = podFromTemplate(from.spec.template, set, STATEFULSETS);
    delete pod.metadata.generateName;
    pod.metadata.name = u.podName(set, ordinal);
    u.initIdentity(set, pod);
    u.updateStorage(set, pod);
    pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [CONTROLLER_REVISION_HASH]: (atCurrent ? r.current : r.update).metadata.name ?? '' };
    return pod;
  }

  /** updateStatefulSet: the status to record after this pass's creations, deletions and updates, and its error. */
  private async update(set: StatefulSet, r: Revisions, pods: Pod[], log: Logger): Promise<{ status: StatefulSetStatus; error?: unknown }> {
    const currentSet = u.applyRevision(set, r.current);
    const updateSet = u.applyRevision(set, r.update);
    const now = this.clock.now();
    const minReady = set.spec.minReadySeconds ?? 0;
    const start = u.startOrdinal(set);
    const count = u.replicasOf(set);
    const existing = new Map<number, Pod>();
    const condemned: Pod[] = [];
    for (const pod of pods) {
      if (u.inOrdinalRange(pod, set)) existing.set(u.ordinalOf(pod) - start, pod);
      else if (u.ordinalOf(pod) >= 0) condemned.push(pod);
    }
    const built = new Map<number, Pod>();
    const slot = (i: number): Pod => {
      let pod = existing.get(i) ?? built.get(i);
      if (!pod) built.set(i, (pod = this.newPod(set, currentSet, updateSet, r, start + i)));
      return pod;
    };
    condemned.sort((a, b) => u.ordinalOf(b) - u.ordinalOf(a));
    const unavailable = (p: Pod): boolean => u.isUnavailable(p, minReady, now);
    // The lowest replica missing or unavailable (a missing one is unavailable), else the lowest unavailable condemned.
    let firstUnavailable: Pod | undefined;
    for (let i = 0; i < count && !firstUnavailable; i++) {
      const pod = existing.get(i);
      if (!pod || unavailable(pod)) firstUnavailable = slot(i);
    }
    firstUnavailable ??= [...condemned].reverse().find(unavailable);
    const status = (): StatefulSetStatus => ({
      ...(set.status?.conditions ? { conditions: set.status.conditions } : {}),
      observedGeneration: set.metadata.generation ?? 0,
      currentRevision: r.current.metadata.name ?? '',
      updateRevision: r.update.metadata.name ?? '',
      collisionCount: r.collisionCount,
      ...u.replicaCounts([...existing.values(), ...condemned], minReady, r.current.metadata.name ?? '', r.update.metadata.name ?? '', now),
    });
    // Being deleted: only the status.
    if (set.metadata.deletionTimestamp) return { status: status() };
    const plan: Plan = { set, updateSet, count, existing, slot, condemned, firstUnavailable, monotonic: !u.allowsBurst(set), minReady, now, log };
    const fixClaim = async (pod: Pod): Promise<boolean> => {
      if (!this.pods.claimsMatchRetention(updateSet, pod)) await this.pods.updateClaimsForRetention(updateSet, pod);
      return false;
    };
    try {
      if (await this.runForAll(this.replicaOrder(plan), (i) => this.processReplica(plan, plan.slot(i)), plan.monotonic)) return { status: status() };
      const condemnedOrder = condemned.map((_, i) => i);
      if (await this.runForAll(condemnedOrder, (i) => fixClaim(condemned[i]!), plan.monotonic)) return { status: status() };
      if (await this.runForAll(condemnedOrder, (i) => this.processCondemned(plan, i), plan.monotonic)) return { status: status() };
    } catch (error) {
      return { status: status(), error };
    }
    const st = status();
    // OnDelete: pods are updated when someone deletes them.
    if (set.spec.updateStrategy?.type === 'OnDelete') return { status: st };
    const { deleted, error } = await this.rollingUpdate(plan, r.update);
    st.currentReplicas = (st.currentReplicas ?? 0) - deleted;
    return { status: st, ...(error !== undefined ? { error } : {}) };
  }

  /**
   * The replica indexes a pass visits, in order. OrderedReady visits from 0 and stops at the first that blocks (a
   * missing one is created and blocks), so a lazy sequence suffices; Parallel visits the existing replicas and at most
   * MAX_BATCH_SIZE missing ones (their creations bring the set back for the next ones).
   */
  private *replicaOrder(p: Plan): Iterable<number> {
    if (p.monotonic) {
      for (let i = 0; i < p.count; i++) yield i;
      return;
    }
    const missing: number[] = [];
    for (let i = 0; i < p.count && missing.length < MAX_BATCH_SIZE; i++) if (!p.existing.has(i)) missing.push(i);
    yield* [...[...p.existing.keys()].sort((a, b) => a - b), ...missing];
  }

  /** runForAll: in order, stopping at the first that blocks (OrderedReady), or all at once through slow start (Parallel). */
  private async runForAll(order: Iterable<number>, fn: (i: number) => Promise<boolean>, monotonic: boolean): Promise<boolean> {
    if (monotonic) {
      for (const i of order) if (await fn(i)) return true;
      return false;
    }
    const items = [...order];
    let next = 0;
    const { error } = await slowStartBatch(items.length, 1, async () => void (await fn(items[next++]!)), MAX_BATCH_SIZE);
    if (error) throw error;
    return false;
  }

  /** processReplica: true when this pass must stop here (monotonic), having made progress on pod. */
  private async processReplica(p: Plan, pod: Pod): Promise<boolean> {
    const phase = pod.status?.phase;
    // A finished or failed pod is replaced: delete it, and make the new one once it is gone.
    if (phase === 'Failed' || phase === 'Succeeded') {
      if (!u.isTerminating(pod)) await this.pods.delete(p.set, pod);
      return true;
    }
    if (!u.isCreated(pod)) {
      if (this.pods.claimIsStale(p.set, pod)) return true;
      await this.pods.create(p.set, pod);
      if (p.monotonic) return true;
    }
    if (phase === 'Pending') await this.pods.createMissingClaims(p.set, pod);
    if (p.monotonic) {
      if (u.isTerminating(pod)) return waiting(p, pod, 'waiting for pod to terminate');
      if (!u.isRunningAndReady(pod)) return waiting(p, pod, 'waiting for pod to be Running and Ready');
      if (!u.isRunningAndAvailable(pod, p.minReady, p.now)) return waiting(p, pod, 'waiting for pod to be available');
    }
    if (!u.isCreated(pod)) return false;
    if (u.identityMatches(p.set, pod) && u.storageMatches(p.set, pod) && this.pods.claimsMatchRetention(p.updateSet, pod)) return false;
    await this.pods.update(p.updateSet, pod);
    return false;
  }

  /** processCondemned: a pod beyond the replicas is deleted, in OrderedReady only once the others are healthy. */
  private async processCondemned(p: Plan, i: number): Promise<boolean> {
    const pod = p.condemned[i]!;
    if (u.isTerminating(pod)) return p.monotonic ? waiting(p, pod, 'waiting for pod to terminate before scale down') : false;
    if (p.monotonic && pod !== p.firstUnavailable && !(u.isRunningAndReady(pod) && u.isRunningAndAvailable(pod, p.minReady, p.now))) {
      return waiting(p, p.firstUnavailable ?? pod, 'waiting for pod to be Running and Available before scale down');
    }
    p.log.info('terminating pod for scale down', { pod: pod.metadata.name });
    await this.pods.delete(p.set, pod);
    return true;
  }

  /**
   * updateStatefulSetAfterInvariantEstablished: deletes pods not at the update revision from the highest ordinal down
   * to the partition, so that at most maxUnavailable replicas are unavailable; returns how many it deleted.
   */
  private async rollingUpdate(p: Plan, update: ControllerRevision): Promise<{ deleted: number; error?: unknown }> {
    const partition = p.set.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    const maxUnavailable = u.maxUnavailableOf(p.set);
    // Missing replicas are unavailable; and at or above the partition they would be made at the update revision.
    let available = 0;
    for (const pod of p.existing.values()) if (!u.isUnavailable(pod, p.minReady, p.now)) available++;
    const unavailable = p.count - available;
    if (unavailable > maxUnavailable) return { deleted: 0 };
    let budget = maxUnavailable - unavailable;
    let deleted = 0;
    const targets = [...p.existing.keys()].filter((i) => i >= partition).sort((a, b) => b - a);
    for (const target of targets) {
      if (budget <= 0) break;
      const pod = p.existing.get(target)!;
      if (u.podRevision(pod) === update.metadata.name || u.isTerminating(pod)) continue;
      p.log.info('terminating pod for update', { pod: pod.metadata.name });
      try {
        await this.pods.delete(p.set, pod);
      } catch (error) {
        if (!isNotFound(error)) return { deleted, error };
      }
      budget--;
      deleted++;
    }
    return { deleted };
  }

  /** truncateHistory: revisions no pod, current nor update revision uses go, oldest first, beyond revisionHistoryLimit. */
  private async truncateHistory(set: StatefulSet, pods: Pod[], sorted: ControllerRevision[], r: Revisions): Promise<void> {
    const live = new Set([r.current.metadata.name, r.update.metadata.name, ...pods.map(u.podRevision)]);
    const old = sorted.filter((cr) => !live.has(cr.metadata.name));
    const limit = set.spec.revisionHistoryLimit ?? 10;
    if (limit < 0 || old.length <= limit) return;
    for (const cr of old.slice(0, old.length - limit)) await this.history.delete(cr);
  }
}

function waiting(p: Plan, pod: Pod, message: string): true {
  p.log.debug(message, { pod: pod.metadata.name });
  return true;
}
