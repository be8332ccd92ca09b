// The DaemonSet controller (pkg/controller/daemon): one pod on every node the daemon's node selector, node affinity
// and tolerations allow, placed by the default scheduler through a `metadata.name In [node]` node affinity; rolling
// updates bounded by maxUnavailable and maxSurge, or OnDelete; the template history as ControllerRevisions.
import { isAlreadyExists, isNotFound } from '../../api/errors.js';
import { DAEMONSET_TEMPLATE_GENERATION_ANNOTATION } from '../../api/annotations.js';
import { isEmptySelector, matchesLabelSelector } from '../../api/selectors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Backoff } from '../../lib/backoff.js';
import { hashOf, stableJson } from '../../lib/hash.js';
import type { Logger } from '../../lib/logger.js';
import { slowStartBatch } from '../framework/batch.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { UIDTrackingExpectations } from '../framework/expectations.js';
import { ownedEventHandlers } from '../framework/owned-events.js';
import { claimObjects, indexByController, newControllerRef, ownedAndOrphans } from '../framework/owners.js';
import { isNamespaceTerminating, PodControl } from '../framework/pod-control.js';
import { isPodReady, podFromTemplate } from '../framework/pods.js';
import { CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS, type ControllerRevision, type DaemonSet, type DaemonSetStatus, type Node, type OwnerReference, type Pod } from '../framework/types.js';
import { CONTROLLER_REVISION_HASH, RevisionHistory, maxRevision, templatePatch } from '../history/revisions.js';
import { isNewerVersion } from '../job/util.js';
import * as u from './util.js';

/** kube-controller-manager's BurstReplicas for daemon sets: creations or deletions per sync. */
export const BURST_REPLICAS = 250;
/** Pod creations in flight per sync (as the ReplicaSet controller's cap, for the same reason). */
export const CREATE_CONCURRENCY = 32;
/** kube-controller-manager's failedPodsBackoff: 1 s doubling to 15 min. */
const FAILED_POD_BACKOFF_MS = 1000;
const MAX_FAILED_POD_BACKOFF_MS = 15 * 60_000;

export interface DaemonSetControllerOptions {
  workers?: number;
  burstReplicas?: number;
}

/** The pods of one sync, grouped: by the node they are on (or are meant for) and all of them. */
interface DaemonPods {
  all: Pod[];
  /** getNodesToDaemonPods: without the terminal pods already being deleted. */
  byNode: Map<string, Pod[]>;
}

export class DaemonSetController extends Controller {
  readonly expectations: UIDTrackingExpectations;
  private readonly dsInformer: Informer<DaemonSet>;
  private readonly podInformer: Informer<Pod>;
  private readonly nodeInformer: Informer<Node>;
  private readonly history: RevisionHistory;
  private readonly daemonSets: ResourceClient<DaemonSet>;
  private readonly pods: ResourceClient<Pod>;
  private readonly podControl: PodControl;
  private readonly recorder: EventRecorder;
  private readonly burst: number;
  /** Per DaemonSet generation and node: a kubelet that keeps failing a pod must not make this delete it in a hot loop. */
  private readonly backoff: Backoff;
  /**
   * The DaemonSet as this controller's last status write returned it, per key, until the cache shows that write: a
   * status write from a sync that starts before then (pod events come faster than the DaemonSet's own) is based on
   * it, not on a cached copy whose resourceVersion is sure to conflict (a 409, a GET and a second PUT each time).
   */
  private readonly written = new Map<string, DaemonSet>();
  /** Each DaemonSet's placement, kept while its resourceVersion stays (node events test every DaemonSet). */
  private readonly placements = new Map<string, { rv: string; placement: u.DaemonPlacement }>();
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: DaemonSetControllerOptions = {}) {
    super({ name: 'daemonset-controller', clock: ctx.clock, workers: opts.workers ?? 2 });
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.expectations = new UIDTrackingExpectations(ctx.clock);
    this.backoff = new Backoff(ctx.clock, FAILED_POD_BACKOFF_MS, MAX_FAILED_POD_BACKOFF_MS);
    this.dsInformer = ctx.informers.for<DaemonSet>(DAEMONSETS);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    this.nodeInformer = ctx.informers.for<Node>(NODES);
    const revisions = ctx.informers.for<ControllerRevision>(CONTROLLERREVISIONS);
    this.history = new RevisionHistory(revisions, ctx.rest.resource<ControllerRevision>(CONTROLLERREVISIONS));
    indexByController(this.podInformer);
    this.informers = [this.dsInformer, this.podInformer, this.nodeInformer, revisions];
    this.daemonSets = ctx.rest.resource<DaemonSet>(DAEMONSETS);
    this.pods = ctx.rest.resource<Pod>(PODS);
    this.recorder = ctx.recorder(this.name);
    this.podControl = new PodControl(this.pods, this.recorder);

    this.dsInformer.addEventHandler({
      onAdd: (ds) => this.enqueue(ds),
      onUpdate: (old, ds) => {
        // Recreated under the same name: the old one's expectations must not hold up the new one.
        if (old.metadata.uid !== ds.metadata.uid) this.expectations.delete(keyOf(old));
        const w = this.written.get(keyOf(ds));
        if (w && (w.metadata.uid !== ds.metadata.uid || !isNewerVersion(w, ds))) this.written.delete(keyOf(ds));
        this.enqueue(ds);
      },
      onDelete: (ds) => {
        this.expectations.delete(keyOf(ds));
        this.written.delete(keyOf(ds));
        this.placements.delete(ds.metadata.uid ?? '');
        this.backoff.forget(`${ds.metadata.uid ?? ''}/`);
        this.enqueue(ds);
      },
    });
    const owned = {
      resolve: (ns: string | undefined, ref: OwnerReference) => this.resolve(ns, ref),
      matching: (obj: { metadata?: { namespace?: string; labels?: Record<string, string> } }) => this.daemonSetsMatching(obj.metadata?.namespace, obj.metadata?.labels),
      enqueue: (ds: DaemonSet) => this.enqueue(ds),
    };
    this.podInformer.addEventHandler(
      ownedEventHandlers<DaemonSet, Pod>({
        ...owned,
        added: (ds) => this.expectations.creationObserved(keyOf(ds)),
        deleted: (ds, pod) => this.expectations.deletionObserved(keyOf(ds), keyOf(pod)),
        updated: (ds, old, cur) => {
          const minReady = ds.spec.minReadySeconds ?? 0;
          if (minReady > 0 && !isPodReady(old) && isPodReady(cur)) this.enqueueAfter(ds, minReady * 1000 + 1000);
        },
      }),
    );
    revisions.addEventHandler(ownedEventHandlers<DaemonSet, ControllerRevision>(owned));
    this.nodeInformer.addEventHandler({
      onAdd: (node) => {
        for (const ds of this.dsInformer.indexer.list()) if (this.placement(ds).fit(node).shouldRun) this.enqueue(ds);
      },
      onUpdate: (old, cur) => {
        if (ignoreNodeUpdate(old, cur)) return;
        for (const ds of this.dsInformer.indexer.list()) {
          const a = this.placement(ds).fit(old);
          const b = this.placement(ds).fit(cur);
          if (a.shouldRun !== b.shouldRun || a.shouldContinueRunning !== b.shouldContinueRunning) this.enqueue(ds);
        }
      },
    });
  }

  private resolve(namespace: string | undefined, ref: OwnerReference): DaemonSet | undefined {
    if (ref.kind !== DAEMONSETS.kind) return undefined;
    const ds = this.dsInformer.indexer.get(`${namespace}/${ref.name}`);
    return ds?.metadata.uid === ref.uid ? ds : undefined;
  }

  /** GetPodDaemonSets / GetHistoryDaemonSets: DaemonSets with a non-empty selector matching the labels. */
  private daemonSetsMatching(namespace: string | undefined, labels: Record<string, string> | undefined): DaemonSet[] {
    return this.dsInformer.indexer.byIndex('namespace', namespace ?? '').filter((ds) => !isEmptySelector(ds.spec.selector) && matchesLabelSelector(ds.spec.selector, labels));
  }

  private placement(ds: DaemonSet): u.DaemonPlacement {
    const uid = ds.metadata.uid ?? '';
    const rv = ds.metadata.resourceVersion ?? '';
    const cached = this.placements.get(uid);
    if (cached?.rv === rv) return cached.placement;
    const placement = new u.DaemonPlacement(ds);
    this.placements.set(uid, { rv, placement });
    return placement;
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const ds = this.dsInformer.indexer.get(key);
    if (!ds) {
      this.expectations.delete(key);
      return;
    }
    if (isEmptySelector(ds.spec.selector)) {
      void this.recorder.event(objectReference(ds, DAEMONSETS), 'Warning', 'SelectingAll', 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    // Being deleted: its history may be going too, so its status cannot be worked out (as kube, leave it).
    if (ds.metadata.deletionTimestamp) return;
    const { cur, old } = await this.constructHistory(ds, log);
    const hash = cur.metadata.labels?.[CONTROLLER_REVISION_HASH] ?? '';
    const nodes = this.nodeInformer.indexer.list();
    const placement = this.placement(ds);
    const fits = nodes.map((node) => ({ name: node.metadata?.name ?? '', fit: placement.fit(node) }));
    const pods = await this.daemonPods(ds, log);
    if (!this.expectations.satisfied(key)) return this.updateStatus(ds, fits, pods, hash, false);
    let err: unknown;
    try {
      await this.manage(ds, fits, pods, hash, key, log);
      // Rolling updates wait until the pods asked for above have shown up.
      if (this.expectations.satisfied(key) && (ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') await this.rollingUpdate(ds, fits, pods, hash, key, log);
      await this.cleanupHistory(ds, old, pods.all);
    } catch (e) {
      err = e;
    }
    try {
      const res = await this.updateStatus(ds, fits, pods, hash, true);
      if (err) throw err;
      return res;
    } catch (statusErr) {
      if (!err || statusErr === err) throw statusErr;
      log.error('status update failed', { error: String(statusErr) });
      throw err;
    }
  }

  /** getDaemonPods + getNodesToDaemonPods: claims the DaemonSet's pods and groups them by target node. */
  private async daemonPods(ds: DaemonSet, log: Logger): Promise<DaemonPods> {
    const all = await claimObjects({
      owner: ds,
      gvk: DAEMONSETS,
      selector: ds.spec.selector,
      candidates: ownedAndOrphans(this.podInformer, ds, ds.spec.selector),
      client: this.pods,
      canAdopt: () => this.canAdopt(ds),
      log,
    });
    const byNode = new Map<string, Pod[]>();
    for (const pod of all) {
      const phase = pod.status?.phase;
      // A finished pod being deleted (finalizers, pod GC) needs nothing more from the controller.
      if (pod.metadata.deletionTimestamp && (phase === 'Succeeded' || phase === 'Failed')) continue;
      const node = u.targetNodeName(pod);
      if (node === undefined) continue;
      const list = byNode.get(node);
      if (list) list.push(pod);
      else byNode.set(node, [pod]);
    }
    return { all, byNode };
  }

  private async canAdopt(ds: DaemonSet): Promise<void> {
    const fresh = await this.daemonSets.get(ds.metadata.namespace, ds.metadata.name ?? '');
    if (fresh.metadata.uid !== ds.metadata.uid) throw new Error(`original DaemonSet ${keyOf(ds)} is gone: got uid ${fresh.metadata.uid}, wanted ${ds.metadata.uid}`);
    if (fresh.metadata.deletionTimestamp) throw new Error(`DaemonSet ${keyOf(ds)} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }

  /** constructHistory: the current revision (created, or renumbered to be the newest) and the old ones. */
  private async constructHistory(ds: DaemonSet, log: Logger): Promise<{ cur: ControllerRevision; old: ControllerRevision[] }> {
    const claimed = await this.history.claim(ds, DAEMONSETS, ds.spec.selector, () => this.canAdopt(ds), log);
    const want = stableJson(templatePatch(ds.spec.template));
    const current: ControllerRevision[] = [];
    const old: ControllerRevision[] = [];
    for (let cr of claimed) {
      // A revision adopted without the hash label gets its name as the label (kube does the same).
      if (cr.metadata.labels?.[CONTROLLER_REVISION_HASH] === undefined) {
        cr = await this.history.api.update({ ...cr, metadata: { ...cr.metadata, labels: { ...(cr.metadata.labels ?? {}), [CONTROLLER_REVISION_HASH]: cr.metadata.name ?? '' } } });
      }
      (stableJson(cr.data ?? null) === want ? current : old).push(cr);
    }
    const next = maxRevision(old) + 1;
    if (!current.length) return { cur: await this.snapshot(ds, next, log), old };
    const cur = await this.dedupCurrent(ds, current, log);
    return { cur: cur.revision < next ? await this.history.setRevision(cur, next) : cur, old };
  }

  /** A new ControllerRevision for the template; a name taken by another template bumps status.collisionCount. */
  private async snapshot(ds: DaemonSet, revision: number, log: Logger): Promise<ControllerRevision> {
    const hash = hashOf(ds.spec.template, ds.status?.collisionCount);
    const cr: ControllerRevision = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name: `${ds.metadata.name ?? ''}-${hash}`,
        namespace: ds.metadata.namespace ?? '',
        labels: { ...(ds.spec.template.metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH]: hash },
        ...(ds.metadata.annotations ? { annotations: { ...ds.metadata.annotations } } : {}),
        ownerReferences: [newControllerRef(ds, DAEMONSETS)],
      },
      data: templatePatch(ds.spec.template),
      revision,
    };
    try {
      return await this.history.api.create(ds.metadata.namespace, cr);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await this.history.api.get(ds.metadata.namespace, cr.metadata.name ?? '');
      if (stableJson(existing.data ?? null) === stableJson(cr.data)) return existing;
      const fresh = await this.daemonSets.get(ds.metadata.namespace, ds.metadata.name ?? '');
      if ((fresh.status?.collisionCount ?? -1) !== (ds.status?.collisionCount ?? -1)) {
        throw new Error(`found a stale collision count (${ds.status?.collisionCount}, expected ${fresh.status?.collisionCount}) of DaemonSet ${keyOf(ds)} while processing; will retry until it is updated`);
      }
      const collisionCount = (fresh.status?.collisionCount ?? 0) + 1;
      await this.daemonSets.updateStatus({ ...fresh, status: { ...emptyStatus(), ...fresh.status, collisionCount } });
      log.info('hash collision, collisionCount bumped', { revision: cr.metadata.name, collisionCount });
      throw err;
    }
  }

  /** dedupCurHistories: several revisions hold the current template; keep the newest, relabel its pods, drop the rest. */
  private async dedupCurrent(ds: DaemonSet, current: ControllerRevision[], log: Logger): Promise<ControllerRevision> {
    if (current.length === 1) return current[0]!;
    const keep = current.reduce((a, b) => (b.revision >= a.revision ? b : a));
    const hash = keep.metadata.labels?.[CONTROLLER_REVISION_HASH] ?? '';
    const pods = await this.daemonPods(ds, log);
    for (const pod of pods.all) {
      if (pod.metadata.labels?.[CONTROLLER_REVISION_HASH] !== hash) {
        await this.pods.patch(pod.metadata.namespace, pod.metadata.name ?? '', { metadata: { labels: { [CONTROLLER_REVISION_HASH]: hash } } }, 'merge');
      }
    }
    for (const cr of current) if (cr !== keep) await this.history.delete(cr);
    return keep;
  }

  /** manage: create the missing daemon pods, delete the ones that must go, per node. */
  private async manage(ds: DaemonSet, fits: Array<{ name: string; fit: u.NodeFit }>, pods: DaemonPods, hash: string, key: string, log: Logger): Promise<void> {
    const now = this.clock.now();
    const opts = { surge: u.allowsSurge(ds), hash, minReadySeconds: ds.spec.minReadySeconds ?? 0, now };
    const createOn: string[] = [];
    const remove: Pod[] = [];
    for (const { name, fit } of fits) {
      const plan = u.podsShouldBeOnNode(fit, pods.byNode.get(name), opts, {
        deleteFailed: (pod) => this.mayDeleteFailed(ds, pod, name),
        succeeded: (pod) => void this.recorder.event(objectReference(ds, DAEMONSETS), 'Normal', 'SucceededDaemonPod', `Found succeeded daemon pod ${keyOf(pod)} on node ${name}, will try to delete it`),
      });
      if (plan.create) createOn.push(name);
      remove.push(...plan.remove);
    }
    // A pod waiting for a node that is gone would never be scheduled, and pod GC does not delete unscheduled pods.
    const known = new Set(fits.map((f) => f.name));
    for (const [node, list] of pods.byNode) if (!known.has(node)) remove.push(...list.filter((p) => !p.spec.nodeName));
    await this.syncNodes(ds, remove, createOn, hash, key, log);
  }

  /** A failed daemon pod is deleted (and replaced) at most once per back-off period per node. */
  private mayDeleteFailed(ds: DaemonSet, pod: Pod, node: string): boolean {
    const backoffKey = `${ds.metadata.uid ?? ''}/${ds.status?.observedGeneration ?? 0}/${node}`;
    const wait = this.backoff.check(backoffKey);
    if (wait) {
      this.enqueueAfter(ds, wait.remainingMs);
      return false;
    }
    this.backoff.next(backoffKey);
    void this.recorder.event(objectReference(ds, DAEMONSETS), 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${keyOf(pod)} on node ${node}, will try to kill it`);
    return true;
  }

  /** rollingUpdate: which old pods to delete, and on which nodes to surge new pods, within the strategy's bounds. */
  private async rollingUpdate(ds: DaemonSet, fits: Array<{ name: string; fit: u.NodeFit }>, pods: DaemonPods, hash: string, key: string, log: Logger): Promise<void> {
    const nodeToPods = new Map(pods.byNode);
    const shouldRun = new Map<string, boolean>();
    let desired = 0;
    for (const { name, fit } of fits) {
      shouldRun.set(name, fit.shouldRun);
      if (!fit.shouldRun) continue;
      desired++;
      if (!nodeToPods.has(name)) nodeToPods.set(name, []);
    }
    const maxSurge = u.surgeCount(ds, desired);
    let maxUnavailable = u.unavailableCount(ds, desired);
    // Neither surge nor unavailability would never finish: accept unavailability, as kube does.
    if (desired > 0 && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    const plan = u.rollingUpdatePlan({
      nodeToPods,
      hash,
      maxSurge,
      maxUnavailable,
      desired,
      minReadySeconds: ds.spec.minReadySeconds ?? 0,
      now: this.clock.now(),
      shouldRun: (node) => shouldRun.get(node) ?? false,
    });
    if (plan.remove.length || plan.createOn.length) log.info('rolling update step', { delete: plan.remove.length, create: plan.createOn.length, maxSurge, maxUnavailable });
    await this.syncNodes(ds, plan.remove, plan.createOn, hash, key, log);
  }

  /** syncNodes: deletes pods and creates one on each node given, up to the burst, with expectations set first. */
  private async syncNodes(ds: DaemonSet, remove: Pod[], createOn: string[], hash: string, key: string, log: Logger): Promise<void> {
    const creates = createOn.slice(0, this.burst);
    const deletes = remove.slice(0, this.burst);
    this.expectations.expectDeletions(key, deletes.map((p) => keyOf(p)), creates.length);
    if (!creates.length && !deletes.length) return;
    const generation = Number(ds.metadata.annotations?.[DAEMONSET_TEMPLATE_GENERATION_ANNOTATION]);
    const template = u.createPodTemplate(ds.spec.template, Number.isInteger(generation) ? generation : undefined, hash);
    const errors: unknown[] = [];
    if (creates.length) log.info('creating daemon pods', { count: creates.length });
    let next = 0;
    const { successes, error } = await slowStartBatch(creates.length, 1, async () => {
      const node = creates[next++]!;
      const pod = podFromTemplate(template, ds, DAEMONSETS);
      pod.spec.affinity = u.withNodeNameAffinity(pod.spec.affinity, node);
      try {
        await this.podControl.create(ds, DAEMONSETS, pod);
      } catch (err) {
        if (isNamespaceTerminating(err)) return this.expectations.creationObserved(key);
        throw err;
      }
    }, CREATE_CONCURRENCY);
    for (let i = successes; i < creates.length; i++) this.expectations.creationObserved(key);
    if (error) errors.push(error);
    if (deletes.length) log.info('deleting daemon pods', { count: deletes.length });
    await Promise.all(
      deletes.map(async (pod) => {
        try {
          await this.podControl.delete(ds, DAEMONSETS, pod);
        } catch (err) {
          this.expectations.deletionObserved(key, keyOf(pod));
          if (!isNotFound(err)) errors.push(err);
        }
      }),
    );
    if (errors.length) throw errors[0];
  }

  /** cleanupHistory: old revisions beyond revisionHistoryLimit go, oldest first, unless a pod still runs them. */
  private async cleanupHistory(ds: DaemonSet, old: ControllerRevision[], pods: Pod[]): Promise<void> {
    let toKill = old.length - (ds.spec.revisionHistoryLimit ?? 10);
    if (toKill <= 0) return;
    const live = new Set(pods.map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH]).filter(Boolean));
    for (const cr of [...old].sort((a, b) => a.revision - b.revision)) {
      if (toKill <= 0) break;
      if (live.has(cr.metadata.labels?.[CONTROLLER_REVISION_HASH])) continue;
      await this.history.delete(cr);
      toKill--;
    }
  }

  /** updateDaemonSetStatus: the counts, written when they changed (retried once on a conflict with a fresh read). */
  private async updateStatus(ds: DaemonSet, fits: Array<{ name: string; fit: u.NodeFit }>, pods: DaemonPods, hash: string, observe: boolean): Promise<SyncResult | void> {
    const counts = u.daemonCounts(fits, pods.byNode, hash, ds.spec.minReadySeconds ?? 0, this.clock.now());
    const generation = ds.metadata.generation ?? 0;
    const unchanged = (st: DaemonSetStatus | undefined): boolean =>
      !!st && (Object.keys(counts) as Array<keyof u.DaemonCounts>).every((k) => (st[k] ?? 0) === counts[k]) && (st.observedGeneration ?? 0) >= generation;
    const key = keyOf(ds);
    const w = this.written.get(key);
    let current = w && w.metadata.uid === ds.metadata.uid && isNewerVersion(w, ds) ? w : ds;
    for (let attempt = 0; !unchanged(current.status); attempt++) {
      const status: DaemonSetStatus = { ...emptyStatus(), ...current.status, ...counts, ...(observe ? { observedGeneration: generation } : {}) };
      try {
        this.written.set(key, await this.daemonSets.updateStatus({ ...current, status }));
        break;
      } catch (err) {
        if (attempt >= 1 || isNotFound(err)) throw err;
        current = await this.daemonSets.get(ds.metadata.namespace, ds.metadata.name ?? '');
      }
    }
    // Pods become available minReadySeconds after they are ready: look again then.
    const minReady = ds.spec.minReadySeconds ?? 0;
    if (minReady > 0 && counts.numberReady !== counts.numberAvailable) return { requeueAfterMs: minReady * 1000 };
  }
}

const emptyStatus = (): DaemonSetStatus => ({ currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 });

/** shouldIgnoreNodeUpdate: nothing changed but heartbeats (the set of true conditions is the same). */
export function ignoreNodeUpdate(old: Node, cur: Node): boolean {
  const trueConditions = (n: Node): string => (n.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => c.type).sort().join(',');
  if (trueConditions(old) !== trueConditions(cur)) return false;
  const strip = (n: Node): unknown => ({ ...n, metadata: { ...n.metadata, resourceVersion: undefined }, status: { ...(n.status ?? {}), conditions: undefined } });
  return stableJson(strip(old)) === stableJson(strip(cur));
}
