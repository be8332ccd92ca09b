// The Controller side of the built-in local-path driver (rancher's local-path-provisioner semantics): a volume is a
// directory `<nodePath>/pvc-<uid>_<namespace>_<claim>` on the node the scheduler chose for the claim's first pod. This
// side only records the volume: the PV gets a required node affinity for that node, a hostPath (or, with the class
// parameter volumeType=local, a `local`) source and the cleanup finalizer. The directory itself is made and removed
// on the node, by the Node side (agent/volumes/csi-local/): NodeStageVolume creates it when a pod using the PV lands,
// and after a Delete reclaim the node's agent removes it and then the finalizer.
import { isAbsolute, normalize } from 'node:path';
import { DEFAULT_LOCAL_PATH_ROOT, LOCAL_PATH_CLEANUP_FINALIZER, LOCAL_PATH_PARAM_NODE_PATH, LOCAL_PATH_PROVISIONER, type PersistentVolume } from '../../../api/index.js';
import type { ControllerService, CreateVolumeRequest, CsiVolume } from '../csi/controller-service.js';

export const HOSTNAME_KEY = 'kubernetes.io/hostname';

/** The class parameters the driver reads. */
export const PARAM_NODE_PATH = LOCAL_PATH_PARAM_NODE_PATH;
export const PARAM_VOLUME_TYPE = 'volumeType';

/** Refused requests say what to change, as rancher's provisioner does. */
export class LocalPathError extends Error {
  override name = 'LocalPathError';
}

function nodeOf(req: CreateVolumeRequest): string {
  const seg = req.accessibilityRequirements?.preferred[0] ?? req.accessibilityRequirements?.requisite[0];
  const node = seg?.[HOSTNAME_KEY];
  if (!node) {
    throw new LocalPathError('configuration error, no node was specified: local-path volumes need a StorageClass with volumeBindingMode WaitForFirstConsumer');
  }
  return node;
}

function rootOf(req: CreateVolumeRequest, defaultRoot: string): string {
  const root = req.parameters[PARAM_NODE_PATH] ?? defaultRoot;
  if (!isAbsolute(root) || normalize(root) !== root.replace(/\/+$/, '') || root.split('/').includes('..')) {
    throw new LocalPathError(`parameter ${PARAM_NODE_PATH} must be an absolute, normalized path, got "${root}"`);
  }
  return root.replace(/\/+$/, '');
}

export class LocalPathControllerService implements ControllerService {
  readonly driverName = LOCAL_PATH_PROVISIONER;
  readonly topologyKeys = [HOSTNAME_KEY];
  readonly supportsExpansion = true;

  constructor(private readonly defaultRoot = DEFAULT_LOCAL_PATH_ROOT) {}

  createVolume(req: CreateVolumeRequest): Promise<CsiVolume> {
    try {
      const node = nodeOf(req);
      const root = rootOf(req, this.defaultRoot);
      if (req.volumeCapabilities.volumeMode === 'Block') throw new LocalPathError('local-path volumes are directories: volumeMode Block is not supported');
      const ns = req.parameters['csi.storage.k8s.io/pvc/namespace'] ?? '';
      const claim = req.parameters['csi.storage.k8s.io/pvc/name'] ?? '';
      const path = `${root}/${req.name}_${ns}_${claim}`;
      return Promise.resolve({
        volumeId: req.name,
        capacityBytes: req.capacityRange.requiredBytes,
        volumeContext: { path, node, type: req.parameters[PARAM_VOLUME_TYPE] === 'local' ? 'local' : 'hostPath' },
        accessibleTopology: [{ [HOSTNAME_KEY]: node }],
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Nothing to do here: the directory is on the node. The PV keeps the cleanup finalizer until the node's agent has
   * removed the directory (a CSI driver's controller plugin would delete the backing storage at this point).
   */
  deleteVolume(): Promise<void> {
    return Promise.resolve();
  }

  /** A directory has no size to change: the new size is recorded and no node step is needed. */
  controllerExpandVolume(req: { capacityRange: { requiredBytes: number } }): Promise<{ capacityBytes: number; nodeExpansionRequired: boolean }> {
    return Promise.resolve({ capacityBytes: req.capacityRange.requiredBytes, nodeExpansionRequired: false });
  }

  shapePersistentVolume(pv: PersistentVolume, volume: CsiVolume): void {
    const path = volume.volumeContext.path ?? '';
    const spec = (pv.spec ??= {});
    delete spec.csi;
    if (volume.volumeContext.type === 'local') spec.local = { path };
    else spec.hostPath = { path, type: 'DirectoryOrCreate' };
    const f = pv.metadata.finalizers ?? [];
    if (!f.includes(LOCAL_PATH_CLEANUP_FINALIZER)) pv.metadata.finalizers = [...f, LOCAL_PATH_CLEANUP_FINALIZER];
  }
}
