// Reclaiming a released volume (reclaimVolume, deleteVolumeOperation): Retain keeps it (Released, for an administrator
// to look at), Delete gives it back through the driver that provisioned it and deletes the PV object; a volume of an
// external provisioner is that provisioner's to delete; Recycle and volumes nobody can delete end Failed with an event.
import { ANN_DYNAMICALLY_PROVISIONED, isNotFound, type PersistentVolume, type PersistentVolumeClaim } from '../../../api/index.js';
import type { ResourceClient } from '../../../client/index.js';
import type { Logger } from '../../../lib/logger.js';
import type { DriverRegistry } from '../csi/controller-service.js';
import type { BinderWrites } from './writes.js';

export interface ReclaimDeps {
  writes: BinderWrites;
  drivers: DriverRegistry;
  pvs: ResourceClient<PersistentVolume>;
  /** The claim by namespace/name, as the cache has it. */
  claim(key: string): PersistentVolumeClaim | undefined;
  log: Logger;
}

export class Reclaimer {
  constructor(private readonly d: ReclaimDeps) {}

  async reclaim(pv: PersistentVolume): Promise<void> {
    const w = this.d.writes;
    switch (pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain') {
      case 'Retain':
        return; // the volume stays Released: its data is kept for an administrator
      case 'Recycle':
        await w.volumePhaseWithEvent(pv, 'Failed', 'Warning', 'VolumeFailedRecycle', 'Recycle is not supported: delete the volume and create it again, or use Delete or Retain');
        return;
      case 'Delete':
        await this.delete(pv);
        return;
      default:
        await w.volumePhaseWithEvent(pv, 'Failed', 'Warning', 'VolumeUnknownReclaimPolicy', 'Volume has unrecognized PersistentVolumeReclaimPolicy');
    }
  }

  /** The claim the volume was bound to is gone (or bound elsewhere), read fresh: nothing may be deleted on a stale view. */
  private released(pv: PersistentVolume): boolean {
    const ref = pv.spec?.claimRef;
    if (!ref?.uid) return false;
    const claim = this.d.claim(`${ref.namespace ?? ''}/${ref.name ?? ''}`);
    if (claim && claim.metadata?.uid === ref.uid) return !!claim.spec?.volumeName && claim.spec.volumeName !== pv.metadata.name;
    return true;
  }

  private async delete(cached: PersistentVolume): Promise<void> {
    let pv: PersistentVolume;
    try {
      pv = await this.d.pvs.get(undefined, cached.metadata.name ?? '');
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (pv.metadata.deletionTimestamp || !this.released(pv)) return;
    const w = this.d.writes;
    const provisioner = pv.metadata.annotations?.[ANN_DYNAMICALLY_PROVISIONED];
    const driver = provisioner ? this.d.drivers.get(provisioner) : undefined;
    if (provisioner && !driver) return; // an external provisioner deletes what it made
    if (!driver) {
      await w.volumePhaseWithEvent(pv, 'Failed', 'Warning', 'VolumeFailedDelete', `error getting deleter volume plugin for volume "${pv.metadata.name ?? ''}": no deletable volume plugin matched`);
      return;
    }
    try {
      await driver.deleteVolume({ volumeId: pv.spec?.csi?.volumeHandle ?? pv.metadata.name ?? '', volume: pv });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      await w.volumePhaseWithEvent(pv, 'Failed', 'Warning', 'VolumeFailedDelete', msg);
      throw err;
    }
    await w.deleteVolumeObject(pv);
    this.d.log.info('volume deleted', { volume: pv.metadata.name, driver: driver.driverName });
  }
}
