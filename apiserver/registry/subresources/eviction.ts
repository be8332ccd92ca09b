// pods/eviction (kube's EvictionREST): an Eviction deletes the pod with its deleteOptions, unless that would break
// the pod's PodDisruptionBudget: then 429 "Cannot evict pod as it would violate the pod's disruption budget." and the
// client retries (kubectl drain does, every 5 s). An allowed eviction takes one from the budget's
// status.disruptionsAllowed and records the pod in status.disruptedPods (an update with the budget's
// resourceVersion, retried on conflict), so that the disruption controller does not count it healthy meanwhile.
// The pod gets the DisruptionTarget condition before it is deleted.
import { ApiError, errors, isConflict } from '../../../api/errors.js';
import { findByKind } from '../../../api/resources.js';
import { isPodReady, matchesLabelSelector, isEmptySelector, withDisruptionAllowedCondition, type Pod, type PodCondition, type PodDisruptionBudget } from '../../../api/index.js';
import { isObject, rfc3339, type Obj } from '../object.js';
import type { Clock, DeleteParams, ParentStore, PeerStore, SubresourceFactory } from '../rest.js';

const PDB_INFO = findByKind('policy/v1', 'PodDisruptionBudget')!;
/** kube's EvictionsRetry: 20 tries on conflicts. */
const RETRIES = 20;
/** The most evictions a budget records before its controller confirms them (kube's MaxDisruptedPodSize). */
const MAX_DISRUPTED_PODS = 2000;
const VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget.";

/** 429 with the DisruptionBudget cause; retryAfterSeconds as kube gives it (none when 0). */
function tooManyRequests(cause: string, retryAfterSeconds: number): ApiError {
  return new ApiError(429, 'TooManyRequests', VIOLATION, { ...(retryAfterSeconds ? { retryAfterSeconds } : {}), causes: [{ reason: 'DisruptionBudget', message: cause, field: '' }] });
}

const stillProcessing = (name: string): ApiError => tooManyRequests(`The disruption budget ${name} is still being processed by the server.`, 10);

const pdbForbidden = (name: string, why: string): ApiError => errors.forbidden(`poddisruptionbudget.policy "${name}" is forbidden: ${why}`);

/** A terminal, pending or deleting pod is no longer available: it may go whatever its budget says (canIgnorePDB). */
function canIgnoreBudget(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || !!pod.metadata.deletionTimestamp;
}

/** The pod's conditions with DisruptionTarget True (kube's podutil.UpdatePodCondition keeps the transition time). */
function withDisruptionTarget(pod: Pod, now: string): PodCondition[] {
  const conds = pod.status?.conditions ?? [];
  const old = conds.find((c) => c.type === 'DisruptionTarget');
  const cond: PodCondition = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting', lastTransitionTime: old?.status === 'True' && old.lastTransitionTime ? old.lastTransitionTime : now };
  return [...conds.filter((c) => c.type !== 'DisruptionTarget'), cond];
}

class Eviction {
  constructor(
    private readonly pods: ParentStore,
    private readonly budgets: PeerStore,
    private readonly clock: Clock,
    private readonly namespace: string,
    private readonly name: string,
    /** The request's delete options (dryRun included). */
    private readonly options: DeleteParams,
  ) {}

  private now(): string {
    return rfc3339(this.clock.now());
  }

  async run(): Promise<void> {
    const pod = await this.podOrDeleteAtOnce();
    if (!pod) return;
    const budgets = await this.budgetsOf(pod);
    if (budgets.length > 1) throw new ApiError(500, '', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    const pdb = budgets[0];
    // An unready pod does not count as healthy: it may go without using up the budget when the budget allows it.
    let guardReadiness = false;
    if (pdb && !isPodReady(pod)) {
      const st = pdb.status;
      guardReadiness = pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow' || ((st?.currentHealthy ?? 0) >= (st?.desiredHealthy ?? 0) && (st?.desiredHealthy ?? 0) > 0);
    }
    if (pdb && !guardReadiness) await this.decrement(pdb, pod);
    // The pod must still be unready when it is deleted: its resourceVersion is the precondition.
    const options = guardReadiness ? { ...this.options, preconditions: { ...(this.options.preconditions ?? {}), resourceVersion: String(pod.metadata.resourceVersion ?? '') } } : this.options;
    try {
      await this.deletePod(options);
    } catch (err) {
      if (isConflict(err) && guardReadiness && !this.options.preconditions?.resourceVersion) throw stillProcessing(pdb?.metadata.name ?? '');
      throw err;
    }
  }

  /** The pod to check against its budget; undefined when it was deleted at once (nothing left to guard). */
  private async podOrDeleteAtOnce(): Promise<Pod | undefined> {
    const retry = !this.options.preconditions?.resourceVersion;
    for (let i = 0; ; i++) {
      const pod = (await this.pods.get(this.namespace, this.name)) as unknown as Pod;
      if (!canIgnoreBudget(pod)) return pod;
      const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' || !!pod.metadata.deletionTimestamp;
      // A pending pod must not have become ready meanwhile: its resourceVersion guards the delete.
      const options = !terminal && retry ? { ...this.options, preconditions: { ...(this.options.preconditions ?? {}), resourceVersion: String(pod.metadata.resourceVersion ?? '') } } : this.options;
      try {
        await this.deletePod(options);
        return undefined;
      } catch (err) {
        if (!retry || !isConflict(err) || i >= RETRIES) throw err;
      }
    }
  }

  /** The budgets whose selector matches the pod (an empty selector matches nothing here, as in kube's eviction). */
  private async budgetsOf(pod: Pod): Promise<PodDisruptionBudget[]> {
    const { items } = await this.budgets.list(this.namespace);
    return (items as unknown as PodDisruptionBudget[]).filter((b) => {
      const sel = b.spec?.selector;
      return sel && !isEmptySelector(sel) && matchesLabelSelector(sel, pod.metadata.labels ?? {});
    });
  }

  /** Takes one disruption from the budget (kube's checkAndDecrement), retrying on conflicts with a fresh read. */
  private async decrement(first: PodDisruptionBudget, pod: Pod): Promise<void> {
    let pdb = first;
    for (let i = 0; ; i++) {
      try {
        return await this.checkAndDecrement(pdb, pod);
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (i >= RETRIES) throw errors.timeout(`couldn't update PodDisruptionBudget "${pdb.metadata.name ?? ''}" due to conflicts`);
        pdb = (await this.budgets.get(this.namespace, pdb.metadata.name ?? '')) as unknown as PodDisruptionBudget;
      }
    }
  }

  private async checkAndDecrement(pdb: PodDisruptionBudget, pod: Pod): Promise<void> {
    const name = pdb.metadata.name ?? '';
    const st = pdb.status ?? { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
    if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw stillProcessing(name);
    if (st.disruptionsAllowed < 0) throw pdbForbidden(name, 'pdb disruptions allowed is negative');
    if (Object.keys(st.disruptedPods ?? {}).length > MAX_DISRUPTED_PODS) throw pdbForbidden(name, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller');
    if (st.disruptionsAllowed === 0) throw tooManyRequests(`The disruption budget ${name} needs ${st.desiredHealthy} healthy pods and has ${st.currentHealthy} currently`, 0);
    if (this.options.dryRun) return;
    const now = this.now();
    const next: PodDisruptionBudget = { ...pdb, status: { ...st, disruptionsAllowed: st.disruptionsAllowed - 1, disruptedPods: { ...(st.disruptedPods ?? {}), [pod.metadata.name ?? '']: now } } };
    if (next.status!.disruptionsAllowed === 0) next.status!.conditions = withDisruptionAllowedCondition(next, now);
    // The budget as read is the precondition: a concurrent eviction makes this a conflict, and a fresh try.
    await this.budgets.update(this.namespace, name, () => next as unknown as Obj, { subresource: 'status' });
  }

  /** DisruptionTarget on the pod, then the delete (kube's addConditionAndDeletePod); preconditions hold for both. */
  private async deletePod(options: DeleteParams): Promise<void> {
    let deleteOptions = options;
    if (!options.dryRun) {
      const pre = options.preconditions ?? {};
      const { obj } = await this.pods.update(
        this.namespace,
        this.name,
        (cur) => {
          if (!cur) throw errors.notFound({ group: '', resource: 'pods', name: this.name });
          if (pre.uid && pre.uid !== cur.metadata.uid) throw errors.conflict({ group: '', resource: 'pods', name: this.name }, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid ?? ''}`);
          if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
            throw errors.conflict({ group: '', resource: 'pods', name: this.name }, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion ?? ''}`);
          }
          const pod = cur as unknown as Pod;
          return { ...cur, status: { ...(pod.status ?? {}), conditions: withDisruptionTarget(pod, this.now()) } };
        },
        { subresource: 'status' },
      );
      // Our own write moved the resourceVersion on: the delete's precondition follows it.
      if (pre.resourceVersion) deleteOptions = { ...options, preconditions: { ...pre, resourceVersion: String(obj.metadata.resourceVersion ?? '') } };
    }
    await this.pods.delete(this.namespace, this.name, deleteOptions);
  }
}

export const evictionStorage: SubresourceFactory = (parent, deps) => ({
  // kubectl drain sends its Evictions as protobuf.
  bodies: 'any',
  async create(namespace, name, eviction, opts) {
    const body = isObject(eviction) ? eviction : {};
    const meta = isObject(body.metadata) ? body.metadata : {};
    if (meta.name !== name) throw errors.badRequest('name in URL does not match name in Eviction object');
    // Admitted as a pods/eviction create (NodeRestriction lets a node evict only its own pods), then run against the budget.
    await parent.admit({ operation: 'create', subresource: 'eviction', namespace, name, obj: body as Obj, scope: opts.scope, dryRun: opts.dryRun });
    const options = opts.deleteOptions(isObject(body.deleteOptions) ? body.deleteOptions : {});
    await new Eviction(parent, deps.peer(PDB_INFO), deps.clock, namespace, name, { ...options, scope: opts.scope, dryRun: opts.dryRun || !!options.dryRun }).run();
  },
});
