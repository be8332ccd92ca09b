// The storage objects the volume plugins read, from shared informers (claims, volumes indexed by class, storage
// classes, CSINodes), and the cluster events their changes are: a new volume or a bound claim may let a pod fit.
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
  private readonly listeners = new Set<() => void>();

  constructor(informers: InformerFactory, onEvent: (e: ClusterEvent) => void) {
    this.claims = informers.for<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS);
    this.pvs = informers.for<PersistentVolume>(PERSISTENTVOLUMES);
    this.classes = informers.for<StorageClass>(STORAGECLASSES);
    this.csiNodes = informers.for<CSINode>(CSINODES);
    this.pvs.indexer.addIndexer(BY_CLASS, (pv) => [volumeClass(pv)]);
    const changed = (e: ClusterEvent) => (): void => {
      onEvent(e);
      for (const fn of this.listeners) fn();
    };
    this.claims.addEventHandler({ onAdd: changed('PvcAdd'), onUpdate: changed('PvcUpdate'), onDelete: changed('PvcUpdate') });
    this.pvs.addEventHandler({ onAdd: changed('PvAdd'), onUpdate: changed('PvUpdate'), onDelete: changed('PvUpdate') });
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

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
