// The disruption controller (pkg/controller/disruption): keeps each PodDisruptionBudget's status (expectedPods,
// desiredHealthy, currentHealthy, disruptionsAllowed, the DisruptionAllowed condition) from the pods its selector
// matches and the scale of their controllers; evictions (apiserver pods/eviction) spend disruptionsAllowed and record
// the pod in disruptedPods, which this controller forgets once the pod is gone or after DELETION_TIMEOUT_MS; a pod
// left with a DisruptionTarget condition but not deleted gets it reset to False after STALE_POD_DISRUPTION_TIMEOUT_MS.
import { isConflict, isNotFound } from '../../api/errors.js';
import { scaledValue } from '../../api/intstr.js';
import { matchesLabelSelector } from '../../api/selectors.js';
import { setStatusCondition, withDisruptionAllowedCondition, type PodDisruptionBudget } from '../../api/index.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ObjectLike, ResourceClient } from '../../client/rest.js';
import { PODDISRUPTIONBUDGETS } from '../../client/resources.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { controllerRefOf } from '../framework/owners.js';
import { isPodReady, rfc3339 } from '../framework/pods.js';
import { DEPLOYMENTS, PODS, REPLICASETS, REPLICATIONCONTROLLERS, STATEFULSETS, type OwnerReference, type Pod } from '../framework/types.js';

/** How long an eviction recorded in disruptedPods keeps its pod out of currentHealthy (kube's DeletionTimeout). */
export const DELETION_TIMEOUT_MS = 2 * 60 * 1000;

/** A DisruptionTarget condition on a pod not deleted this long after it was set is reset (kube's stalePodDisruptionTimeout). */
export const STALE_POD_DISRUPTION_TIMEOUT_MS = 2 * 60 * 1000;

export interface DisruptionOptions {
  workers?: number;
}

/** Queue keys of pods whose DisruptionTarget may go stale, beside the budgets' keys (kube keeps a second queue). */
const STALE = 'stale-pod:';

type PdbStatus = NonNullable<PodDisruptionBudget['status']>;
interface Scaled extends ObjectLike {
  spec?: { replicas?: number };
}

/** A controller's scale: its UID and spec.replicas, found from a pod's controller reference (kube's podControllerFinder). */
interface ControllerScale {
  uid: string;
  scale: number;
}

export class DisruptionController extends Controller {
  private readonly pdbInformer: Informer<PodDisruptionBudget>;
  private readonly podInformer: Informer<Pod>;
  private readonly scaled: Record<string, Informer<Scaled>>;
  private readonly pdbs: ResourceClient<PodDisruptionBudget>;
  private readonly pods: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: DisruptionOptions = {}) {
    super({ name: 'disruption-controller', clock: ctx.clock, workers: opts.workers ?? 1 });
    this.pdbInformer = ctx.informers.for<PodDisruptionBudget>(PODDISRUPTIONBUDGETS);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    this.scaled = {
      ReplicaSet: ctx.informers.for<Scaled>(REPLICASETS),
      Deployment: ctx.informers.for<Scaled>(DEPLOYMENTS),
      ReplicationController: ctx.informers.for<Scaled>(REPLICATIONCONTROLLERS),
      StatefulSet: ctx.informers.for<Scaled>(STATEFULSETS),
    };
    this.informers = [this.pdbInformer, this.podInformer, ...Object.values(this.scaled)];
    this.pdbs = ctx.rest.resource<PodDisruptionBudget>(PODDISRUPTIONBUDGETS);
    this.pods = ctx.rest.resource<Pod>(PODS);
    this.recorder = ctx.recorder(this.name);
    this.pdbInformer.addEventHandler(this.enqueueOnChange());
    const forPod = (pod: Pod): void => {
      for (const pdb of this.pdbsOf(pod)) this.enqueue(pdb);
      const due = this.staleAt(pod);
      if (due !== undefined) this.queue.addAfter(`${STALE}${keyOf(pod)}`, due - this.clock.now());
    };
    this.podInformer.addEventHandler({
      onAdd: forPod,
      // The old labels' budgets too: a pod relabelled out of a budget changes it (the queue folds duplicates).
      onUpdate: (old, pod) => {
        forPod(pod);
        forPod(old);
      },
      onDelete: forPod,
    });
    // A controller scaled changes expectedPods of the budgets over its pods: requeue the namespace's budgets.
    const forNamespace = (obj: ObjectLike): void => {
      for (const pdb of this.pdbInformer.indexer.byIndex('namespace', obj.metadata?.namespace ?? '')) this.enqueue(pdb);
    };
    for (const inf of Object.values(this.scaled)) inf.addEventHandler({ onAdd: forNamespace, onUpdate: (old, cur) => old.spec?.replicas !== cur.spec?.replicas && forNamespace(cur), onDelete: forNamespace });
  }

  /** The budgets whose selector matches the pod (kube's getPdbForPod, which takes them all for requeueing). */
  private pdbsOf(pod: Pod): PodDisruptionBudget[] {
    return this.pdbInformer.indexer.byIndex('namespace', pod.metadata.namespace ?? '').filter((pdb) => matchesLabelSelector(pdb.spec?.selector, pod.metadata.labels ?? {}));
  }

  /** When the pod's DisruptionTarget goes stale: set True, the pod not deleting. */
  private staleAt(pod: Pod): number | undefined {
    const cond = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
    if (pod.metadata.deletionTimestamp || cond?.status !== 'True') return undefined;
    return (Date.parse(cond.lastTransitionTime ?? '') || 0) + STALE_POD_DISRUPTION_TIMEOUT_MS;
  }

  /** kube's syncStalePodDisruption: a pod that was to be disrupted and was not gets DisruptionTarget False. */
  private async resetStale(key: string, log: SyncContext['log']): Promise<SyncResult | void> {
    const pod = this.podInformer.indexer.get(key);
    const due = pod && this.staleAt(pod);
    if (!pod || due === undefined) return;
    if (due > this.clock.now()) return { requeueAfterMs: due - this.clock.now() };
    // The write replaces the whole status, and the cache keeps pods cut down (client/informer-transform.ts): it starts
    // from the stored pod, whose resourceVersion guards it (a pod changed meanwhile is looked at again).
    const stored = await this.pods.get(pod.metadata.namespace, pod.metadata.name ?? '').catch((err: unknown) => {
      if (isNotFound(err)) return undefined; // deleted meanwhile: nothing to reset
      throw err;
    });
    const storedDue = stored && this.staleAt(stored);
    if (!stored) return;
    if (storedDue === undefined) return;
    if (storedDue > this.clock.now()) return { requeueAfterMs: storedDue - this.clock.now() };
    const conditions = (stored.status?.conditions ?? []).map((c) => (c.type === 'DisruptionTarget' ? { type: 'DisruptionTarget', status: 'False' as const, lastTransitionTime: rfc3339(this.clock.now()) } : c));
    await this.pods.updateStatus({ ...stored, apiVersion: 'v1', kind: 'Pod', status: { ...stored.status, conditions } });
    log.info('reset stale DisruptionTarget condition to False', { pod: key });
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    if (key.startsWith(STALE)) return this.resetStale(key.slice(STALE.length), log);
    const pdb = this.pdbInformer.indexer.get(key);
    if (!pdb || pdb.metadata.deletionTimestamp) return;
    try {
      return await this.trySync(pdb);
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) throw err; // a newer budget is on its way: retry with it
      log.error('failed to sync pdb', { error: err instanceof Error ? err.message : String(err) });
      await this.failSafe(pdb, err instanceof Error ? err.message : String(err));
    }
  }

  private async trySync(pdb: PodDisruptionBudget): Promise<SyncResult | void> {
    const pods = this.podInformer.indexer.byIndex('namespace', pdb.metadata.namespace ?? '').filter((p) => matchesLabelSelector(pdb.spec?.selector, p.metadata.labels ?? {}));
    if (!pods.length) void this.recorder.event(pdb, 'Normal', 'NoPods', 'No matching pods found');
    const { expectedCount, desiredHealthy, unmanaged } = this.expectedPodCount(pdb, pods);
    if (unmanaged.length) {
      const selector = JSON.stringify(pdb.spec?.selector ?? {});
      void this.recorder.event(
        pdb,
        'Warning',
        'UnmanagedPods',
        `Pods selected by this PodDisruptionBudget (selector: ${selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
      );
    }
    const now = this.clock.now();
    const { disrupted, recheckAt } = this.disruptedPods(pdb, pods, now);
    const currentHealthy = pods.filter((p) => !p.metadata.deletionTimestamp && !disrupted[p.metadata.name ?? ''] && isPodReady(p)).length;
    await this.updateStatus(pdb, { currentHealthy, desiredHealthy, expectedPods: expectedCount, disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy), disruptedPods: disrupted }, now);
    return recheckAt === undefined ? undefined : { requeueAfterMs: Math.max(0, recheckAt - now) };
  }

  /** kube's getExpectedPodCount: minAvailable as a number counts the pods; a percentage or maxUnavailable counts their controllers' scale. */
  private expectedPodCount(pdb: PodDisruptionBudget, pods: Pod[]): { expectedCount: number; desiredHealthy: number; unmanaged: string[] } {
    const spec = pdb.spec ?? {};
    if (spec.maxUnavailable !== undefined) {
      const { total, unmanaged } = this.expectedScale(pods);
      const maxUnavailable = scaledValue(spec.maxUnavailable, total, true);
      return { expectedCount: total, desiredHealthy: Math.max(0, total - maxUnavailable), unmanaged };
    }
    if (spec.minAvailable !== undefined && typeof spec.minAvailable === 'number') return { expectedCount: pods.length, desiredHealthy: spec.minAvailable, unmanaged: [] };
    if (spec.minAvailable !== undefined) {
      const { total, unmanaged } = this.expectedScale(pods);
      return { expectedCount: total, desiredHealthy: scaledValue(spec.minAvailable, total, true), unmanaged };
    }
    // Neither set (policy/v1 has no default): nothing expected, nothing desired, as kube's controller leaves them.
    return { expectedCount: 0, desiredHealthy: 0, unmanaged: [] };
  }

  /** The sum of the scales of the pods' controllers, each once (kube's getExpectedScale); pods with no controller are unmanaged. */
  private expectedScale(pods: Pod[]): { total: number; unmanaged: string[] } {
    const scales = new Map<string, number>();
    const unmanaged: string[] = [];
    for (const pod of pods) {
      const ref = controllerRefOf(pod);
      if (!ref) {
        unmanaged.push(pod.metadata.name ?? '');
        continue;
      }
      const found = this.scaleOf(ref, pod.metadata.namespace ?? '');
      if (!found) throw new Error(`found no controllers for pod "${pod.metadata.name ?? ''}"`);
      scales.set(found.uid, found.scale);
    }
    return { total: [...scales.values()].reduce((a, b) => a + b, 0), unmanaged };
  }

  /** The scalable controller of a pod: a ReplicaSet's Deployment when it has one, else the owner itself. */
  private scaleOf(ref: OwnerReference, namespace: string): ControllerScale | undefined {
    const owner = this.scaled[ref.kind]?.indexer.get(`${namespace}/${ref.name}`);
    if (!owner || owner.metadata?.uid !== ref.uid) return undefined;
    if (ref.kind === 'ReplicaSet') {
      const up = controllerRefOf(owner);
      if (up?.kind === 'Deployment') return this.scaleOf(up, namespace);
    }
    return { uid: ref.uid, scale: owner.spec?.replicas ?? 1 };
  }

  /** disruptedPods without the pods that are gone or deleting, and those past the timeout (kube's buildDisruptedPodMap). */
  private disruptedPods(pdb: PodDisruptionBudget, pods: Pod[], now: number): { disrupted: Record<string, string>; recheckAt?: number } {
    const recorded = pdb.status?.disruptedPods ?? {};
    const disrupted: Record<string, string> = {};
    let recheckAt: number | undefined;
    for (const pod of pods) {
      const name = pod.metadata.name ?? '';
      const at = recorded[name];
      if (at === undefined || pod.metadata.deletionTimestamp) continue;
      const expires = Date.parse(at) + DELETION_TIMEOUT_MS;
      if (expires < now) {
        void this.recorder.event(pod, 'Warning', 'NotDeleted', 'Pod was expected by PDB to be deleted but it was not');
        continue;
      }
      disrupted[name] = at;
      recheckAt = recheckAt === undefined ? expires : Math.min(recheckAt, expires);
    }
    return recheckAt === undefined ? { disrupted } : { disrupted, recheckAt };
  }

  private async updateStatus(pdb: PodDisruptionBudget, fields: Omit<PdbStatus, 'conditions' | 'observedGeneration'>, now: number): Promise<void> {
    const old = pdb.status;
    const generation = pdb.metadata.generation ?? 0;
    const status: PdbStatus = { ...(old ?? {}), ...fields, observedGeneration: generation };
    if (!Object.keys(fields.disruptedPods ?? {}).length) delete status.disruptedPods;
    status.conditions = withDisruptionAllowedCondition({ ...pdb, status }, rfc3339(now));
    if (old && JSON.stringify(old) === JSON.stringify(status)) return;
    await this.pdbs.updateStatus({ ...pdb, apiVersion: PODDISRUPTIONBUDGETS.apiVersion, kind: PODDISRUPTIONBUDGETS.kind, status });
  }

  /** On a failed sync no disruption is allowed (kube's failSafe): DisruptionAllowed False, reason SyncFailed. */
  private async failSafe(pdb: PodDisruptionBudget, message: string): Promise<void> {
    const st: PdbStatus = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, ...(pdb.status ?? {}) };
    const status: PdbStatus = { ...st, disruptionsAllowed: 0, observedGeneration: pdb.metadata.generation ?? 0 };
    status.conditions = setStatusCondition(st.conditions, { type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message, observedGeneration: status.observedGeneration ?? 0 }, rfc3339(this.clock.now()));
    await this.pdbs.updateStatus({ ...pdb, apiVersion: PODDISRUPTIONBUDGETS.apiVersion, kind: PODDISRUPTIONBUDGETS.kind, status });
  }
}
