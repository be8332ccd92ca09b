// The ReplicaSet controller (pkg/controller/replicaset): keeps spec.replicas active pods matching the selector, owned
// through controller references, adopting and releasing by labels, and writes status. The same code runs
// ReplicationControllers (pkg/controller/replication wraps the ReplicaSet controller too): an RC is read as a
// ReplicaSet whose selector is matchLabels, and its pods are owned by the RC.
import { isConflict, isNotFound } from '../../api/errors.js';
import { matchesLabelSelector } from '../../api/selectors.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ObjectLike, ResourceClient, ResourceRef } from '../../client/rest.js';
import { Limiter } from '../../lib/limit.js';
import { slowStartBatch } from '../framework/batch.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { UIDTrackingExpectations } from '../framework/expectations.js';
import { ownedEventHandlers } from '../framework/owned-events.js';
import { claimObjects, controllerRefOf, indexByController, orphansMatching, ownedBy } from '../framework/owners.js';
import { isNamespaceTerminating, PodControl } from '../framework/pod-control.js';
import { PodTally, type Standing } from '../framework/pod-tally.js';
import { isPodActive, podFromTemplate, podReadyCondition, rfc3339 } from '../framework/pods.js';
import { PODS, REPLICASETS, REPLICATIONCONTROLLERS, type OwnerReference, type Pod, type ReplicaSet, type ReplicaSetStatus, type ReplicationController } from '../framework/types.js';
import { podsToDelete } from './pod-ranking.js';

/** At most this many creations or deletions per sync (kube-controller-manager's burstReplicas). */
export const BURST_REPLICAS = 500;
/**
 * At most this many pod creations in flight, all the controller's syncs together. The manager's client has 64
 * connections, of which its watches hold 16 with every controller on; the cap leaves the rest to leader-election
 * renewals, status writes and the other controllers, and 32 in flight already keep the API server's write path busy.
 * A creation waiting for its turn has built neither its pod nor its request: with a cap per sync, 5 syncs of 10 large
 * ReplicaSets put 160 requests, bodies and all, in the client's queue for 48 connections, each waiting long enough to
 * outlive two minor collections (at 1,000 x 30,000 they were most of what the manager's heap promoted).
 */
export const CREATE_CONCURRENCY = 32;

/** The kind a ReplicaSetController manages: ReplicaSets, or ReplicationControllers read as ReplicaSets. */
export interface ReplicaKind {
  /** `<resource>-controller`: the logger component and the event source. */
  name: string;
  ref: ResourceRef & { apiVersion: string; kind: string };
  /** The object as a ReplicaSet (same object for ReplicaSets). */
  asReplicaSet(obj: ObjectLike): ReplicaSet;
}

export const REPLICASET_KIND: ReplicaKind = { name: 'replicaset-controller', ref: REPLICASETS, asReplicaSet: (obj) => obj as ReplicaSet };

/** Kubernetes names the RC controller's event source "replication-controller". */
export const REPLICATIONCONTROLLER_KIND: ReplicaKind = {
  name: 'replication-controller',
  ref: REPLICATIONCONTROLLERS,
  asReplicaSet(obj) {
    const rc = obj as ReplicationController;
    const spec = rc.spec ?? {};
    return { ...rc, apiVersion: 'apps/v1', kind: 'ReplicaSet', spec: { ...spec, selector: { matchLabels: { ...(spec.selector ?? {}) } } } } as ReplicaSet;
  },
};

export interface ReplicaSetControllerOptions {
  workers?: number;
  burstReplicas?: number;
  createConcurrency?: number;
  /** Default: ReplicaSets. */
  kind?: ReplicaKind;
}

type Condition = NonNullable<ReplicaSetStatus['conditions']>[number];

/** The buckets of a ReplicaSet's pod tally: calculateStatus's counts, and the owned pods whose labels stopped matching. */
const COUNTED = 0;
const LABELED = 1;
const READY = 2;
const AVAILABLE = 3;
const MISMATCHED = 4;
const BUCKETS = 5;

/** What calculateStatus counts among the active pods a ReplicaSet owns. */
export interface ReplicaCounts {
  replicas: number;
  labeled: number;
  ready: number;
  available: number;
}

/**
 * A pod's standing with its ReplicaSet: counted when active and selected; labeled, ready and available (Ready for
 * minReadySeconds, when that is still to come: changesAt) among those; mismatched when active but no longer selected.
 */
export function replicaSetStanding(pod: Pod, rs: ReplicaSet, now: number): Standing {
  if (!isPodActive(pod)) return { bits: 0 };
  const labels = pod.metadata.labels ?? {};
  if (!matchesLabelSelector(rs.spec.selector, labels)) return { bits: 1 << MISMATCHED };
  let bits = 1 << COUNTED;
  const template = rs.spec.template?.metadata?.labels ?? {};
  let labeled = true;
  for (const k in template) if (labels[k] !== template[k]) labeled = false;
  if (labeled) bits |= 1 << LABELED;
  const ready = podReadyCondition(pod);
  if (ready?.status !== 'True') return { bits };
  bits |= 1 << READY;
  const minReady = rs.spec.minReadySeconds ?? 0;
  if (minReady <= 0) return { bits: bits | (1 << AVAILABLE) };
  const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
  if (!Number.isFinite(since)) return { bits };
  const at = since + minReady * 1000;
  return at <= now ? { bits: bits | (1 << AVAILABLE) } : { bits, changesAt: at };
}

/** What the tally's standing depends on, besides the pod: a change means a recount. */
const countedBy = (rs: ReplicaSet): string => JSON.stringify([rs.spec.selector, rs.spec.template?.metadata?.labels ?? {}, rs.spec.minReadySeconds ?? 0]);

export class ReplicaSetController extends Controller {
  readonly expectations: UIDTrackingExpectations;
  /** Each ReplicaSet's pods counted as they change (public for tests that count the work). */
  readonly tally: PodTally<ReplicaSet>;
  private readonly kind: ReplicaKind;
  private readonly rsInformer: Informer<ObjectLike>;
  private readonly podInformer: Informer<Pod>;
  private readonly replicaSets: ResourceClient<ObjectLike>;
  private readonly pods: ResourceClient<Pod>;
  private readonly podControl: PodControl;
  private readonly burst: number;
  private readonly createConcurrency: number;
  /** The creations in flight, every sync's (see CREATE_CONCURRENCY). */
  private readonly creating: Limiter;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: ReplicaSetControllerOptions = {}) {
    const kind = opts.kind ?? REPLICASET_KIND;
    super({ name: kind.name, clock: ctx.clock, workers: opts.workers ?? 5 });
    this.kind = kind;
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.createConcurrency = opts.createConcurrency ?? CREATE_CONCURRENCY;
    this.creating = new Limiter(this.createConcurrency);
    this.expectations = new UIDTrackingExpectations(ctx.clock);
    this.rsInformer = ctx.informers.for<ObjectLike>(kind.ref);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    indexByController(this.podInformer);
    this.informers = [this.rsInformer, this.podInformer];
    this.replicaSets = ctx.rest.resource<ObjectLike>(kind.ref);
    this.pods = ctx.rest.resource<Pod>(PODS);
    this.podControl = new PodControl(this.pods, ctx.recorder(this.name));
    this.tally = new PodTally<ReplicaSet>({
      clock: ctx.clock,
      buckets: BUCKETS,
      keyed: 1 << MISMATCHED,
      ownerOf: (pod) => this.resolveControllerRef(pod.metadata.namespace, controllerRefOf(pod)),
      uidOf: (rs) => rs.metadata.uid ?? '',
      standing: replicaSetStanding,
      podsOf: (uid) => ownedBy(this.podInformer, uid),
      // A pod became available minReadySeconds after it became ready.
      onTimer: (rs) => this.enqueue(rs),
    });

    this.rsInformer.addEventHandler({
      onAdd: (obj) => {
        // Its pods may have come first (the two caches fill apart): count them now.
        this.tally.recount(this.kind.asReplicaSet(obj));
        this.enqueue(obj);
      },
      onUpdate: (old, obj) => {
        const rs = this.kind.asReplicaSet(obj);
        if (countedBy(this.kind.asReplicaSet(old)) !== countedBy(rs)) this.tally.recount(rs);
        this.enqueue(obj);
      },
      onDelete: (obj) => {
        this.tally.forgetOwner(obj.metadata?.uid ?? '');
        this.expectations.delete(keyOf(obj));
        this.enqueue(obj);
      },
    });
    // The tally first, so that the syncs these events cause see the pods counted.
    this.podInformer.addEventHandler({ onAdd: (pod) => this.tally.observe(pod), onUpdate: (_old, pod) => this.tally.observe(pod), onDelete: (pod) => this.tally.forgetPod(pod) });
    this.podInformer.addEventHandler(
      ownedEventHandlers<ReplicaSet, Pod>({
        resolve: (ns, ref) => this.resolveControllerRef(ns, ref),
        matching: (pod) => this.replicaSetsForPod(pod),
        enqueue: (rs) => this.enqueue(rs),
        added: (rs) => this.expectations.creationObserved(keyOf(rs)),
        deleted: (rs, pod) => this.expectations.deletionObserved(keyOf(rs), keyOf(pod)),
      }),
    );
  }

  /** The tally's counts for a ReplicaSet. */
  counts(uid: string): ReplicaCounts {
    const t = this.tally;
    return { replicas: t.count(uid, COUNTED), labeled: t.count(uid, LABELED), ready: t.count(uid, READY), available: t.count(uid, AVAILABLE) };
  }

  /** The ReplicaSet a controller reference points at, if it is in the cache with that uid. */
  private resolveControllerRef(namespace: string | undefined, ref: OwnerReference | undefined): ReplicaSet | undefined {
    if (!ref || ref.kind !== this.kind.ref.kind || ref.apiVersion.split('/').slice(0, -1).join('/') !== this.kind.ref.group) return undefined;
    const rs = this.rsInformer.indexer.get(`${namespace}/${ref.name}`);
    return rs?.metadata?.uid === ref.uid ? this.kind.asReplicaSet(rs) : undefined;
  }

  /** ReplicaSets whose selector matches an orphan pod (candidates to adopt it). */
  private replicaSetsForPod(pod: Pod): ReplicaSet[] {
    return this.rsInformer.indexer
      .byIndex('namespace', pod.metadata.namespace ?? '')
      .map((o) => this.kind.asReplicaSet(o))
      .filter((rs) => matchesLabelSelector(rs.spec.selector, pod.metadata.labels));
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const cached = this.rsInformer.indexer.get(key);
    if (!cached) {
      this.expectations.delete(key);
      return;
    }
    const rs = this.kind.asReplicaSet(cached);
    const uid = rs.metadata.uid ?? '';
    const needsSync = this.expectations.satisfied(key);
    // The counts before the claims' writes, whose events may come back while they are awaited.
    const counts = this.counts(uid);
    // Only what claiming can change is looked at: the namespace's orphans the selector may match and the owned pods that stopped matching.
    const mismatched = [...this.tally.keys(uid, MISMATCHED)].flatMap((k) => this.podInformer.indexer.get(k) ?? []);
    const candidates = [...orphansMatching(this.podInformer, rs.metadata.namespace ?? '', rs.spec.selector).filter(isPodActive), ...mismatched];
    const adopted = candidates.length
      ? await claimObjects({ owner: rs, gvk: this.kind.ref, selector: rs.spec.selector, candidates, client: this.pods, canAdopt: () => this.canAdopt(rs), log })
      : [];
    const now = this.clock.now();
    for (const pod of adopted) {
      const { bits } = replicaSetStanding(pod, rs, now);
      counts.replicas += (bits >> COUNTED) & 1;
      counts.labeled += (bits >> LABELED) & 1;
      counts.ready += (bits >> READY) & 1;
      counts.available += (bits >> AVAILABLE) & 1;
    }

    let manageErr: unknown;
    if (needsSync && !rs.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(counts.replicas, () => [...this.activePods(rs), ...adopted], rs, key, log);
      } catch (err) {
        manageErr = err;
      }
    }

    const status = this.calculateStatus(rs, counts, manageErr);
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
    if (fresh.metadata?.uid !== rs.metadata.uid) throw new Error(`original ${this.kind.ref.kind} ${keyOf(rs)} is gone: got uid ${fresh.metadata?.uid}, wanted ${rs.metadata.uid}`);
    if (fresh.metadata?.deletionTimestamp) throw new Error(`${this.kind.ref.kind} ${keyOf(rs)} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }

  /** The active pods rs owns and selects: read only to choose pods to delete (O(its pods) then, never per change). */
  private activePods(rs: ReplicaSet): Pod[] {
    return ownedBy(this.podInformer, rs.metadata.uid ?? '').filter((p) => isPodActive(p) && matchesLabelSelector(rs.spec.selector, p.metadata.labels));
  }

  private async manageReplicas(have: number, filtered: () => Pod[], rs: ReplicaSet, key: string, log: SyncContext['log']): Promise<void> {
    const diff = have - (rs.spec.replicas ?? 1);
    if (diff < 0) {
      const want = Math.min(-diff, this.burst);
      const template = rs.spec.template;
      if (!template) throw new Error(`${this.kind.ref.kind} has no pod template`);
      this.expectations.expectCreations(key, want);
      log.info('creating pods', { want, have, replicas: rs.spec.replicas ?? 1 });
      const create = async (): Promise<void> => {
        try {
          await this.podControl.create(rs, this.kind.ref, podFromTemplate(template, rs, this.kind.ref));
        } catch (err) {
          // The namespace is going away, and this ReplicaSet with it: nothing to retry.
          if (isNamespaceTerminating(err)) return this.expectations.creationObserved(key);
          throw err;
        }
      };
      const { successes, error } = await slowStartBatch(want, 1, () => this.creating.run(create), this.createConcurrency);
      // Creations that failed or never ran will not be observed: stop expecting them.
      for (let i = successes; i < want; i++) this.expectations.creationObserved(key);
      if (error) throw error;
      return;
    }
    if (diff > 0) {
      const n = Math.min(diff, this.burst);
      const victims = podsToDelete(filtered(), this.relatedPods(rs), n);
      this.expectations.expectDeletions(key, victims.map((p) => keyOf(p)));
      log.info('deleting pods', { n, have, replicas: rs.spec.replicas ?? 1 });
      const results = await Promise.allSettled(
        victims.map(async (pod) => {
          try {
            await this.podControl.delete(rs, this.kind.ref, pod);
          } catch (err) {
            if (isNotFound(err)) return; // already gone: its delete event lowers the expectation
            this.expectations.deletionObserved(key, keyOf(pod));
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
    const siblings = owner
      ? this.rsInformer.indexer.byIndex('namespace', rs.metadata.namespace ?? '').filter((x) => controllerRefOf(x)?.uid === owner.uid)
      : [rs];
    return siblings.flatMap((x) => ownedBy(this.podInformer, x.metadata?.uid ?? ''));
  }

  /** The status from the tally's counts (kube's calculateStatus, which counts them from the pods each time). */
  calculateStatus(rs: ReplicaSet, counts: ReplicaCounts, manageErr: unknown): ReplicaSetStatus {
    const now = this.clock.now();
    const status: ReplicaSetStatus = {
      replicas: counts.replicas,
      fullyLabeledReplicas: counts.labeled,
      readyReplicas: counts.ready,
      availableReplicas: counts.available,
      observedGeneration: rs.metadata.generation ?? 0,
    };
    let conditions: Condition[] = [...(rs.status?.conditions ?? [])];
    const failure = conditions.find((c) => c.type === 'ReplicaFailure');
    if (manageErr && !failure) {
      const diff = counts.replicas - (rs.spec.replicas ?? 1);
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
        // The status subresource keeps the stored spec: a ReplicationController read as a ReplicaSet is written back as is.
        return this.kind.asReplicaSet(await this.replicaSets.updateStatus({ ...current, apiVersion: this.kind.ref.apiVersion, kind: this.kind.ref.kind, status } as ObjectLike));
      } catch (err) {
        if (attempt >= 1 || !isConflict(err)) throw err;
        current = this.kind.asReplicaSet(await this.replicaSets.get(rs.metadata.namespace, rs.metadata.name ?? ''));
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
