// The provisioning seam, shaped after the Controller service of the Container Storage Interface (CSI spec v1.x:
// CreateVolume, DeleteVolume, ControllerExpandVolume; messages cut to the fields ketch uses, names kept). The PV
// controller and the expander play external-provisioner's and external-resizer's part: they turn a claim and its
// StorageClass into a CreateVolumeRequest and the answer into a PersistentVolume. A driver that ships with ketch runs
// in the controller manager; a real CSI driver would be reached over its gRPC socket by a client implementing this same
// interface (or through the sidecars, as the claim's provisioner annotation already allows).
import type { PersistentVolume } from '../../../api/index.js';

/** A topology segment, e.g. {"kubernetes.io/hostname": "node-1"}. */
export type Topology = Record<string, string>;

export interface CreateVolumeRequest {
  /** The idempotency key: the same name twice must give the same volume (here "pvc-<claim uid>"). */
  name: string;
  capacityRange: { requiredBytes: number; limitBytes?: number };
  /** The claim's access modes and volume mode (CSI's VolumeCapability list, kept in Kubernetes' words). */
  volumeCapabilities: { accessModes: string[]; volumeMode: 'Filesystem' | 'Block' };
  /** The StorageClass parameters plus, as external-provisioner's --extra-create-metadata adds, csi.storage.k8s.io/pvc/{name,namespace} and pv/name. */
  parameters: Record<string, string>;
  /** Where the volume must be reachable: for WaitForFirstConsumer, the selected node's segment first. */
  accessibilityRequirements?: { requisite: Topology[]; preferred: Topology[] };
}

export interface CsiVolume {
  volumeId: string;
  /** 0 means unknown (the requested size is recorded). */
  capacityBytes: number;
  /** Opaque to Kubernetes; handed back to the node side at stage and publish (PV spec.csi.volumeAttributes). */
  volumeContext: Record<string, string>;
  /** The segments the volume can be used from; becomes the PV's required node affinity. */
  accessibleTopology: Topology[];
}

export interface ControllerExpandVolumeResponse {
  capacityBytes: number;
  /** The node side must grow the file system before the claim shows the new size (FileSystemResizePending). */
  nodeExpansionRequired: boolean;
}

/** The Controller service of one driver (CSI's ControllerGetCapabilities: CREATE_DELETE_VOLUME, EXPAND_VOLUME). */
export interface ControllerService {
  /** The provisioner name StorageClasses use (CSI's GetPluginInfo name). */
  readonly driverName: string;
  /** The topology keys the driver reports from NodeGetInfo (for accessibility requirements). */
  readonly topologyKeys: readonly string[];
  readonly supportsExpansion: boolean;
  createVolume(req: CreateVolumeRequest): Promise<CsiVolume>;
  /** Must succeed for a volume that is already gone (idempotent). */
  deleteVolume(req: { volumeId: string; volume: PersistentVolume }): Promise<void>;
  controllerExpandVolume(req: { volumeId: string; capacityRange: { requiredBytes: number }; volume: PersistentVolume }): Promise<ControllerExpandVolumeResponse>;
  /**
   * Beyond CSI: lets a driver that ships with ketch shape the PV it gets (an in-tree plugin's Provision returns the
   * PV). Without it the PV gets a `csi` source {driver, volumeHandle, volumeAttributes}, as external-provisioner
   * writes one.
   */
  shapePersistentVolume?(pv: PersistentVolume, volume: CsiVolume): void;
}

/** The drivers this controller manager runs, by provisioner name; others are left to external provisioners. */
export class DriverRegistry {
  private readonly drivers = new Map<string, ControllerService>();
  constructor(drivers: readonly ControllerService[] = []) {
    for (const d of drivers) this.drivers.set(d.driverName, d);
  }
  get(name: string): ControllerService | undefined {
    return this.drivers.get(name);
  }
  names(): string[] {
    return [...this.drivers.keys()];
  }
}
