// The PersistentVolume binder (kube-controller-manager's persistentvolume-binder, pkg/controller/volume/
// persistentvolume/pv_controller.go, rewritten): binds claims to volumes and keeps both sides' phases right.
//
// The binding is a pair of pointers, written in order: volume.spec.claimRef (with the claim's uid), the volume's phase
// Bound, claim.spec.volumeName (+ the bind-completed annotation), the claim's phase Bound. Any step may fail or race
// with users and other writers; every sync starts from what the objects say and finishes what is missing, so a crash
// between steps is healed by the next sync. Several workers (never two on one key): finishing a binding whose volume
// already names the claim by uid (a provisioned volume, or one the scheduler chose) races with no other claim and runs
// at once, while choosing a volume from the pool is one claim at a time (kube's single claim worker: two claims must
// not pick one volume), so a busy API server's round trips do not queue every claim behind one worker.
// Provisioning and deleting volumes are slow driver calls and run beside the workers (kube's scheduleOperation and
// external-provisioner's workers): one operation per claim or volume at a time, at most OPERATIONS at once; their
// results come back as informer events, a failure as a rate-limited retry of the key.
//
// - A claim without a volume gets the best Available volume (class, access modes, smallest capacity that fits,
//   selector; one pre-bound to it first), or is provisioned (provisioning.ts) when its class names a provisioner; a
//   WaitForFirstConsumer claim waits until the scheduler has chosen a node (volume.kubernetes.io/selected-node).
// - A volume whose claim is gone becomes Released and is reclaimed (reclaim.ts): Retain keeps it, Delete deletes it.
// - A claim whose volume is gone becomes Lost.
import {
  ANN_BETA_STORAGE_CLASS, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, claimClass, defaultClass, findBestMatchForClaim, isDelayBinding,
  isNotFound, isVolumeBoundToClaim, selectedNode, volumeClass, volumeModeMismatch, volumeUnfitReason, ANN_DYNAMICALLY_PROVISIONED,
  type Node, type PersistentVolume, type PersistentVolumeClaim, type StorageClass,
} from '../../../api/index.js';
import { NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES, type Informer, type ResourceClient } from '../../../client/index.js';
import { Limiter } from '../../../lib/limit.js';
import { Controller, ensureIndex, type ControllerContext, type SyncContext, type SyncResult } from '../../framework/controller.js';
import { DriverRegistry } from '../csi/controller-service.js';
import { LocalPathControllerService } from '../local-path/controller-service.js';
import { NewestCache } from './newest-cache.js';
import { Provisioner } from './provisioning.js';
import { Reclaimer } from './reclaim.js';
import { BinderWrites, claimKey } from './writes.js';

/** kube-controller-manager's --pvclaimbinder-sync-period. */
export const DEFAULT_RESYNC_MS = 15_000;
const RESYNC = 'resync';
const CLAIM = 'claim:';
const VOLUME = 'volume:';
/** Provision and delete operations run at once (external-provisioner's --worker-threads is 100; the built-in driver only records the volume: the node makes the directory). */
const OPERATIONS = 64;
/** Syncs at once (each is mostly API round trips). */
export const DEFAULT_WORKERS = 16;
/** Volumes by the claim their claimRef names (`namespace/name`). */
const BY_CLAIM = 'pv-claimRef';

export interface PersistentVolumeControllerOptions {
  /** The drivers run in this process (default: the built-in local-path driver). */
  drivers?: DriverRegistry;
  resyncPeriodMs?: number;
  workers?: number;
}

/**
 * A volume no sync has looked at yet (phase Pending, no claimRef) is as good as Available to a claim searching the pool:
 * its own sync, which may run beside the claim's, is about to say so (and a write racing with it gets a conflict).
 */
function asAvailableWhenNew(pv: PersistentVolume): PersistentVolume {
  if (pv.spec?.claimRef || (pv.status?.phase ?? 'Pending') !== 'Pending') return pv;
  return { ...pv, status: { ...pv.status, phase: 'Available' } };
}

const has = (o: { metadata?: { annotations?: Record<string, string> } }, ann: string): boolean => o.metadata?.annotations?.[ann] !== undefined;

export class PersistentVolumeController extends Controller {
  protected readonly informers;
  private readonly volumes: NewestCache<PersistentVolume>;
  private readonly claims: NewestCache<PersistentVolumeClaim>;
  private readonly classes: Informer<StorageClass>;
  private readonly nodes: Informer<Node>;
  private readonly pvs: ResourceClient<PersistentVolume>;
  private readonly pvcs: ResourceClient<PersistentVolumeClaim>;
  private readonly writes: BinderWrites;
  private readonly provisioner: Provisioner;
  private readonly reclaimer: Reclaimer;
  private readonly drivers: DriverRegistry;
  private readonly resyncMs: number;
  /** Volumes this controller created that the informer has not brought back yet. */
  private readonly created = new Set<string>();
  /** Provision/delete operations under way, by the key they report to. */
  private readonly operations = new Set<string>();
  private readonly operationSlots = new Limiter(OPERATIONS);
  /** Held while a claim chooses a volume from the pool and binds it. */
  private readonly matching = new Limiter(1);
  private readonly pvInformer: Informer<PersistentVolume>;

  constructor(ctx: ControllerContext, opts: PersistentVolumeControllerOptions = {}) {
    super({ name: 'persistentvolume-binder', clock: ctx.clock, workers: opts.workers ?? DEFAULT_WORKERS });
    const pvInformer = ctx.informers.for<PersistentVolume>(PERSISTENTVOLUMES);
    this.pvInformer = pvInformer;
    ensureIndex(pvInformer, BY_CLAIM, (pv) => (pv.spec?.claimRef?.name ? [`${pv.spec.claimRef.namespace ?? ''}/${pv.spec.claimRef.name}`] : []));
    const pvcInformer = ctx.informers.for<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.classes = ctx.informers.for<StorageClass>(STORAGECLASSES);
    this.nodes = ctx.informers.for<Node>(NODES);
    this.informers = [pvInformer, pvcInformer, this.classes, this.nodes];
    this.volumes = new NewestCache(pvInformer);
    this.claims = new NewestCache(pvcInformer);
    this.pvs = ctx.rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    this.pvcs = ctx.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.drivers = opts.drivers ?? new DriverRegistry([new LocalPathControllerService()]);
    this.resyncMs = opts.resyncPeriodMs ?? DEFAULT_RESYNC_MS;
    this.writes = new BinderWrites({ pvs: this.pvs, pvcs: this.pvcs, volumes: this.volumes, claims: this.claims, recorder: ctx.recorder('persistentvolume-controller'), clock: ctx.clock });
    this.provisioner = new Provisioner({
      writes: this.writes,
      createVolumeObject: async (pv) => {
        const made = await this.pvs.create(undefined, pv);
        this.created.add(made.metadata.name ?? '');
        return made;
      },
      volumeExists: (name) => this.created.has(name) || this.volumes.get(name) !== undefined,
      node: (name) => this.nodes.indexer.get(name),
      log: this.log,
    });
    this.reclaimer = new Reclaimer({ writes: this.writes, drivers: this.drivers, pvs: this.pvs, claim: (k) => this.claims.get(k), log: this.log });
    this.wire(pvInformer, pvcInformer);
  }

  private wire(pvInformer: Informer<PersistentVolume>, pvcInformer: Informer<PersistentVolumeClaim>): void {
    const volume = (pv: PersistentVolume): void => {
      this.created.delete(pv.metadata.name ?? '');
      this.queue.add(VOLUME + (pv.metadata.name ?? ''));
    };
    pvInformer.addEventHandler({
      onAdd: volume,
      onUpdate: (_o, pv) => volume(pv),
      // The claim of a deleted volume is Lost.
      onDelete: (pv) => {
        const ref = pv.spec?.claimRef;
        if (ref?.name) this.queue.add(`${CLAIM}${ref.namespace ?? ''}/${ref.name}`);
      },
    });
    pvcInformer.addEventHandler({
      onAdd: (pvc) => this.queue.add(CLAIM + claimKey(pvc)),
      onUpdate: (_o, pvc) => this.queue.add(CLAIM + claimKey(pvc)),
      // The volume of a deleted claim is Released.
      onDelete: (pvc) => {
        if (pvc.spec?.volumeName) this.queue.add(VOLUME + pvc.spec.volumeName);
      },
    });
    // A new class (a default one, or the one a claim names) may let pending claims go on.
    this.classes.addEventHandler({ onAdd: () => this.enqueuePendingClaims(), onUpdate: () => this.enqueuePendingClaims() });
  }

  /** Claims not bound yet (of one class, when given). */
  private enqueuePendingClaims(cls?: string): void {
    for (const c of this.claims.list()) if (!has(c, ANN_BIND_COMPLETED) && (cls === undefined || claimClass(c) === cls)) this.queue.add(CLAIM + claimKey(c));
  }

  protected override started(): void {
    this.queue.add(RESYNC);
  }

  protected async sync(key: string, ctx: SyncContext): Promise<SyncResult | void> {
    if (key === RESYNC) {
      for (const c of this.claims.list()) this.queue.add(CLAIM + claimKey(c));
      for (const v of this.volumes.list()) this.queue.add(VOLUME + (v.metadata.name ?? ''));
      return { requeueAfterMs: this.resyncMs };
    }
    if (key.startsWith(CLAIM)) {
      const claim = this.claims.get(key.slice(CLAIM.length));
      if (!claim) return;
      if (has(claim, ANN_BIND_COMPLETED)) await this.syncBoundClaim(claim);
      else await this.syncUnboundClaim(claim, ctx);
      return;
    }
    const volume = this.volumes.get(key.slice(VOLUME.length));
    if (volume) await this.syncVolume(volume);
  }

  private classOf = (name: string): StorageClass | undefined => this.classes.indexer.get(name);

  // ---- claims ----

  private async syncUnboundClaim(claim: PersistentVolumeClaim, ctx: SyncContext): Promise<void> {
    const w = this.writes;
    const wanted = claim.spec?.volumeName;
    if (!wanted) {
      if (await this.assignDefaultClass(claim)) return;
      const delay = isDelayBinding(claim, this.classOf);
      if (await this.bindBestMatch(claim, delay, ctx)) return;
      if (delay && !selectedNode(claim)) {
        w.claimEvent(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      } else if (claimClass(claim)) {
        await this.provisionClaim(claim);
        return;
      } else {
        w.claimEvent(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      }
      await w.claimStatus(claim, 'Pending');
      return;
    }
    // The user asked for this volume.
    const volume = this.volumes.get(wanted);
    if (!volume) {
      await w.claimStatus(claim, 'Pending'); // it may be created later
      return;
    }
    if (!volume.spec?.claimRef) {
      const why = volumeUnfitReason(volume, claim);
      if (why) {
        w.claimEvent(claim, 'Warning', 'VolumeMismatch', `Cannot bind to requested volume "${wanted}": ${why}`);
        await w.claimStatus(claim, 'Pending');
        return;
      }
      await this.bind(volume, claim, ctx);
    } else if (isVolumeBoundToClaim(volume, claim)) {
      await this.bind(volume, claim, ctx);
    } else if (!has(claim, ANN_BOUND_BY_CONTROLLER)) {
      await w.claimStatus(claim, 'Pending'); // the user's volume is someone else's now; wait for it to be free
    } else {
      throw new Error(`invalid binding of claim "${claimKey(claim)}" to volume "${wanted}": volume already claimed by "${volume.spec.claimRef.namespace ?? ''}/${volume.spec.claimRef.name ?? ''}"`);
    }
  }

  /**
   * Binds the claim to its best match (findBestMatchForClaim), if there is one. A volume whose claimRef names the
   * claim is taken by no other claim, so it is bound at once; a WaitForFirstConsumer claim can have no other (the
   * scheduler's choice or a provisioned volume names it). Any other claim searches the pool, and binds from it, under
   * the matching lock.
   */
  private async bindBestMatch(claim: PersistentVolumeClaim, delay: boolean, ctx: SyncContext): Promise<boolean> {
    const key = claimKey(claim);
    const named = new Map<string, PersistentVolume>();
    for (const v of [...this.pvInformer.indexer.byIndex(BY_CLAIM, key), ...this.volumes.unseen()]) {
      const newest = this.volumes.get(v.metadata.name ?? '') ?? v;
      if (isVolumeBoundToClaim(newest, claim)) named.set(newest.metadata.name ?? '', newest);
    }
    const mine = named.size ? findBestMatchForClaim(claim, [...named.values()], delay) : undefined;
    if (mine) {
      await this.bind(mine, claim, ctx);
      return true;
    }
    if (delay) return false;
    return this.matching.run(async () => {
      const volume = findBestMatchForClaim(claim, this.volumes.list().map(asAvailableWhenNew), delay);
      if (!volume) return false;
      await this.bind(volume, claim, ctx);
      return true;
    });
  }

  /** Retroactive default class: a pending claim that names no class gets the default once there is one. */
  private async assignDefaultClass(claim: PersistentVolumeClaim): Promise<boolean> {
    if (claim.spec?.storageClassName !== undefined || has(claim, ANN_BETA_STORAGE_CLASS)) return false;
    const dflt = defaultClass(this.classes.indexer.list());
    if (!dflt?.metadata.name) return false;
    const next = structuredClone(claim);
    (next.spec ??= {}).storageClassName = dflt.metadata.name;
    await this.writes.updateClaim(next);
    this.log.info('default storage class assigned', { claim: claimKey(claim), storageClass: dflt.metadata.name });
    return true;
  }

  private async provisionClaim(claim: PersistentVolumeClaim): Promise<void> {
    if (claim.metadata?.deletionTimestamp) return; // a claim on its way out gets no new volume
    const name = claimClass(claim);
    const cls = this.classOf(name);
    if (!cls) {
      this.writes.claimEvent(claim, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${name}" not found`);
      await this.writes.claimStatus(claim, 'Pending');
      return;
    }
    const driver = this.drivers.get(cls.provisioner);
    if (!driver) this.provisioner.external(await this.provisioner.annotate(claim, cls.provisioner), cls.provisioner);
    // The annotation is written beside the workers too: it is one more round trip of this claim's alone.
    else this.operation(CLAIM + claimKey(claim), async () => this.provisioner.provision(await this.provisioner.annotate(claim, cls.provisioner), cls, driver));
  }

  /**
   * Runs a slow driver operation beside the worker, unless one for the same key is under way. Its result reaches the
   * controller through the informers (a new or deleted volume); a failure retries the key with back-off.
   */
  private operation(key: string, op: () => Promise<void>): void {
    if (this.operations.has(key)) return;
    this.operations.add(key);
    void this.operationSlots
      .run(op)
      .then(
        () => this.queue.forget(key),
        (err: unknown) => {
          this.log.info('volume operation failed, retrying', { key, error: err instanceof Error ? err.message : String(err) });
          this.queue.addRateLimited(key);
        },
      )
      .finally(() => this.operations.delete(key));
  }

  private async syncBoundClaim(claim: PersistentVolumeClaim): Promise<void> {
    const w = this.writes;
    const name = claim.spec?.volumeName;
    if (!name) {
      await w.claimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimLost', 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      return;
    }
    const volume = this.volumes.get(name);
    if (!volume) {
      await w.claimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      return;
    }
    if (!volume.spec?.claimRef || isVolumeBoundToClaim(volume, claim)) {
      // Bound, or the volume lost its half (a crash between the writes): binding again is a no-op or the repair.
      await this.bind(volume, claim);
      return;
    }
    await w.claimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
  }

  /** Both halves of the binding and both phases; each step writes only what is missing. */
  private async bind(volume: PersistentVolume, claim: PersistentVolumeClaim, ctx?: SyncContext): Promise<void> {
    const w = this.writes;
    let pv = volume;
    if (!isVolumeBoundToClaim(pv, claim) || !pv.spec?.claimRef?.uid) {
      const next = structuredClone(pv);
      const m = claim.metadata ?? {};
      if (!isVolumeBoundToClaim(pv, claim)) next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
      (next.spec ??= {}).claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) };
      pv = await w.updateVolume(next);
    }
    // The volume's phase and the claim's half go at once: both follow the volume's claimRef, and a sync that finds
    // either missing (one write failed) writes it again.
    const claimHalf = async (): Promise<PersistentVolumeClaim> => {
      if (claim.spec?.volumeName === pv.metadata.name && has(claim, ANN_BIND_COMPLETED)) return claim;
      const next = structuredClone(claim);
      const meta = (next.metadata ??= {});
      const ann: Record<string, string> = { ...(meta.annotations ?? {}), [ANN_BIND_COMPLETED]: 'yes' };
      if (next.spec?.volumeName !== pv.metadata.name) ann[ANN_BOUND_BY_CONTROLLER] = 'yes';
      meta.annotations = ann;
      (next.spec ??= {}).volumeName = pv.metadata.name ?? '';
      return w.updateClaim(next);
    };
    const [bound, pvc] = await Promise.all([w.volumePhase(pv, 'Bound'), claimHalf()]);
    pv = bound;
    const wasBound = claim.status?.phase === 'Bound';
    await w.claimStatus(pvc, 'Bound', pv);
    if (!wasBound) ctx?.log.info('claim bound', { claim: claimKey(claim), volume: pv.metadata.name });
  }

  // ---- volumes ----

  /** The claim a volume points at, double-checked with the API server when the cache does not have it. */
  private async claimOf(volume: PersistentVolume): Promise<PersistentVolumeClaim | undefined> {
    const ref = volume.spec?.claimRef;
    const key = `${ref?.namespace ?? ''}/${ref?.name ?? ''}`;
    let claim = this.claims.get(key);
    const phase = volume.status?.phase;
    if (!claim && phase !== 'Released' && phase !== 'Failed') {
      // Under load a claim the scheduler just bound may not be in the cache yet: never release on that.
      try {
        claim = await this.pvcs.get(ref?.namespace ?? '', ref?.name ?? '');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return claim && claim.metadata?.uid === ref?.uid ? claim : undefined;
  }

  private async syncVolume(volume: PersistentVolume): Promise<void> {
    const w = this.writes;
    const ref = volume.spec?.claimRef;
    if (!ref || !ref.uid) {
      // Free, or reserved for a claim (by name) that the claim's sync will bind.
      const was = volume.status?.phase;
      await w.volumePhase(volume, 'Available');
      if (ref?.name) this.queue.add(`${CLAIM}${ref.namespace ?? ''}/${ref.name}`);
      // Kubernetes leaves waiting claims to the periodic resync; a volume that has just become Available tells them.
      else if (was !== 'Available') this.enqueuePendingClaims(volumeClass(volume));
      return;
    }
    const claim = await this.claimOf(volume);
    if (!claim) {
      let pv = volume;
      // Keep a Failed phase: the user should see that reclaiming went wrong while it is retried.
      if (pv.status?.phase !== 'Released' && pv.status?.phase !== 'Failed') pv = await w.volumePhase(pv, 'Released');
      this.operation(VOLUME + (pv.metadata.name ?? ''), () => this.reclaimer.reclaim(pv));
      return;
    }
    const name = claim.spec?.volumeName;
    if (!name) {
      if (volumeModeMismatch(claim, volume)) {
        w.volumeEvent(volume, 'Warning', 'VolumeMismatch', `Cannot bind PersistentVolume to requested PersistentVolumeClaim "${claim.metadata?.name ?? ''}" due to incompatible volumeMode.`);
        w.claimEvent(claim, 'Warning', 'VolumeMismatch', `Cannot bind PersistentVolume "${volume.metadata.name ?? ''}" to requested PersistentVolumeClaim due to incompatible volumeMode.`);
        return;
      }
      // The claim's half is missing (a provisioned volume, or a binding cut short): the claim's sync finishes it.
      this.queue.add(CLAIM + claimKey(claim));
      return;
    }
    if (name === volume.metadata.name) {
      await w.volumePhase(volume, 'Bound');
      return;
    }
    // The claim is bound to another volume.
    if (has(volume, ANN_DYNAMICALLY_PROVISIONED) && volume.spec?.persistentVolumeReclaimPolicy === 'Delete') {
      // Provisioned for this claim, which got another volume meanwhile: not needed.
      let pv = volume;
      if (pv.status?.phase !== 'Released' && pv.status?.phase !== 'Failed') pv = await w.volumePhase(pv, 'Released');
      this.operation(VOLUME + (pv.metadata.name ?? ''), () => this.reclaimer.reclaim(pv));
      return;
    }
    await this.unbind(volume);
  }

  /** Gives the volume back: the controller's binding is removed, a user's pre-binding keeps the name but not the uid. */
  private async unbind(volume: PersistentVolume): Promise<void> {
    const next = structuredClone(volume);
    const ann = { ...(next.metadata.annotations ?? {}) };
    if (ann[ANN_BOUND_BY_CONTROLLER] !== undefined) delete (next.spec ??= {}).claimRef;
    else if (next.spec?.claimRef) delete next.spec.claimRef.uid;
    delete ann[ANN_BOUND_BY_CONTROLLER];
    next.metadata.annotations = ann;
    const pv = await this.writes.updateVolume(next);
    await this.writes.volumePhase(pv, 'Available');
  }
}
