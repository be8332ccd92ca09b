// The storage objects the volume plugins read, from shared informers (claims, volumes indexed by class, storage
// classes, CSINodes), and the cluster events their changes are: a new volume or a bound claim may let a pod fit. A pod
// waiting in PreBind for its claims to be bound hears of changes to those claims and their volumes only, so that the
// work per event does not grow with the number of pods waiting.
import type { CSINode, PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../api/index.js';
import { volumeClass } from '../../api/storage.js';
import { CSINODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES, type Informer, type InformerFactory } from '../../client/index.js';
import type { ClusterEvent, VolumeListers } from './types.js';

const BY_CLASS = 'storageClass';

export class InformerVolumeListers implements VolumeListers {
  private readonly claims: Informer<PersistentVolumeClaim>;
  private readonly pvs: Informer<PersistentVolume>;
  private readonly classes: Informer<StorageClass>;
  private readonly csiNodes: Informer<CSINode>;
  /** Listeners by claim key. */
  private readonly listeners = new Map<string, Set<() => void>>();

  constructor(informers: InformerFactory, onEvent: (e: ClusterEvent) => void) {
    this.claims = informers.for<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.pvs = informers.for<PersistentVolume>(PERSISTENTVOLUMES);
    this.classes = informers.for<StorageClass>(STORAGECLASSES);
    this.csiNodes = informers.for<CSINode>(CSINODES);
    this.pvs.indexer.addIndexer(BY_CLASS, (pv) => [volumeClass(pv)]);
    const claim = (e: ClusterEvent) => (c: PersistentVolumeClaim): void => {
      onEvent(e);
      this.notify(`${c.metadata?.namespace ?? ''}/${c.metadata?.name ?? ''}`);
    };
    const volume = (e: ClusterEvent) => (...pvs: PersistentVolume[]): void => {
      onEvent(e);
      const keys = new Set(pvs.map((pv) => pv.spec?.claimRef?.name && `${pv.spec.claimRef.namespace ?? ''}/${pv.spec.claimRef.name}`).filter((k): k is string => !!k));
      for (const k of keys) this.notify(k);
    };
    this.claims.addEventHandler({ onAdd: claim('PvcAdd'), onUpdate: (_o, c) => claim('PvcUpdate')(c), onDelete: claim('PvcUpdate') });
    this.pvs.addEventHandler({ onAdd: volume('PvAdd'), onUpdate: volume('PvUpdate'), onDelete: volume('PvUpdate') });
    this.classes.addEventHandler({ onAdd: () => onEvent('StorageClassAdd') });
    this.csiNodes.addEventHandler({ onAdd: () => onEvent('CSINodeChange'), onUpdate: () => onEvent('CSINodeChange') });
  }

  claim(namespace: string, name: string): PersistentVolumeClaim | undefined {
    return this.claims.indexer.get(`${namespace}/${name}`);
  }

  volume(name: string): PersistentVolume | undefined {
    return this.pvs.indexer.get(name);
  }

  volumesOfClass(storageClassName: string): readonly PersistentVolume[] {
    return this.pvs.indexer.byIndex(BY_CLASS, storageClassName);
  }

  storageClass(name: string): StorageClass | undefined {
    return this.classes.indexer.get(name);
  }

  csiNode(name: string): CSINode | undefined {
    return this.csiNodes.indexer.get(name);
  }

  onClaimChange(claimKeys: readonly string[], fn: () => void): () => void {
    for (const k of claimKeys) {
      let set = this.listeners.get(k);
      if (!set) this.listeners.set(k, (set = new Set()));
      set.add(fn);
    }
    return () => {
      for (const k of claimKeys) {
        const set = this.listeners.get(k);
        set?.delete(fn);
        if (set?.size === 0) this.listeners.delete(k);
      }
    };
  }

  private notify(claimKey: string): void {
    const set = this.listeners.get(claimKey);
    if (set) for (const fn of [...set]) fn();
  }
}
