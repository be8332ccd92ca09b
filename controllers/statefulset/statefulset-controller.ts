// The StatefulSet controller (pkg/controller/statefulset/stateful_set.go): watches sets and pods, claims the pods
// named after a set and its revisions, and runs one StatefulSetControl pass per key.
import { isConflict, isNotFound } from '../../api/errors.js';
import { isEmptySelector, matchesLabelSelector } from '../../api/selectors.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import type { Logger } from '../../lib/logger.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { ownedEventHandlers } from '../framework/owned-events.js';
import { claimObjects, indexByController, ownedAndOrphans } from '../framework/owners.js';
import { isPodReady } from '../framework/pods.js';
import { CONTROLLERREVISIONS, PODS, STATEFULSETS, type ControllerRevision, type OwnerReference, type Pod, type StatefulSet, type StatefulSetStatus } from '../framework/types.js';
import { RevisionHistory } from '../history/revisions.js';
import { claimStoreFor, type ClaimStore } from './claims.js';
import { StatefulSetControl } from './control.js';
import { StatefulPodControl } from './pod-control.js';
import { isMemberOf, replicasOf } from './utils.js';

export interface StatefulSetControllerOptions {
  workers?: number;
  /** Where claims come from (default: the API, when it serves PersistentVolumeClaims). */
  claims?: ClaimStore;
}

export class StatefulSetController extends Controller {
  private readonly setInformer: Informer<StatefulSet>;
  private readonly podInformer: Informer<Pod>;
  private readonly history: RevisionHistory;
  private readonly sets: ResourceClient<StatefulSet>;
  private readonly pods: ResourceClient<Pod>;
  private readonly control: StatefulSetControl;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: StatefulSetControllerOptions = {}) {
    super({ name: 'statefulset-controller', clock: ctx.clock, workers: opts.workers ?? 5 });
    this.setInformer = ctx.informers.for<StatefulSet>(STATEFULSETS);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    const revisions = ctx.informers.for<ControllerRevision>(CONTROLLERREVISIONS);
    this.history = new RevisionHistory(revisions, ctx.rest.resource<ControllerRevision>(CONTROLLERREVISIONS));
    const claims = opts.claims ?? claimStoreFor(ctx.informers, ctx.rest);
    indexByController(this.podInformer);
    this.informers = [this.setInformer, this.podInformer, revisions, ...claims.informers];
    this.sets = ctx.rest.resource<StatefulSet>(STATEFULSETS);
    this.pods = ctx.rest.resource<Pod>(PODS);
    const podControl = new StatefulPodControl(this.pods, this.podInformer, claims, ctx.recorder(this.name));
    this.control = new StatefulSetControl(podControl, this.history, (set, status) => this.writeStatus(set, status), ctx.clock);

    this.setInformer.addEventHandler({
      onAdd: (set) => this.enqueue(set),
      onUpdate: (_old, set) => this.enqueue(set),
      onDelete: (set) => this.enqueue(set),
    });
    this.podInformer.addEventHandler(
      ownedEventHandlers<StatefulSet, Pod>({
        resolve: (ns, ref) => this.resolve(ns, ref),
        matching: (pod) => this.setsForPod(pod),
        enqueue: (set) => this.enqueue(set),
        updated: (set, old, cur) => {
          const minReady = set.spec.minReadySeconds ?? 0;
          if (minReady > 0 && !isPodReady(old) && isPodReady(cur)) this.enqueueAfter(set, minReady * 1000 + 1000);
        },
      }),
    );
  }

  private resolve(namespace: string | undefined, ref: OwnerReference): StatefulSet | undefined {
    if (ref.kind !== STATEFULSETS.kind) return undefined;
    const set = this.setInformer.indexer.get(`${namespace}/${ref.name}`);
    return set?.metadata.uid === ref.uid ? set : undefined;
  }

  /** getStatefulSetsForPod: sets with a non-empty selector matching the pod's labels. */
  private setsForPod(pod: Pod): StatefulSet[] {
    return this.setInformer.indexer
      .byIndex('namespace', pod.metadata.namespace ?? '')
      .filter((set) => !isEmptySelector(set.spec.selector) && matchesLabelSelector(set.spec.selector, pod.metadata.labels));
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const set = this.setInformer.indexer.get(key);
    if (!set) return;
    const revisions = await this.history.claim(set, STATEFULSETS, set.spec.selector, () => this.canAdopt(set), log);
    const pods = await this.claimPods(set, log);
    const status = await this.control.sync(set, pods, revisions, log);
    // Pods become available minReadySeconds after they are ready: look again then.
    const minReady = set.spec.minReadySeconds ?? 0;
    if (minReady > 0 && (status.availableReplicas ?? 0) !== replicasOf(set)) return { requeueAfterMs: minReady * 1000 };
  }

  /** getPodsForStatefulSet: the pods matching the selector and named after the set are its own (adopted if orphans). */
  private claimPods(set: StatefulSet, log: Logger): Promise<Pod[]> {
    return claimObjects({
      owner: set,
      gvk: STATEFULSETS,
      selector: set.spec.selector,
      candidates: ownedAndOrphans(this.podInformer, set, set.spec.selector),
      client: this.pods,
      canAdopt: () => this.canAdopt(set),
      filter: (pod) => isMemberOf(set, pod),
      log,
    });
  }

  private async canAdopt(set: StatefulSet): Promise<void> {
    const fresh = await this.sets.get(set.metadata.namespace, set.metadata.name ?? '');
    if (fresh.metadata.uid !== set.metadata.uid) throw new Error(`original StatefulSet ${keyOf(set)} is gone: got uid ${fresh.metadata.uid}, wanted ${set.metadata.uid}`);
    if (fresh.metadata.deletionTimestamp) throw new Error(`StatefulSet ${keyOf(set)} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }

  /** UpdateStatefulSetStatus: writes status, rereading the set on a conflict. */
  private async writeStatus(set: StatefulSet, status: StatefulSetStatus): Promise<void> {
    let current = set;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sets.updateStatus({ ...current, apiVersion: STATEFULSETS.apiVersion, kind: STATEFULSETS.kind, status });
        return;
      } catch (err) {
        if (isNotFound(err)) return; // deleted meanwhile: nothing to report on
        if (!isConflict(err) || attempt >= 4) throw err;
        current = await this.sets.get(set.metadata.namespace, set.metadata.name ?? '');
      }
    }
  }
}
