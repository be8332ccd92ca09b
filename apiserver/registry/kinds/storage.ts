// The storage kinds. Volumes and claims have a status subresource: a new one starts Pending (the PV controller moves
// it on), and main-resource writes keep the stored status. StorageClass, CSIDriver and CSINode use the defaults.
import type { ResourceInfo } from '../../../api/resources.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

export function persistentVolumeStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: false,
    prepareForCreate(obj) {
      obj.status = { phase: 'Pending', ...(obj.metadata.creationTimestamp ? { lastPhaseTransitionTime: obj.metadata.creationTimestamp } : {}) };
    },
  });
}

export function persistentVolumeClaimStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: false,
    prepareForCreate(obj) {
      obj.status = { phase: 'Pending' };
    },
  });
}
