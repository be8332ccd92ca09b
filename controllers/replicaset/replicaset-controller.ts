// The ReplicaSet controller (pkg/controller/replicaset): keeps spec.replicas active pods matching the selector, owned
// through controller references, adopting and releasing by labels, and writes status.
import { ApiError, isConflict, isNotFound } from '../../api/errors.js';
import { matchesLabelSelector } from '../../api/selectors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { slowStartBatch } from '../framework/batch.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { UIDTrackingExpectations } from '../framework/expectations.js';
import { claimObjects, controllerRefOf } from '../framework/owners.js';
import { isPodActive, isPodAvailable, isPodReady, podFromTemplate, rfc3339 } from '../framework/pods.js';
import { PODS, REPLICASETS, type OwnerReference, type Pod, type ReplicaSet, type ReplicaSetStatus } from '../framework/types.js';
import { podsToDelete } from './pod-ranking.js';

/** At most this many creations or deletions per sync (kube-controller-manager's burstReplicas). */
export const BURST_REPLICAS = 500;
/**
 * At most this many pod creations in flight per sync. The manager's client has 64 connections, of which its watches
 * hold 16 with every controller on; the cap leaves the rest to leader-election renewals, status writes and the other
 * controllers, and 32 in flight already keep the API server's write path busy.
 */
export const CREATE_CONCURRENCY = 32;

export interface ReplicaSetControllerOptions {
  workers?: number;
  burstReplicas?: number;
  createConcurrency?: number;
}

type Condition = NonNullable<ReplicaSetStatus['conditions']>[number];

export class ReplicaSetController extends Controller {
  readonly expectations: UIDTrackingExpectations;
  private readonly rsInformer: Informer<ReplicaSet>;
  private readonly podInformer: Informer<Pod>;
  private readonly replicaSets: ResourceClient<ReplicaSet>;
  private readonly pods: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  private readonly burst: number;
  private readonly createConcurrency: number;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: ReplicaSetControllerOptions = {}) {
    super({ name: 'replicaset-controller', clock: ctx.clock, workers: opts.workers ?? 5 });
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.createConcurrency = opts.createConcurrency ?? CREATE_CONCURRENCY;
    this.expectations = new UIDTrackingExpectations(ctx.clock);
    this.rsInformer = ctx.informers.for<ReplicaSet>(REPLICASETS);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    this.informers = [this.rsInformer, this.podInformer];
    this.replicaSets = ctx.rest.resource<ReplicaSet>(REPLICASETS);
    this.pods = ctx.rest.resource<Pod>(PODS);
    this.recorder = ctx.recorder(this.name);

    this.rsInformer.addEventHandler(
      this.enqueueOnChange((rs) => {
        this.expectations.delete(keyOf(rs));
        this.enqueue(rs);
      }),
    );
    this.podInformer.addEventHandler({
      onAdd: (pod) => this.addPod(pod),
      onUpdate: (old, pod) => this.updatePod(old, pod),
      onDelete: (pod) => this.deletePod(pod),
    });
  }

  /** The ReplicaSet a controller reference points at, if it is in the cache with that uid. */
  private resolveControllerRef(namespace: string | undefined, ref: OwnerReference | undefined): ReplicaSet | undefined {
    if (!ref || ref.kind !== REPLICASETS.kind || ref.apiVersion.split('/')[0] !== 'apps') return undefined;
    const rs = this.rsInformer.indexer.get(`${namespace}/${ref.name}`);
    return rs?.metadata.uid === ref.uid ? rs : undefined;
  }

  /** ReplicaSets whose selector matches an orphan pod (candidates to adopt it). */
  private replicaSetsForPod(pod: Pod): ReplicaSet[] {
    return this.rsInformer.indexer
      .byIndex('namespace', pod.metadata.namespace ?? '')
      .filter((rs) => matchesLabelSelector(rs.spec.selector, pod.metadata.labels));
  }

  private addPod(pod: Pod): void {
    if (pod.metadata.deletionTimestamp) return this.deletePod(pod);
    const ref = controllerRefOf(pod);
    if (ref) {
      const rs = this.resolveControllerRef(pod.metadata.namespace, ref);
      if (!rs) return;
      this.expectations.creationObserved(keyOf(rs));
      this.enqueue(rs);
      return;
    }
    for (const rs of this.replicaSetsForPod(pod)) this.enqueue(rs);
  }

  private updatePod(old: Pod, cur: Pod): void {
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (cur.metadata.deletionTimestamp) {
      this.deletePod(cur);
      if (labelsChanged) this.deletePod(old);
      return;
    }
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = JSON.stringify(curRef) !== JSON.stringify(oldRef);
    if (refChanged && oldRef) {
      const rs = this.resolveControllerRef(old.metadata.namespace, oldRef);
      if (rs) this.enqueue(rs);
    }
    if (curRef) {
      const rs = this.resolveControllerRef(cur.metadata.namespace, curRef);
      if (!rs) return;
      this.enqueue(rs);
      // A pod that just became ready becomes available minReadySeconds later: look again then.
      const minReady = rs.spec.minReadySeconds ?? 0;
      if (minReady > 0 && !isPodReady(old) && isPodReady(cur)) this.enqueueAfter(rs, minReady * 1000 + 1000);
      return;
    }
    if (labelsChanged || refChanged) for (const rs of this.replicaSetsForPod(cur)) this.enqueue(rs);
  }

  private deletePod(pod: Pod): void {
    const rs = this.resolveControllerRef(pod.metadata.namespace, controllerRefOf(pod));
    if (!rs) return;
    const key = keyOf(rs);
    this.expectations.deletionObserved(key, keyOf(pod));
    this.queue.add(key);
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const rs = this.rsInformer.indexer.get(key);
    if (!rs) {
      this.expectations.delete(key);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    const selector = rs.spec.selector;
    const active = this.podInformer.indexer.byIndex('namespace', rs.metadata.namespace ?? '').filter(isPodActive);
    const filtered = await claimObjects({
      owner: rs,
      gvk: REPLICASETS,
      selector,
      candidates: active,
      client: this.pods,
      canAdopt: () => this.canAdopt(rs),
      log,
    });

    let manageErr: unknown;
    if (needsSync && !rs.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(filtered, rs, key, log);
      } catch (err) {
        manageErr = err;
      }
    }

    const status = this.calculateStatus(rs, filtered, manageErr);
    const updated = await this.updateStatus(rs, status);
    if (manageErr) throw manageErr;
    const minReady = rs.spec.minReadySeconds ?? 0;
    if (minReady > 0 && (updated.status?.readyReplicas ?? 0) !== (updated.status?.availableReplicas ?? 0)) {
      return { requeueAfterMs: minReady * 1000 };
    }
  }

  /** A fresh read: a ReplicaSet being deleted (or replaced by another with the same name) must not adopt. */
  private async canAdopt(rs: ReplicaSet): Promise<void> {
    const fresh = await this.replicaSets.get(rs.metadata.namespace, rs.metadata.name ?? '');
    if (fresh.metadata.uid !== rs.metadata.uid) throw new Error(`original ReplicaSet ${keyOf(rs)} is gone: got uid ${fresh.metadata.uid}, wanted ${rs.metadata.uid}`);
    if (fresh.metadata.deletionTimestamp) throw new Error(`ReplicaSet ${keyOf(rs)} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }

  private async manageReplicas(filtered: Pod[], rs: ReplicaSet, key: string, log: SyncContext['log']): Promise<void> {
    const diff = filtered.length - (rs.spec.replicas ?? 1);
    if (diff < 0) {
      const want = Math.min(-diff, this.burst);
      const template = rs.spec.template;
      if (!template) throw new Error('ReplicaSet has no pod template');
      this.expectations.expectCreations(key, want);
      log.info('creating pods', { want, have: filtered.length, replicas: rs.spec.replicas ?? 1 });
      const { successes, error } = await slowStartBatch(want, 1, async () => {
        try {
          const pod = await this.pods.create(rs.metadata.namespace, podFromTemplate(template, rs, REPLICASETS));
          void this.recorder.event(objectReference(rs, REPLICASETS), 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name ?? ''}`);
        } catch (err) {
          // The namespace is going away, and this ReplicaSet with it: nothing to retry.
          if (isNamespaceTerminating(err)) return this.expectations.creationObserved(key);
          void this.recorder.event(objectReference(rs, REPLICASETS), 'Warning', 'FailedCreate', `Error creating: ${err instanceof Error ? err.message : String(err)}`);
          throw err;
        }
      }, this.createConcurrency);
      // Creations that failed or never ran will not be observed: stop expecting them.
      for (let i = successes; i < want; i++) this.expectations.creationObserved(key);
      if (error) throw error;
      return;
    }
    if (diff > 0) {
      const n = Math.min(diff, this.burst);
      const victims = podsToDelete(filtered, this.relatedPods(rs), n);
      this.expectations.expectDeletions(key, victims.map((p) => keyOf(p)));
      log.info('deleting pods', { n, have: filtered.length, replicas: rs.spec.replicas ?? 1 });
      const results = await Promise.allSettled(
        victims.map(async (pod) => {
          try {
            await this.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
            void this.recorder.event(objectReference(rs, REPLICASETS), 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name ?? ''}`);
          } catch (err) {
            if (isNotFound(err)) return; // already gone: its delete event lowers the expectation
            this.expectations.deletionObserved(key, keyOf(pod));
            void this.recorder.event(objectReference(rs, REPLICASETS), 'Warning', 'FailedDelete', `Error deleting: ${err instanceof Error ? err.message : String(err)}`);
            throw err;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /** Pods of every ReplicaSet with the same controller as rs (a Deployment's old and new sets), for spreading. */
  private relatedPods(rs: ReplicaSet): Pod[] {
    const owner = controllerRefOf(rs);
    const siblings = new Set(
      owner
        ? this.rsInformer.indexer
            .byIndex('namespace', rs.metadata.namespace ?? '')
            .filter((x) => controllerRefOf(x)?.uid === owner.uid)
            .map((x) => x.metadata.uid)
        : [rs.metadata.uid],
    );
    return this.podInformer.indexer.byIndex('namespace', rs.metadata.namespace ?? '').filter((p) => siblings.has(controllerRefOf(p)?.uid));
  }

  calculateStatus(rs: ReplicaSet, filtered: Pod[], manageErr: unknown): ReplicaSetStatus {
    const now = this.clock.now();
    const templateLabels = rs.spec.template?.metadata?.labels ?? {};
    const minReady = rs.spec.minReadySeconds ?? 0;
    const status: ReplicaSetStatus = {
      replicas: filtered.length,
      fullyLabeledReplicas: filtered.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
      readyReplicas: filtered.filter(isPodReady).length,
      availableReplicas: filtered.filter((p) => isPodAvailable(p, minReady, now)).length,
      observedGeneration: rs.metadata.generation ?? 0,
    };
    let conditions: Condition[] = [...(rs.status?.conditions ?? [])];
    const failure = conditions.find((c) => c.type === 'ReplicaFailure');
    if (manageErr && !failure) {
      const diff = filtered.length - (rs.spec.replicas ?? 1);
      conditions.push({
        type: 'ReplicaFailure',
        status: 'True',
        reason: diff < 0 ? 'FailedCreate' : 'FailedDelete',
        message: manageErr instanceof Error ? manageErr.message : String(manageErr),
        lastTransitionTime: rfc3339(now),
      } as Condition); // the schema's inferred type wrongly requires lastUpdateTime

    } else if (!manageErr && failure) {
      conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
    }
    if (conditions.length) status.conditions = conditions;
    return status;
  }

  /** Writes status when it changed; on a conflict, reads the ReplicaSet again and retries once. */
  private async updateStatus(rs: ReplicaSet, status: ReplicaSetStatus): Promise<ReplicaSet> {
    let current = rs;
    for (let attempt = 0; ; attempt++) {
      if (sameStatus(current.status, status)) return current;
      try {
        return await this.replicaSets.updateStatus({ ...current, status });
      } catch (err) {
        if (attempt >= 1 || !isConflict(err)) throw err;
        current = await this.replicaSets.get(rs.metadata.namespace, rs.metadata.name ?? '');
        if (current.metadata.uid !== rs.metadata.uid) return current;
      }
    }
  }
}

function sameStatus(a: ReplicaSetStatus | undefined, b: ReplicaSetStatus): boolean {
  if (!a) return false;
  return (
    a.replicas === b.replicas &&
    (a.fullyLabeledReplicas ?? 0) === (b.fullyLabeledReplicas ?? 0) &&
    (a.readyReplicas ?? 0) === (b.readyReplicas ?? 0) &&
    (a.availableReplicas ?? 0) === (b.availableReplicas ?? 0) &&
    (a.observedGeneration ?? 0) === (b.observedGeneration ?? 0) &&
    JSON.stringify(a.conditions ?? []) === JSON.stringify(b.conditions ?? [])
  );
}

/** The API server refuses new objects in a terminating namespace (NamespaceTerminatingCause). */
export function isNamespaceTerminating(err: unknown): boolean {
  return err instanceof ApiError && err.code === 403 && (err.status.details?.causes?.some((c) => c.reason === 'NamespaceTerminating') || /being terminated/.test(err.message));
}
