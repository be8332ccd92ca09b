// The Deployment controller (pkg/controller/deployment): one ReplicaSet per pod template, named by its hash; rolls
// from old to new with RollingUpdate (maxSurge, maxUnavailable) or Recreate; revisions, history cleanup, pause,
// proportional scaling, and the Available/Progressing conditions that `kubectl rollout status` reads.
import { isAlreadyExists, isConflict, isNotFound } from '../../api/errors.js';
import { isEmptySelector, matchesLabelSelector } from '../../api/selectors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import type { Logger } from '../../lib/logger.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { claimObjects, controllerRefOf, indexByController, newControllerRef, ownedBy } from '../framework/owners.js';
import { DEPLOYMENTS, PODS, REPLICASETS, type Deployment, type DeploymentStatus, type OwnerReference, type Pod, type ReplicaSet } from '../framework/types.js';
import * as u from './util.js';

export interface DeploymentControllerOptions {
  workers?: number;
}

/** One pass's view of a Deployment: a private copy that follows our own writes. */
interface Pass {
  d: Deployment;
  log: Logger;
}

export class DeploymentController extends Controller {
  private readonly dInformer: Informer<Deployment>;
  private readonly rsInformer: Informer<ReplicaSet>;
  private readonly podInformer: Informer<Pod>;
  private readonly deployments: ResourceClient<Deployment>;
  private readonly replicaSets: ResourceClient<ReplicaSet>;
  private readonly recorder: EventRecorder;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: DeploymentControllerOptions = {}) {
    super({ name: 'deployment-controller', clock: ctx.clock, workers: opts.workers ?? 5 });
    this.dInformer = ctx.informers.for<Deployment>(DEPLOYMENTS);
    this.rsInformer = ctx.informers.for<ReplicaSet>(REPLICASETS);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    indexByController(this.podInformer);
    this.informers = [this.dInformer, this.rsInformer, this.podInformer];
    this.deployments = ctx.rest.resource<Deployment>(DEPLOYMENTS);
    this.replicaSets = ctx.rest.resource<ReplicaSet>(REPLICASETS);
    this.recorder = ctx.recorder(this.name);

    this.dInformer.addEventHandler(this.enqueueOnChange());
    this.rsInformer.addEventHandler({
      onAdd: (rs) => this.replicaSetChanged(undefined, rs),
      onUpdate: (old, rs) => this.replicaSetChanged(old, rs),
      onDelete: (rs) => this.enqueueOwner(rs.metadata.namespace, controllerRefOf(rs)),
    });
    // Recreate waits for the old pods to be gone.
    this.podInformer.addEventHandler({
      onDelete: (pod) => {
        const rs = this.rsInformer.indexer.get(`${pod.metadata.namespace}/${controllerRefOf(pod)?.name ?? ''}`);
        const d = rs && this.resolve(rs.metadata.namespace, controllerRefOf(rs));
        if (d && d.spec.strategy?.type === 'Recreate') this.enqueue(d);
      },
    });
  }

  private resolve(namespace: string | undefined, ref: OwnerReference | undefined): Deployment | undefined {
    if (!ref || ref.kind !== 'Deployment') return undefined;
    const d = this.dInformer.indexer.get(`${namespace}/${ref.name}`);
    return d?.metadata.uid === ref.uid ? d : undefined;
  }

  private enqueueOwner(namespace: string | undefined, ref: OwnerReference | undefined): void {
    const d = this.resolve(namespace, ref);
    if (d) this.enqueue(d);
  }

  private replicaSetChanged(old: ReplicaSet | undefined, rs: ReplicaSet): void {
    const ref = controllerRefOf(rs);
    const oldRef = old && controllerRefOf(old);
    if (oldRef && oldRef.uid !== ref?.uid) this.enqueueOwner(old.metadata.namespace, oldRef);
    if (ref) return this.enqueueOwner(rs.metadata.namespace, ref);
    if (rs.metadata.deletionTimestamp) return;
    // An orphan: the Deployments that might adopt it.
    for (const d of this.dInformer.indexer.byIndex('namespace', rs.metadata.namespace ?? '')) {
      if (!isEmptySelector(d.spec.selector) && matchesLabelSelector(d.spec.selector, rs.metadata.labels)) this.enqueue(d);
    }
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const cached = this.dInformer.indexer.get(key);
    if (!cached) return;
    const p: Pass = { d: structuredClone({ ...cached, apiVersion: DEPLOYMENTS.apiVersion, kind: DEPLOYMENTS.kind }), log };
    const d = p.d;
    if (isEmptySelector(d.spec.selector)) {
      void this.recorder.event(objectReference(d, DEPLOYMENTS), 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) await this.writeStatus(p, { ...(d.status ?? {}), observedGeneration: d.metadata.generation ?? 0 });
      return;
    }
    const rsList = await this.replicaSetsFor(p);
    if (d.metadata.deletionTimestamp) return void (await this.syncScaling(p, rsList, true));
    await this.checkPausedConditions(p);
    if (d.spec.paused) return void (await this.syncScaling(p, rsList));
    if (await this.isScalingEvent(p, rsList)) return void (await this.syncScaling(p, rsList));
    return d.spec.strategy?.type === 'Recreate' ? this.rolloutRecreate(p, rsList) : this.rolloutRolling(p, rsList);
  }

  /** The Deployment's ReplicaSets, after adopting matching orphans and releasing sets that stopped matching. */
  private async replicaSetsFor(p: Pass): Promise<ReplicaSet[]> {
    const d = p.d;
    const candidates = this.rsInformer.indexer.byIndex('namespace', d.metadata.namespace ?? '');
    const claimed = await claimObjects({
      owner: d,
      gvk: DEPLOYMENTS,
      selector: d.spec.selector,
      candidates,
      client: this.replicaSets,
      canAdopt: async () => {
        const fresh = await this.deployments.get(d.metadata.namespace, d.metadata.name ?? '');
        if (fresh.metadata.uid !== d.metadata.uid) throw new Error(`original Deployment ${keyOf(d)} is gone`);
        if (fresh.metadata.deletionTimestamp) throw new Error(`Deployment ${keyOf(d)} is being deleted`);
      },
      log: p.log,
    });
    return claimed.map((rs) => structuredClone(rs));
  }

  // ---- status writes ----

  /**
   * Writes status. A conflict with a write that did not change the spec (ours, not yet in the cache; an annotation)
   * is retried once on the fresh object: the status computed here is still the status of that generation.
   */
  private async writeStatus(p: Pass, status: DeploymentStatus): Promise<void> {
    let written: Deployment;
    try {
      written = await this.deployments.updateStatus({ ...p.d, status });
    } catch (err) {
      if (!isConflict(err)) throw err;
      const fresh = await this.deployments.get(p.d.metadata.namespace, p.d.metadata.name ?? '');
      if (fresh.metadata.uid !== p.d.metadata.uid || fresh.metadata.generation !== p.d.metadata.generation) throw err;
      written = await this.deployments.updateStatus({ ...fresh, status });
    }
    p.d = { ...written, apiVersion: DEPLOYMENTS.apiVersion, kind: DEPLOYMENTS.kind };
  }

  /**
   * The Deployment's revision annotation follows its new ReplicaSet's: an update of the object as read (a conflict
   * retries the sync), as kube's controller writes it; its role may update Deployments, not patch them.
   */
  private async setDeploymentRevision(p: Pass, revision: string): Promise<void> {
    if (p.d.metadata.annotations?.[u.REVISION] === revision) return;
    const updated = await this.deployments.update({ ...p.d, metadata: { ...p.d.metadata, annotations: { ...(p.d.metadata.annotations ?? {}), [u.REVISION]: revision } } });
    // Keep our status (not yet written) but take the new resourceVersion and annotations.
    p.d = { ...p.d, metadata: { ...p.d.metadata, annotations: updated.metadata.annotations ?? {}, resourceVersion: updated.metadata.resourceVersion ?? '' } };
  }

  // ---- finding and creating the new ReplicaSet ----

  private findNew(d: Deployment, rsList: ReplicaSet[]): ReplicaSet | undefined {
    return [...rsList].sort(u.byCreation).find((rs) => u.equalIgnoreHash(rs.spec.template, d.spec.template));
  }

  /**
   * The new ReplicaSet (whose template is the Deployment's) and the old ones; with create, makes the new one when
   * missing. Brings the new set's revision to max(old)+1 (this is how a rollback gets a new revision).
   */
  private async newAndOld(p: Pass, rsList: ReplicaSet[], create: boolean): Promise<{ newRS: ReplicaSet | undefined; oldRSs: ReplicaSet[] }> {
    const existing = this.findNew(p.d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = await this.getNewReplicaSet(p, existing, oldRSs, create);
    return { newRS, oldRSs };
  }

  private async getNewReplicaSet(p: Pass, existing: ReplicaSet | undefined, oldRSs: ReplicaSet[], create: boolean): Promise<ReplicaSet | undefined> {
    const d = p.d;
    const newRevision = u.maxRevision(oldRSs) + 1;
    if (existing) {
      const copy = structuredClone(existing);
      const annotationsChanged = u.setNewReplicaSetAnnotations(d, copy, newRevision, true);
      const minReadyChanged = (copy.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      let rs = existing;
      if (annotationsChanged || minReadyChanged) {
        copy.spec.minReadySeconds = d.spec.minReadySeconds ?? 0;
        rs = await this.replicaSets.update(copy);
      }
      await this.setDeploymentRevision(p, rs.metadata.annotations?.[u.REVISION] ?? String(newRevision));
      if (u.hasProgressDeadline(p.d) && !u.getCondition(p.d.status, 'Progressing')) {
        const status = structuredClone(p.d.status ?? {});
        u.setCondition(status, u.newCondition('Progressing', 'True', u.Reason.FoundNewReplicaSet, `Found new replica set "${rs.metadata.name ?? ''}"`, this.clock.now()));
        await this.writeStatus(p, status);
      }
      return rs;
    }
    if (!create) return undefined;

    const collisionCount = d.status?.collisionCount;
    const hash = u.computeHash(d.spec.template, collisionCount);
    const template = structuredClone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [u.POD_TEMPLATE_HASH]: hash } };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [u.POD_TEMPLATE_HASH]: hash };
    const name = `${d.metadata.name ?? ''}-${hash}`;
    const newRS: ReplicaSet = {
      apiVersion: REPLICASETS.apiVersion,
      kind: REPLICASETS.kind,
      metadata: { name, namespace: d.metadata.namespace ?? '', labels: { ...(template.metadata.labels ?? {}) }, ownerReferences: [newControllerRef(d, DEPLOYMENTS)] },
      spec: { replicas: 0, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    newRS.spec.replicas = u.newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    u.setNewReplicaSetAnnotations(d, newRS, newRevision, false);

    let created: ReplicaSet;
    let alreadyExisted = false;
    try {
      created = await this.replicaSets.create(d.metadata.namespace, newRS);
    } catch (err) {
      if (isAlreadyExists(err)) {
        const found = await this.replicaSets.get(d.metadata.namespace, name);
        if (controllerRefOf(found)?.uid === d.metadata.uid && u.equalIgnoreHash(found.spec.template, d.spec.template)) {
          created = found; // ours, from a pass whose write we have not seen yet
          alreadyExisted = true;
        } else {
          // A hash collision: another template hashes to this name. Count it, and the next pass picks a new name.
          await this.writeStatus(p, { ...structuredClone(p.d.status ?? {}), collisionCount: (collisionCount ?? 0) + 1 });
          throw new Error(`ReplicaSet ${name} exists with another template; collisionCount is now ${(collisionCount ?? 0) + 1}`);
        }
      } else {
        if (u.hasProgressDeadline(d)) {
          const status = structuredClone(p.d.status ?? {});
          const msg = `Failed to create new replica set "${name}": ${err instanceof Error ? err.message : String(err)}`;
          u.setCondition(status, u.newCondition('Progressing', 'False', u.Reason.FailedCreate, msg, this.clock.now()));
          // The create error is what the retry is about; a failed status write only delays the condition to that retry.
          await this.writeStatus(p, status).catch((werr: unknown) => p.log.warn('writing the FailedCreate condition failed', { error: String(werr) }));
        }
        throw err;
      }
    }
    if (!alreadyExisted) {
      p.log.info('created new replica set', { replicaSet: name, replicas: newRS.spec.replicas });
      if ((newRS.spec.replicas ?? 0) > 0) void this.recorder.event(objectReference(d, DEPLOYMENTS), 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${name} from 0 to ${newRS.spec.replicas ?? 0}`);
    }
    await this.setDeploymentRevision(p, String(newRevision));
    if (!alreadyExisted && u.hasProgressDeadline(p.d)) {
      const status = structuredClone(p.d.status ?? {});
      u.setCondition(status, u.newCondition('Progressing', 'True', u.Reason.NewReplicaSetCreated, `Created new replica set "${name}"`, this.clock.now()));
      await this.writeStatus(p, status);
    }
    return structuredClone(created);
  }

  // ---- scaling ----

  /** Resizes rs (and its desired/max annotations); returns the set as written. */
  private async scaleReplicaSet(p: Pass, rs: ReplicaSet, size: number, operation?: string): Promise<{ rs: ReplicaSet; scaled: boolean }> {
    const d = p.d;
    const sizeChanged = u.replicasOf(rs) !== size;
    const desired = u.replicasOf(d);
    const max = desired + u.maxSurge(d);
    if (!sizeChanged && !u.replicasAnnotationsNeedUpdate(rs, desired, max)) return { rs, scaled: false };
    const copy = structuredClone(rs);
    const from = u.replicasOf(rs);
    copy.spec.replicas = size;
    u.setReplicasAnnotations(copy, desired, max);
    const updated = structuredClone(await this.replicaSets.update(copy));
    if (sizeChanged) {
      const op = operation ?? (size > from ? 'up' : 'down');
      p.log.info('scaled replica set', { replicaSet: rs.metadata.name, from, to: size });
      void this.recorder.event(objectReference(d, DEPLOYMENTS), 'Normal', 'ScalingReplicaSet', `Scaled ${op} replica set ${rs.metadata.name ?? ''} from ${from} to ${size}`);
    }
    return { rs: updated, scaled: sizeChanged };
  }

  /** A spec.replicas change: some active set's desired-replicas annotation disagrees with the Deployment. */
  private async isScalingEvent(p: Pass, rsList: ReplicaSet[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.newAndOld(p, rsList, false);
    return u.activeReplicaSets([...oldRSs, ...(newRS ? [newRS] : [])]).some((rs) => {
      const desired = u.desiredReplicasAnnotation(rs);
      return desired !== undefined && desired !== u.replicasOf(p.d);
    });
  }

  /** Scaling only (paused, resized, or deleting): no rollout step. */
  private async syncScaling(p: Pass, rsList: ReplicaSet[], statusOnly = false): Promise<void> {
    let { newRS, oldRSs } = await this.newAndOld(p, rsList, false);
    if (!statusOnly) {
      ({ newRS, oldRSs } = await this.scale(p, newRS, oldRSs));
      if (p.d.spec.paused) await this.cleanup(p, oldRSs);
    }
    await this.syncDeploymentStatus(p, [...oldRSs, ...(newRS ? [newRS] : [])], newRS);
  }

  private async scale(p: Pass, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): Promise<{ newRS: ReplicaSet | undefined; oldRSs: ReplicaSet[] }> {
    const d = p.d;
    const replace = (rs: ReplicaSet): void => {
      if (newRS && rs.metadata.name === newRS.metadata.name) newRS = rs;
      else oldRSs = oldRSs.map((x) => (x.metadata.name === rs.metadata.name ? rs : x));
    };
    const all = [...oldRSs, ...(newRS ? [newRS] : [])];
    const active = u.activeReplicaSets(all);
    // One active set (or none): it takes all the replicas.
    let only: ReplicaSet | undefined;
    if (active.length === 0) only = newRS ?? [...oldRSs].sort(u.byCreation).at(-1);
    else if (active.length === 1) only = active[0];
    if (active.length <= 1) {
      if (only && u.replicasOf(only) !== u.replicasOf(d)) replace((await this.scaleReplicaSet(p, only, u.replicasOf(d))).rs);
      return { newRS, oldRSs };
    }
    // The new set is complete: the old ones go.
    if (newRS && u.replicasOf(newRS) === u.replicasOf(d) && u.desiredReplicasAnnotation(newRS) === u.replicasOf(d) && (newRS.status?.availableReplicas ?? 0) === u.replicasOf(d)) {
      for (const rs of u.activeReplicaSets(oldRSs)) replace((await this.scaleReplicaSet(p, rs, 0)).rs);
      return { newRS, oldRSs };
    }
    if (u.isRollingUpdate(d)) {
      const { sizes, operation } = u.proportionalScale(d, active);
      for (const rs of active) replace((await this.scaleReplicaSet(p, rs, sizes.get(rs.metadata.name ?? '') ?? u.replicasOf(rs), operation || undefined)).rs);
    }
    return { newRS, oldRSs };
  }

  // ---- RollingUpdate ----

  private async rolloutRolling(p: Pass, rsList: ReplicaSet[]): Promise<SyncResult | void> {
    const got = await this.newAndOld(p, rsList, true);
    let newRS = got.newRS!;
    let oldRSs = got.oldRSs;
    const d = p.d;
    const all = (): ReplicaSet[] => [...oldRSs, newRS];

    // Grow the new set as far as maxSurge allows.
    if (u.replicasOf(newRS) !== u.replicasOf(d)) {
      const size = u.replicasOf(newRS) > u.replicasOf(d) ? u.replicasOf(d) : u.newRSNewReplicas(d, all(), newRS);
      const r = await this.scaleReplicaSet(p, newRS, size);
      newRS = r.rs;
      if (r.scaled) return this.syncRolloutStatus(p, all(), newRS);
    }

    // Shrink the old sets as far as maxUnavailable allows: unhealthy pods first, then healthy ones.
    let scaledDown = false;
    if (u.specReplicas(oldRSs) > 0) {
      const maxDown = u.maxScaledDown(d, all(), newRS);
      if (maxDown > 0) {
        const active = (): ReplicaSet[] => u.activeReplicaSets(oldRSs);
        for (const [name, size] of u.unhealthyScaleDowns(active(), maxDown)) scaledDown = (await this.resizeOld(p, name, size, (x) => (oldRSs = x), oldRSs)) || scaledDown;
        for (const [name, size] of u.rollingScaleDowns(d, all(), active())) scaledDown = (await this.resizeOld(p, name, size, (x) => (oldRSs = x), oldRSs)) || scaledDown;
      }
    }
    if (scaledDown) return this.syncRolloutStatus(p, all(), newRS);

    if (u.deploymentComplete(d, d.status ?? {})) await this.cleanup(p, oldRSs);
    return this.syncRolloutStatus(p, all(), newRS);
  }

  private async resizeOld(p: Pass, name: string, size: number, set: (x: ReplicaSet[]) => void, oldRSs: ReplicaSet[]): Promise<boolean> {
    const rs = oldRSs.find((x) => x.metadata.name === name);
    if (!rs) return false;
    const r = await this.scaleReplicaSet(p, rs, size);
    set(oldRSs.map((x) => (x.metadata.name === name ? r.rs : x)));
    return r.scaled;
  }

  // ---- Recreate ----

  private async rolloutRecreate(p: Pass, rsList: ReplicaSet[]): Promise<SyncResult | void> {
    let { newRS, oldRSs } = await this.newAndOld(p, rsList, false);
    const all = (): ReplicaSet[] => [...oldRSs, ...(newRS ? [newRS] : [])];
    // First every old pod goes...
    let scaledDown = false;
    for (const rs of u.activeReplicaSets(oldRSs)) {
      const r = await this.scaleReplicaSet(p, rs, 0);
      oldRSs = oldRSs.map((x) => (x.metadata.name === rs.metadata.name ? r.rs : x));
      scaledDown ||= r.scaled;
    }
    if (scaledDown) return this.syncRolloutStatus(p, all(), newRS);
    if (this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus(p, all(), newRS);
    // ...then the new set comes up at full size.
    if (!newRS) ({ newRS, oldRSs } = await this.newAndOld(p, rsList, true));
    if (newRS) newRS = (await this.scaleReplicaSet(p, newRS, u.replicasOf(p.d))).rs;
    if (u.deploymentComplete(p.d, p.d.status ?? {})) await this.cleanup(p, oldRSs);
    return this.syncRolloutStatus(p, all(), newRS);
  }

  /**
   * Whether any pod of an old set still exists and has not finished (terminating pods count). Read from the pods'
   * controller index: the old sets' own pods, not every pod of the namespace (kube lists the Deployment's pods by its
   * selector on each sync).
   */
  private oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): boolean {
    if (u.actualReplicas(oldRSs) > 0) return true;
    return oldRSs.some(
      (rs) => rs.metadata.uid !== newRS?.metadata.uid && ownedBy(this.podInformer, rs.metadata.uid ?? '').some((pod) => pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed'),
    );
  }

  // ---- history, pause, status ----

  /** Deletes old, empty ReplicaSets beyond revisionHistoryLimit. */
  private async cleanup(p: Pass, oldRSs: ReplicaSet[]): Promise<void> {
    for (const rs of u.replicaSetsToCleanUp(p.d, oldRSs)) {
      p.log.info('deleting old replica set', { replicaSet: rs.metadata.name, revision: u.revisionOf(rs) });
      try {
        await this.replicaSets.delete(rs.metadata.namespace, rs.metadata.name ?? '', { preconditions: { uid: rs.metadata.uid ?? '' } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  private async checkPausedConditions(p: Pass): Promise<void> {
    const d = p.d;
    if (!u.hasProgressDeadline(d)) return;
    const cond = u.getCondition(d.status, 'Progressing');
    if (cond?.reason === u.Reason.ProgressDeadlineExceeded) return; // keep reporting the lack of progress
    const pausedReported = cond?.reason === u.Reason.DeploymentPaused;
    const status = structuredClone(d.status ?? {});
    if (d.spec.paused && !pausedReported) {
      u.setCondition(status, u.newCondition('Progressing', 'Unknown', u.Reason.DeploymentPaused, 'Deployment is paused', this.clock.now()));
    } else if (!d.spec.paused && pausedReported) {
      u.setCondition(status, u.newCondition('Progressing', 'Unknown', u.Reason.DeploymentResumed, 'Deployment is resumed', this.clock.now()));
    } else return;
    await this.writeStatus(p, status);
  }

  private async syncDeploymentStatus(p: Pass, allRSs: ReplicaSet[], newRS: ReplicaSet | undefined): Promise<void> {
    const status = u.calculateStatus(p.d, allRSs, newRS, this.clock.now());
    if (sameStatus(p.d.status, status)) return;
    await this.writeStatus(p, status);
  }

  /** Status with the Progressing condition (syncRolloutStatus); asks to be requeued for the progress deadline. */
  private async syncRolloutStatus(p: Pass, allRSs: ReplicaSet[], newRS: ReplicaSet | undefined): Promise<SyncResult | void> {
    const d = p.d;
    const now = this.clock.now();
    const status = u.calculateStatus(d, allRSs, newRS, now);
    if (!u.hasProgressDeadline(d)) u.removeCondition(status, 'Progressing');
    const cur = u.getCondition(status, 'Progressing');
    const complete = status.replicas === status.updatedReplicas && cur?.reason === u.Reason.NewReplicaSetAvailable;
    if (u.hasProgressDeadline(d) && !complete) {
      const rsName = newRS?.metadata.name ?? '';
      if (u.deploymentComplete(d, status)) {
        const msg = newRS ? `ReplicaSet "${rsName}" has successfully progressed.` : `Deployment "${d.metadata.name ?? ''}" has successfully progressed.`;
        u.setCondition(status, u.newCondition('Progressing', 'True', u.Reason.NewReplicaSetAvailable, msg, now));
      } else if (u.deploymentProgressing(d, status)) {
        const msg = newRS ? `ReplicaSet "${rsName}" is progressing.` : `Deployment "${d.metadata.name ?? ''}" is progressing.`;
        const c = u.newCondition('Progressing', 'True', u.Reason.ReplicaSetUpdated, msg, now);
        // Progress moves lastUpdateTime (the deadline's start), not lastTransitionTime.
        if (cur?.status === 'True' && cur.lastTransitionTime) c.lastTransitionTime = cur.lastTransitionTime;
        u.removeCondition(status, 'Progressing');
        u.setCondition(status, c);
      } else if (u.deploymentTimedOut(d, status, now)) {
        const msg = newRS ? `ReplicaSet "${rsName}" has timed out progressing.` : `Deployment "${d.metadata.name ?? ''}" has timed out progressing.`;
        u.setCondition(status, u.newCondition('Progressing', 'False', u.Reason.ProgressDeadlineExceeded, msg, now));
        void this.recorder.event(objectReference(d, DEPLOYMENTS), 'Warning', u.Reason.ProgressDeadlineExceeded, `Deployment "${d.metadata.name ?? ''}" has timed out progressing.`);
      }
    }
    // A failure of a ReplicaSet to create pods shows on the Deployment.
    const failure = allRSs.flatMap((rs) => rs.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
    if (failure) u.setCondition(status, u.newCondition('ReplicaFailure', 'True', failure.reason ?? '', failure.message ?? '', now));
    else u.removeCondition(status, 'ReplicaFailure');

    if (!sameStatus(d.status, status)) await this.writeStatus(p, status);
    return this.progressCheck(p.d, status, now);
  }

  /** When to look again so that a stalled rollout reports ProgressDeadlineExceeded on time. */
  private progressCheck(d: Deployment, status: DeploymentStatus, now: number): SyncResult | void {
    const cond = u.getCondition(status, 'Progressing');
    if (!cond || !u.hasProgressDeadline(d) || u.deploymentComplete(d, status) || cond.reason === u.Reason.ProgressDeadlineExceeded) return;
    const from = Date.parse(cond.lastUpdateTime ?? '');
    if (!Number.isFinite(from)) return;
    const after = from + (d.spec.progressDeadlineSeconds ?? 600) * 1000 - now;
    return { requeueAfterMs: after < 1000 ? 1000 : after + 1000 };
  }
}

function sameStatus(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  const norm = (s: DeploymentStatus | undefined): string =>
    JSON.stringify({
      observedGeneration: s?.observedGeneration ?? 0,
      replicas: s?.replicas ?? 0,
      updatedReplicas: s?.updatedReplicas ?? 0,
      readyReplicas: s?.readyReplicas ?? 0,
      availableReplicas: s?.availableReplicas ?? 0,
      unavailableReplicas: s?.unavailableReplicas ?? 0,
      collisionCount: s?.collisionCount,
      conditions: [...(s?.conditions ?? [])].sort((x, y) => x.type.localeCompare(y.type)).map((c) => [c.type, c.status, c.reason, c.message, c.lastUpdateTime, c.lastTransitionTime]),
    });
  return norm(a) === norm(b);
}
