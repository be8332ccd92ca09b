// The node's end of a claim expansion that needs the node (kubelet's MarkFSResizeFinished): after NodeExpandVolume,
// the claim shows the new size, and FileSystemResizePending and the NodeResizePending step are cleared.
import { CLAIM_FILESYSTEM_RESIZE_PENDING, finishResize, type PersistentVolumeClaim } from '../../../api/index.js';
import type { ResourceClient } from '../../../client/index.js';

/** Whether the claim waits for this node to grow its file system (the agent calls NodeExpandVolume then). */
export function needsNodeExpansion(pvc: PersistentVolumeClaim): boolean {
  return (pvc.status?.conditions ?? []).some((c) => c.type === CLAIM_FILESYSTEM_RESIZE_PENDING && c.status === 'True');
}

export async function markFileSystemResized(pvcs: ResourceClient<PersistentVolumeClaim>, pvc: PersistentVolumeClaim, size: string | number): Promise<PersistentVolumeClaim> {
  const next = structuredClone(pvc);
  finishResize((next.status ??= {}), size, [CLAIM_FILESYSTEM_RESIZE_PENDING]);
  return pvcs.updateStatus(next);
}
