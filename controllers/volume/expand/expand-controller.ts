// Claim expansion (kube-controller-manager's persistentvolume-expander with external-resizer's steps, for the drivers
// ketch runs): a bound claim whose storage request grew past its volume gets ControllerExpandVolume from the driver
// that provisioned the volume, then the volume's new capacity; the claim shows it at once, or, when the driver needs
// the node to grow the file system, after the node has done so (FileSystemResizePending until then, as in Kubernetes).
// status.allocatedResources records the size being worked towards, allocatedResourceStatuses the step.
import {
  ANN_DYNAMICALLY_PROVISIONED, bytes, CLAIM_CONTROLLER_RESIZE_ERROR, CLAIM_FILESYSTEM_RESIZE_PENDING, CLAIM_RESIZING, claimClass, claimRequest,
  compareQuantities, finishResize, formatBytes, nowRFC3339, volumeCapacity, type PersistentVolume, type PersistentVolumeClaim, type PersistentVolumeClaimCondition,
  type PersistentVolumeClaimStatus, type StorageClass,
} from '../../../api/index.js';
import { objectReference, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES, type EventRecorder, type EventType, type Informer, type ResourceClient } from '../../../client/index.js';
import { Controller, type ControllerContext, type SyncContext } from '../../framework/controller.js';
import { DriverRegistry, type ControllerService } from '../csi/controller-service.js';
import { LocalPathControllerService } from '../local-path/controller-service.js';

export interface ExpandControllerOptions {
  drivers?: DriverRegistry;
}

const FS_PENDING_MESSAGE = 'Waiting for user to (re-)start a pod to finish file system resize of volume on node.';

/** The claim's conditions with `type` set (or removed, with status undefined). */
function withCondition(conds: readonly PersistentVolumeClaimCondition[] | undefined, type: string, now: string, message?: string, set = true): PersistentVolumeClaimCondition[] {
  const rest = (conds ?? []).filter((c) => c.type !== type);
  return set ? [...rest, { type, status: 'True', lastTransitionTime: now, ...(message ? { message } : {}) }] : rest;
}

export class ExpandController extends Controller {
  protected readonly informers;
  private readonly claims: Informer<PersistentVolumeClaim>;
  private readonly volumes: Informer<PersistentVolume>;
  private readonly classes: Informer<StorageClass>;
  private readonly pvcs: ResourceClient<PersistentVolumeClaim>;
  private readonly pvs: ResourceClient<PersistentVolume>;
  private readonly drivers: DriverRegistry;
  private readonly recorder: EventRecorder;

  constructor(ctx: ControllerContext, opts: ExpandControllerOptions = {}) {
    super({ name: 'persistentvolume-expander', clock: ctx.clock, workers: 1 });
    this.claims = ctx.informers.for<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.volumes = ctx.informers.for<PersistentVolume>(PERSISTENTVOLUMES);
    this.classes = ctx.informers.for<StorageClass>(STORAGECLASSES);
    this.informers = [this.claims, this.volumes, this.classes];
    this.pvcs = ctx.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.pvs = ctx.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    this.drivers = opts.drivers ?? new DriverRegistry([new LocalPathControllerService()]);
    this.recorder = ctx.recorder('volume_expand');
    const claim = (pvc: PersistentVolumeClaim): void => {
      if (pvc.status?.phase === 'Bound' && this.wantsMore(pvc)) this.enqueue(pvc);
    };
    this.claims.addEventHandler({ onAdd: claim, onUpdate: (_o, n) => claim(n) });
  }

  /** The request is above what the claim shows. */
  private wantsMore(pvc: PersistentVolumeClaim): boolean {
    const shown = pvc.status?.capacity?.storage;
    return shown !== undefined && compareQuantities(claimRequest(pvc), shown) > 0;
  }

  private event(obj: PersistentVolumeClaim, type: EventType, reason: string, message: string): void {
    void this.recorder.event(objectReference(obj, PERSISTENTVOLUMECLAIMS), type, reason, message);
  }

  private async status(pvc: PersistentVolumeClaim, change: (st: PersistentVolumeClaimStatus, now: string) => void): Promise<PersistentVolumeClaim> {
    const next = structuredClone(pvc);
    change((next.status ??= {}), nowRFC3339(new Date(this.clock.now())));
    return this.pvcs.updateStatus(next);
  }

  protected async sync(key: string, ctx: SyncContext): Promise<void> {
    let pvc = this.claims.indexer.get(key);
    if (!pvc || pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName || !this.wantsMore(pvc)) return;
    if (pvc.status.conditions?.some((c) => c.type === CLAIM_FILESYSTEM_RESIZE_PENDING)) return; // the node's turn
    const pv = this.volumes.indexer.get(pvc.spec.volumeName);
    if (!pv) return;
    const requested = claimRequest(pvc);
    if (compareQuantities(volumeCapacity(pv), requested) >= 0) {
      // The volume has grown already (a retry after the claim's update failed): show it.
      await this.finish(pvc, volumeCapacity(pv));
      return;
    }
    if (this.classes.indexer.get(claimClass(pvc))?.allowVolumeExpansion !== true) return; // admission refuses such growth
    const driver = this.driverOf(pv);
    if (!driver?.supportsExpansion) {
      this.event(pvc, 'Warning', 'ExternalExpanding', 'Ignoring the PVC: didn\'t find a plugin capable of expanding the volume; waiting for an external controller to process this PVC.');
      return;
    }
    pvc = await this.status(pvc, (st, now) => {
      st.allocatedResources = { ...(st.allocatedResources ?? {}), storage: requested };
      st.allocatedResourceStatuses = { ...(st.allocatedResourceStatuses ?? {}), storage: 'ControllerResizeInProgress' };
      st.conditions = withCondition(st.conditions, CLAIM_RESIZING, now);
    });
    this.event(pvc, 'Normal', 'Resizing', `External resizer is resizing volume ${pv.metadata.name ?? ''}`);
    await this.expand(pvc, pv, driver, requested, ctx);
  }

  private driverOf(pv: PersistentVolume): ControllerService | undefined {
    const name = pv.metadata.annotations?.[ANN_DYNAMICALLY_PROVISIONED] ?? pv.spec?.csi?.driver;
    return name ? this.drivers.get(name) : undefined;
  }

  private async expand(pvc: PersistentVolumeClaim, pv: PersistentVolume, driver: ControllerService, requested: string | number, ctx: SyncContext): Promise<void> {
    let res: { capacityBytes: number; nodeExpansionRequired: boolean };
    try {
      res = await driver.controllerExpandVolume({ volumeId: pv.spec?.csi?.volumeHandle ?? pv.metadata.name ?? '', capacityRange: { requiredBytes: bytes(requested) }, volume: pv });
    } catch (err) {
      const msg = `resize volume "${pv.metadata.name ?? ''}" by resizer "${driver.driverName}" failed: ${err instanceof Error ? err.message : String(err)}`;
      await this.status(pvc, (st, now) => {
        st.conditions = withCondition(withCondition(st.conditions, CLAIM_RESIZING, now, undefined, false), CLAIM_CONTROLLER_RESIZE_ERROR, now, msg);
      });
      this.event(pvc, 'Warning', 'VolumeResizeFailed', msg);
      throw new Error(msg);
    }
    const size = res.capacityBytes && res.capacityBytes !== bytes(requested) ? formatBytes(res.capacityBytes) : String(requested);
    const grown = structuredClone(pv);
    grown.spec = { ...(grown.spec ?? {}), capacity: { ...(grown.spec?.capacity ?? {}), storage: size } };
    await this.pvs.update(grown);
    if (res.nodeExpansionRequired) {
      await this.status(pvc, (st, now) => {
        st.allocatedResourceStatuses = { ...(st.allocatedResourceStatuses ?? {}), storage: 'NodeResizePending' };
        st.conditions = withCondition(withCondition(st.conditions, CLAIM_RESIZING, now, undefined, false), CLAIM_FILESYSTEM_RESIZE_PENDING, now, FS_PENDING_MESSAGE);
      });
      this.event(pvc, 'Normal', 'FileSystemResizeRequired', 'Require file system resize of volume on node');
      ctx.log.info('volume expanded, waiting for the node', { volume: pv.metadata.name, size });
      return;
    }
    await this.finish(pvc, size);
    ctx.log.info('volume expanded', { volume: pv.metadata.name, size });
  }

  /** The claim shows the new size; the resize conditions and step are cleared. */
  private async finish(pvc: PersistentVolumeClaim, size: string | number): Promise<void> {
    await this.status(pvc, (st) => finishResize(st, size, [CLAIM_RESIZING, CLAIM_CONTROLLER_RESIZE_ERROR]));
    this.event(pvc, 'Normal', 'VolumeResizeSuccessful', 'Resize volume succeeded');
  }
}
