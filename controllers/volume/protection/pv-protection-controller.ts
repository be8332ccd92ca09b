// PV protection (pkg/controller/volume/pvprotection): a volume keeps the kubernetes.io/pv-protection finalizer while it
// is Bound to a claim, so deleting a volume in use waits until its claim has let go of it. Volumes without the
// finalizer get it.
import { PV_PROTECTION_FINALIZER, type PersistentVolume } from '../../../api/index.js';
import { PERSISTENTVOLUMES, type Informer, type ResourceClient } from '../../../client/index.js';
import { Controller, type ControllerContext, type SyncContext } from '../../framework/controller.js';
import { addFinalizer, removeFinalizer } from './finalizers.js';

export class PvProtectionController extends Controller {
  protected readonly informers;
  private readonly volumes: Informer<PersistentVolume>;
  private readonly client: ResourceClient<PersistentVolume>;

  constructor(ctx: ControllerContext) {
    super({ name: 'pv-protection', clock: ctx.clock, workers: 1 });
    this.volumes = ctx.informers.for<PersistentVolume>(PERSISTENTVOLUMES);
    this.informers = [this.volumes];
    this.client = ctx.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    const volume = (pv: PersistentVolume): void => {
      const deleting = !!pv.metadata.deletionTimestamp;
      const hasIt = (pv.metadata.finalizers ?? []).includes(PV_PROTECTION_FINALIZER);
      if (deleting === hasIt) this.enqueue(pv);
    };
    this.volumes.addEventHandler({ onAdd: volume, onUpdate: (_o, n) => volume(n) });
  }

  protected async sync(key: string, ctx: SyncContext): Promise<void> {
    const pv = this.volumes.indexer.get(key);
    if (!pv) return;
    const has = (pv.metadata.finalizers ?? []).includes(PV_PROTECTION_FINALIZER);
    if (!pv.metadata.deletionTimestamp) {
      if (!has) await addFinalizer(this.client, pv, PV_PROTECTION_FINALIZER);
      return;
    }
    if (!has || pv.status?.phase === 'Bound') return; // in use: the phase change brings it back here
    await removeFinalizer(this.client, pv, PV_PROTECTION_FINALIZER);
    ctx.log.info('removed the protection finalizer: the volume is not bound');
  }
}
