// PVC protection (pkg/controller/volume/pvcprotection): a claim keeps the kubernetes.io/pvc-protection finalizer while
// a scheduled pod uses it, so `kubectl delete pvc` of a claim in use leaves it Terminating until the pod is gone. A pod
// counts once it has a node (the agent will not start a pod on a claim being deleted, the scheduler will not place
// one), whatever its phase, until it is gone or force-deleted. Claims without the finalizer get it.
import { isNotFound, podClaimNames, PVC_PROTECTION_FINALIZER, type PersistentVolumeClaim, type Pod } from '../../../api/index.js';
import { PERSISTENTVOLUMECLAIMS, PODS, type Informer, type ResourceClient } from '../../../client/index.js';
import { Controller, ensureIndex, type ControllerContext, type SyncContext } from '../../framework/controller.js';
import { removeFinalizer, addFinalizer } from './finalizers.js';

const BY_CLAIM = 'claims';

/** A pod force-deleted, or deleted by its agent after its volumes were unmounted, is waiting for removal only. */
const podIsShutDown = (pod: Pod): boolean => !!pod.metadata.deletionTimestamp && pod.metadata.deletionGracePeriodSeconds === 0;

/** The claim names a pod holds on to (ephemeral claims only when the claim is the pod's own). */
export function podUsesClaim(pod: Pod, pvc: PersistentVolumeClaim): boolean {
  if (!pod.spec.nodeName || podIsShutDown(pod)) return false;
  const name = pvc.metadata?.name ?? '';
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim?.claimName === name) return true;
    if (v.ephemeral && `${pod.metadata.name ?? ''}-${v.name}` === name) {
      return (pvc.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === pod.metadata.uid);
    }
  }
  return false;
}

export class PvcProtectionController extends Controller {
  protected readonly informers;
  private readonly claims: Informer<PersistentVolumeClaim>;
  private readonly pods: Informer<Pod>;
  private readonly pvcClient: ResourceClient<PersistentVolumeClaim>;
  private readonly podClient: ResourceClient<Pod>;

  constructor(ctx: ControllerContext) {
    super({ name: 'pvc-protection', clock: ctx.clock, workers: 1 });
    this.claims = ctx.informers.for<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.pods = ctx.informers.for<Pod>(PODS);
    this.informers = [this.claims, this.pods];
    this.pvcClient = ctx.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.podClient = ctx.rest.resource<Pod>(PODS);
    // A pod's volumes never change (its spec is immutable there): the same list, or none, on both sides of an update.
    ensureIndex(this.pods, BY_CLAIM, (p) => podClaimNames(p).map((c) => `${p.metadata.namespace ?? ''}/${c}`), (a, b) => a.spec.volumes === b.spec.volumes);
    const claim = (pvc: PersistentVolumeClaim): void => {
      const deleting = !!pvc.metadata?.deletionTimestamp;
      const hasIt = (pvc.metadata?.finalizers ?? []).includes(PVC_PROTECTION_FINALIZER);
      if (deleting === hasIt) this.enqueue(pvc); // deleting with it: maybe remove; alive without it: add
    };
    this.claims.addEventHandler({ onAdd: claim, onUpdate: (_o, n) => claim(n) });
    // A pod that goes away (or shuts down) may free its claims.
    const pod = (p: Pod): void => {
      for (const c of podClaimNames(p)) this.queue.add(`${p.metadata.namespace ?? ''}/${c}`);
    };
    this.pods.addEventHandler({ onUpdate: (_o, n) => pod(n), onDelete: pod });
  }

  protected async sync(key: string, ctx: SyncContext): Promise<void> {
    const pvc = this.claims.indexer.get(key);
    if (!pvc) return;
    const finalizers = pvc.metadata?.finalizers ?? [];
    if (!pvc.metadata?.deletionTimestamp) {
      if (!finalizers.includes(PVC_PROTECTION_FINALIZER)) await addFinalizer(this.pvcClient, pvc, PVC_PROTECTION_FINALIZER);
      return;
    }
    if (!finalizers.includes(PVC_PROTECTION_FINALIZER)) return;
    if (await this.inUse(pvc, key)) {
      ctx.log.debug('claim in use, keeping it');
      return;
    }
    await removeFinalizer(this.pvcClient, pvc, PVC_PROTECTION_FINALIZER);
    ctx.log.info('removed the protection finalizer: no pod uses the claim');
  }

  /** The cache first; when it says unused, the API server (a pod created a moment ago may not be cached yet). */
  private async inUse(pvc: PersistentVolumeClaim, key: string): Promise<boolean> {
    if (this.pods.indexer.byIndex(BY_CLAIM, key).some((p) => podUsesClaim(p, pvc))) return true;
    try {
      const live = await this.podClient.list(pvc.metadata?.namespace);
      return live.items.some((p) => podUsesClaim(p, pvc));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}
