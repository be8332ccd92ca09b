// Dynamic provisioning (provisionClaimOperation, and external-provisioner's part for the drivers ketch ships): a claim
// of a class whose provisioner is a built-in driver gets a volume from the driver's CreateVolume and a PV named
// pvc-<claim uid>, pre-bound to the claim; the binder then binds the two. Claims of other provisioners only get the
// provisioner annotation and an ExternalProvisioning event, for an external provisioner (or an administrator) to act.
import {
  ANN_BETA_STORAGE_PROVISIONER, ANN_BOUND_BY_CONTROLLER, ANN_DYNAMICALLY_PROVISIONED, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER, bytes,
  claimClass, claimRequest, formatBytes, isAlreadyExists, selectedNode, type Node, type NodeSelectorTerm, type PersistentVolume,
  type PersistentVolumeClaim, type StorageClass,
} from '../../../api/index.js';
import type { Logger } from '../../../lib/logger.js';
import type { ControllerService, CsiVolume, Topology } from '../csi/controller-service.js';
import { claimKey, claimName, type BinderWrites } from './writes.js';

export interface ProvisionerDeps {
  writes: BinderWrites;
  createVolumeObject(pv: PersistentVolume): Promise<PersistentVolume>;
  volumeExists(name: string): boolean;
  node(name: string): Node | undefined;
  log: Logger;
}

/** The name of the volume provisioned for a claim. */
export const provisionedVolumeName = (pvc: PersistentVolumeClaim): string => `pvc-${pvc.metadata?.uid ?? ''}`;

const externalMessage = (provisioner: string): string =>
  `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. ` +
  'If volume creation is delayed, please verify that the provisioner is running and correctly registered.';

/** The node's segment for the driver's topology keys (NodeGetInfo's accessible topology, read from the node labels). */
function segmentOf(node: Node, keys: readonly string[]): Topology {
  const labels = node.metadata.labels ?? {};
  const seg: Topology = {};
  for (const k of keys) seg[k] = k === 'kubernetes.io/hostname' ? (labels[k] ?? node.metadata.name ?? '') : (labels[k] ?? '');
  return seg;
}

/** A volume's accessible topology as a required node affinity: one term per segment, ORed. */
function affinityOf(topology: Topology[]): PersistentVolume['spec'] {
  if (!topology.length) return {};
  const terms: NodeSelectorTerm[] = topology.map((seg) => ({
    matchExpressions: Object.entries(seg).map(([key, v]) => ({ key, operator: 'In' as const, values: [v] })),
  }));
  return { nodeAffinity: { required: { nodeSelectorTerms: terms } } };
}

/** The PV for a created volume, pre-bound to its claim (as external-provisioner writes it). */
export function volumeFor(pvc: PersistentVolumeClaim, cls: StorageClass, driver: ControllerService, vol: CsiVolume): PersistentVolume {
  const m = pvc.metadata ?? {};
  const requested = claimRequest(pvc);
  const capacity = vol.capacityBytes && vol.capacityBytes !== bytes(requested) ? formatBytes(vol.capacityBytes) : String(requested);
  const pv: PersistentVolume = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: provisionedVolumeName(pvc),
      annotations: { [ANN_DYNAMICALLY_PROVISIONED]: driver.driverName, [ANN_BOUND_BY_CONTROLLER]: 'yes' },
    },
    spec: {
      accessModes: [...(pvc.spec?.accessModes ?? [])],
      capacity: { storage: capacity },
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) },
      persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
      storageClassName: cls.metadata.name ?? '',
      volumeMode: pvc.spec?.volumeMode ?? 'Filesystem',
      ...(cls.mountOptions?.length ? { mountOptions: [...cls.mountOptions] } : {}),
      ...affinityOf(vol.accessibleTopology),
      csi: { driver: driver.driverName, volumeHandle: vol.volumeId, volumeAttributes: { ...vol.volumeContext } },
    },
  };
  driver.shapePersistentVolume?.(pv, vol);
  return pv;
}

export class Provisioner {
  constructor(private readonly d: ProvisionerDeps) {}

  /** Sets the claim's provisioner annotations (so external provisioners and `kubectl describe` see who is expected). */
  async annotate(pvc: PersistentVolumeClaim, provisioner: string): Promise<PersistentVolumeClaim> {
    const ann = pvc.metadata?.annotations ?? {};
    if (ann[ANN_STORAGE_PROVISIONER] === provisioner && ann[ANN_BETA_STORAGE_PROVISIONER] === provisioner) return pvc;
    const next = structuredClone(pvc);
    const meta = (next.metadata ??= {});
    meta.annotations = { ...(meta.annotations ?? {}), [ANN_STORAGE_PROVISIONER]: provisioner, [ANN_BETA_STORAGE_PROVISIONER]: provisioner };
    return this.d.writes.updateClaim(next);
  }

  /** Leaves the claim to an external provisioner. */
  external(pvc: PersistentVolumeClaim, provisioner: string): void {
    this.d.writes.claimEvent(pvc, 'Normal', 'ExternalProvisioning', externalMessage(provisioner));
  }

  /** Creates the volume through the driver and its PV; throws (after a ProvisioningFailed event) to be retried. */
  async provision(pvc: PersistentVolumeClaim, cls: StorageClass, driver: ControllerService): Promise<void> {
    const name = provisionedVolumeName(pvc);
    if (this.d.volumeExists(name)) return; // provisioned already; binding follows from the volume's sync
    const w = this.d.writes;
    let requirements: { requisite: Topology[]; preferred: Topology[] } | undefined;
    const nodeName = selectedNode(pvc);
    if (nodeName) {
      const node = this.d.node(nodeName);
      if (!node) {
        const msg = `failed to get target node: node "${nodeName}" not found`;
        w.claimEvent(pvc, 'Warning', 'ProvisioningFailed', msg);
        await this.reschedule(pvc);
        throw new Error(msg);
      }
      const seg = segmentOf(node, driver.topologyKeys);
      requirements = { requisite: [seg], preferred: [seg] };
    }
    w.claimEvent(pvc, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${claimKey(pvc)}"`);
    let vol: CsiVolume;
    try {
      vol = await driver.createVolume({
        name,
        capacityRange: { requiredBytes: bytes(claimRequest(pvc)) },
        volumeCapabilities: { accessModes: [...(pvc.spec?.accessModes ?? [])], volumeMode: pvc.spec?.volumeMode === 'Block' ? 'Block' : 'Filesystem' },
        parameters: {
          ...(cls.parameters ?? {}),
          'csi.storage.k8s.io/pvc/name': claimName(pvc),
          'csi.storage.k8s.io/pvc/namespace': pvc.metadata?.namespace ?? '',
          'csi.storage.k8s.io/pv/name': name,
        },
        ...(requirements ? { accessibilityRequirements: requirements } : {}),
      });
    } catch (err) {
      const msg = `failed to provision volume with StorageClass "${claimClass(pvc)}": ${err instanceof Error ? err.message : String(err)}`;
      w.claimEvent(pvc, 'Warning', 'ProvisioningFailed', msg);
      if (nodeName) await this.reschedule(pvc);
      throw new Error(msg);
    }
    await this.record(pvc, cls, driver, vol);
  }

  private async record(pvc: PersistentVolumeClaim, cls: StorageClass, driver: ControllerService, vol: CsiVolume): Promise<void> {
    const pv = volumeFor(pvc, cls, driver, vol);
    try {
      await this.d.createVolumeObject(pv);
    } catch (err) {
      if (isAlreadyExists(err)) return;
      // The volume exists but no PV tells of it: give it back, and try again later.
      await driver.deleteVolume({ volumeId: vol.volumeId, volume: pv }).catch((e: unknown) => {
        this.d.log.warn('deleting a volume whose PV could not be saved failed', { volume: vol.volumeId, error: String(e) });
      });
      this.d.writes.claimEvent(pvc, 'Warning', 'ProvisioningFailed', `failed to save the PersistentVolume: ${String(err)}`);
      throw err;
    }
    this.d.log.info('volume provisioned', { claim: claimKey(pvc), volume: pv.metadata.name, driver: driver.driverName });
    this.d.writes.claimEvent(pvc, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pv.metadata.name ?? ''}`);
  }

  /**
   * After a failure for the node the scheduler chose, the choice is dropped (external-provisioner's reschedule), so the
   * pod waiting on the claim is scheduled again, possibly elsewhere.
   */
  private async reschedule(pvc: PersistentVolumeClaim): Promise<void> {
    if (!selectedNode(pvc)) return;
    const next = structuredClone(pvc);
    delete next.metadata?.annotations?.[ANN_SELECTED_NODE];
    await this.d.writes.updateClaim(next);
  }
}
