// The PV controller's writes: volume and claim updates, their status phases, and the events that go with them. Every
// write carries the object's resourceVersion (a stale cache gets a conflict and the sync is retried) and is recorded in
// the newest-version caches, so that the next sync builds on it.
import { compareQuantities, isNotFound, nowRFC3339, type PersistentVolume, type PersistentVolumeClaim } from '../../../api/index.js';
import { objectReference, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, type EventRecorder, type EventType, type ResourceClient } from '../../../client/index.js';
import type { Clock } from '../../../lib/clock.js';
import type { NewestCache } from './newest-cache.js';

export type VolumePhase = 'Pending' | 'Available' | 'Bound' | 'Released' | 'Failed';
export type ClaimPhase = 'Pending' | 'Bound' | 'Lost';

export const claimKey = (pvc: PersistentVolumeClaim): string => `${pvc.metadata?.namespace ?? ''}/${pvc.metadata?.name ?? ''}`;
export const claimName = (pvc: PersistentVolumeClaim): string => pvc.metadata?.name ?? '';

export interface WriterDeps {
  pvs: ResourceClient<PersistentVolume>;
  pvcs: ResourceClient<PersistentVolumeClaim>;
  volumes: NewestCache<PersistentVolume>;
  claims: NewestCache<PersistentVolumeClaim>;
  recorder: EventRecorder;
  clock: Clock;
}

const sameModes = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

export class BinderWrites {
  constructor(private readonly d: WriterDeps) {}

  volumeEvent(pv: PersistentVolume, type: EventType, reason: string, message: string): void {
    void this.d.recorder.event(objectReference(pv, PERSISTENTVOLUMES), type, reason, message);
  }

  claimEvent(pvc: PersistentVolumeClaim, type: EventType, reason: string, message: string): void {
    void this.d.recorder.event(objectReference(pvc, PERSISTENTVOLUMECLAIMS), type, reason, message);
  }

  async updateVolume(pv: PersistentVolume): Promise<PersistentVolume> {
    return this.d.volumes.wrote(await this.d.pvs.update(pv));
  }

  async updateClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim> {
    return this.d.claims.wrote(await this.d.pvcs.update(pvc));
  }

  /** status.phase (and message), with lastPhaseTransitionTime when the phase changes; no write when nothing does. */
  async volumePhase(pv: PersistentVolume, phase: VolumePhase, message = ''): Promise<PersistentVolume> {
    const st = pv.status ?? {};
    if (st.phase === phase && (st.message ?? '') === message) return pv;
    const next = structuredClone(pv);
    next.status = {
      ...st,
      phase,
      ...(message ? { message } : {}),
      lastPhaseTransitionTime: st.phase === phase && st.lastPhaseTransitionTime ? st.lastPhaseTransitionTime : nowRFC3339(new Date(this.d.clock.now())),
    };
    if (!message) delete next.status.message;
    if (phase !== 'Failed') delete next.status.reason;
    return this.d.volumes.wrote(await this.d.pvs.updateStatus(next));
  }

  /** Moves the phase and records the event, once (not again while the phase stays). */
  async volumePhaseWithEvent(pv: PersistentVolume, phase: VolumePhase, type: EventType, reason: string, message: string): Promise<PersistentVolume> {
    if (pv.status?.phase === phase) return pv;
    const next = await this.volumePhase(pv, phase, message);
    this.volumeEvent(next, type, reason, message);
    return next;
  }

  /**
   * The claim's phase; with a volume, its access modes and (when the claim becomes Bound) its capacity, unless the
   * claim already shows more (after an expansion the claim's file system size may lead); without, both are cleared.
   */
  async claimStatus(pvc: PersistentVolumeClaim, phase: ClaimPhase, volume?: PersistentVolume): Promise<PersistentVolumeClaim> {
    const next = structuredClone(pvc);
    const st = (next.status ??= {});
    let dirty = st.phase !== phase;
    st.phase = phase;
    if (!volume) {
      if (st.accessModes || st.capacity) dirty = true;
      delete st.accessModes;
      delete st.capacity;
    } else {
      if (!sameModes(st.accessModes, volume.spec?.accessModes)) {
        st.accessModes = [...(volume.spec?.accessModes ?? [])];
        dirty = true;
      }
      const cap = volume.spec?.capacity?.storage;
      if (pvc.status?.phase !== phase && cap !== undefined && (st.capacity?.storage === undefined || this.bigger(cap, st.capacity.storage))) {
        st.capacity = { ...(volume.spec?.capacity ?? {}) };
        dirty = true;
      }
    }
    if (!dirty) return pvc;
    return this.d.claims.wrote(await this.d.pvcs.updateStatus(next));
  }

  async claimStatusWithEvent(pvc: PersistentVolumeClaim, phase: ClaimPhase, volume: PersistentVolume | undefined, type: EventType, reason: string, message: string): Promise<PersistentVolumeClaim> {
    if (pvc.status?.phase === phase) return pvc;
    const next = await this.claimStatus(pvc, phase, volume);
    this.claimEvent(next, type, reason, message);
    return next;
  }

  /** Deletes the volume object (gone already is fine). */
  async deleteVolumeObject(pv: PersistentVolume): Promise<void> {
    try {
      await this.d.pvs.delete(undefined, pv.metadata.name ?? '', pv.metadata.uid ? { preconditions: { uid: pv.metadata.uid } } : {});
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private bigger = (a: string | number, b: string | number): boolean => compareQuantities(a, b) > 0;
}
