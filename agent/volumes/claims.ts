// Claim-backed pod volumes (persistentVolumeClaim and generic ephemeral), as kubelet's volume manager handles them:
// the claim is read and must be Bound (the pod waits, with kubelet's FailedMount wording, until it is), the volume it
// is bound to is read and checked (its claimRef points back at the claim, its node affinity admits this node), then
// the volume is mounted on the pod's volume directory by the plugin its source names:
//
//   local-path (provisioned by the built-in driver)  the CSI-shaped Node service: stage (the directory exists under a
//                                                    local-path root), publish (bind mount, read-only when asked);
//   local (made by hand)                             the path must exist; bind-mounted, as kubelet's local plugin does;
//   hostPath (made by hand)                          the hostPath type checks of a pod's hostPath volume, then a bind.
//
// Every volume is bind-mounted on ROOT/pods/<uid>/volumes/<name>, so readOnly holds for every container at once and
// tearing the pod down is one unmount per volume. Other sources (nfs, csi, iscsi...) have no plugin on this node.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  bytes, DEFAULT_LOCAL_PATH_ROOT, isForbidden, isNotFound, LOCAL_PATH_PARAM_NODE_PATH, LOCAL_PATH_PROVISIONER, volumeCapacity, volumeNodeAffinityMatches,
  type Node, type PersistentVolume, type PersistentVolumeClaim, type Pod, type StorageClass, type Volume,
} from '../../api/index.js';
import { NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES, type RestClient } from '../../client/index.js';
import { realClock } from '../../lib/clock.js';
import { isNotExist } from '../../lib/errno.js';
import { markFileSystemResized, needsNodeExpansion } from './csi-local/expansion.js';
import { bindMount, isMountPoint } from './csi-local/mount.js';
import { LocalPathNodeService, localPathVolume } from './csi-local/node-service.js';
import { MountError } from '../volume-files.js';

/** A claim the pod cannot use yet (or at all): the FailedMount message names the volume, as kubelet's does. */
export class ClaimError extends MountError {
  override name = 'ClaimError';
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The claim a pod volume uses: its persistentVolumeClaim, or `<pod>-<volume>` for an ephemeral one; none otherwise. */
export function claimNameOf(pod: Pod, v: Volume): string | undefined {
  if (v.persistentVolumeClaim) return v.persistentVolumeClaim.claimName;
  if (v.ephemeral) return `${pod.metadata.name ?? ''}-${v.name}`;
  return undefined;
}

/** The claim a pod may use (getPVCExtractPV and, for ephemeral volumes, VolumeIsForPod). */
export function checkClaim(pod: Pod, v: Volume, pvc: PersistentVolumeClaim): void {
  const ns = pvc.metadata?.namespace ?? '';
  const name = pvc.metadata?.name ?? '';
  const processing = (why: string): ClaimError => new ClaimError(`error processing PVC ${ns}/${name}: ${why}`);
  if (v.ephemeral && !(pvc.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === pod.metadata.uid)) {
    throw processing(`PVC ${ns}/${name} was not created for pod ${ns}/${pod.metadata.name ?? ''} (pod is not owner)`);
  }
  if (pvc.metadata?.deletionTimestamp) throw processing('PVC is being deleted');
  if (pvc.status?.phase !== 'Bound') throw processing('PVC is not bound');
  if (!pvc.spec?.volumeName) throw processing('PVC has empty pvc.Spec.VolumeName');
}

/** The volume must be bound to this very claim (getPVSpec). */
export function checkVolume(pv: PersistentVolume, pvc: PersistentVolumeClaim): void {
  const ref = pv.spec?.claimRef;
  const pvName = pv.metadata.name ?? '';
  if (!ref?.uid) throw new ClaimError(`found PV object ${pvName} but it has a nil or empty ClaimRef`);
  if (ref.uid !== pvc.metadata?.uid) throw new ClaimError(`found PV object ${pvName} but its ClaimRef.UID (${ref.uid}) does not point to claim.UID (${pvc.metadata?.uid ?? ''})`);
}

/** The volume's node affinity admits the node (kubelet checks it again before mounting: a pod can be bound by hand). */
export function checkNodeAffinity(pv: PersistentVolume, node: Node): void {
  if (volumeNodeAffinityMatches(pv, node)) return;
  throw new MountError(`MountVolume.NodeAffinity check failed for volume "${pv.metadata.name ?? ''}" : no matching NodeSelectorTerms`);
}

/** How a volume is mounted here, from its source. */
export type ClaimBacking =
  | { kind: 'local-path'; volumeId: string; volumeContext: Record<string, string> }
  | { kind: 'local'; path: string }
  | { kind: 'hostPath'; path: string; type: string };

export function volumeBacking(pv: PersistentVolume): ClaimBacking {
  const lp = localPathVolume(pv);
  if (lp) return { kind: 'local-path', volumeId: lp.volumeId, volumeContext: lp.volumeContext };
  if (pv.spec?.local?.path) return { kind: 'local', path: pv.spec.local.path };
  if (pv.spec?.hostPath?.path) return { kind: 'hostPath', path: pv.spec.hostPath.path, type: pv.spec.hostPath.type ?? '' };
  throw new MountError(`volume "${pv.metadata.name ?? ''}": no volume plugin matched (this node mounts local, hostPath and local-path volumes)`);
}

/** Whether the claim's fsGroup ownership is kubelet's to apply (local volumes yes, hostPath no: it is not managed). */
export function ownershipManaged(b: ClaimBacking): boolean {
  return b.kind !== 'hostPath';
}

/**
 * The unique name kubelet gives a mounted volume in the node's status.volumesInUse: only device-mountable plugins are
 * reported, i.e. `local` volumes (kubernetes.io/local-volume/<pv>); hostPath ones (local-path's default) are not.
 */
export function inUseName(pv: PersistentVolume, b: ClaimBacking): string {
  return pv.spec?.local?.path && b.kind !== 'hostPath' ? `kubernetes.io/local-volume/${pv.metadata.name ?? ''}` : '';
}

export interface ClaimMount {
  claim: PersistentVolumeClaim;
  volume: PersistentVolume;
  backing: ClaimBacking;
}

/** How long the claim path reuses a Node or StorageClass it has read (kubelet reads both from informers). */
export const CLAIM_READ_TTL_MS = 5_000;

/**
 * The Node and StorageClass reads of the claim path, shared by the pods that mount claims within CLAIM_READ_TTL_MS of
 * each other: a burst of pods makes one request, not one each. The claim and its volume are always read afresh, as
 * kubelet does. A failed read is not kept.
 */
export class ClaimReads {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(private readonly now: () => number = () => realClock.now()) {}

  private read<T>(key: string, load: () => Promise<T>): Promise<T> {
    const e = this.entries.get(key);
    if (e && this.now() - e.at < CLAIM_READ_TTL_MS) return e.value as Promise<T>;
    const value = load();
    this.entries.set(key, { at: this.now(), value });
    // The caller sees the failure; the entry goes so that the next pod reads again.
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  node(rest: RestClient, name: string): Promise<Node> {
    return this.read(`node/${name}`, () => rest.resource<Node>(NODES).get(undefined, name));
  }

  /** The roots a local-path volume of the PV's class may live in (localPathRoots). */
  classRoots(rest: RestClient, pv: PersistentVolume, own: readonly string[]): Promise<string[]> {
    return this.read(`class/${pv.spec?.storageClassName ?? ''}`, () => localPathRoots(rest, pv, own));
  }
}

/** Reads and checks the claim, its volume and their fit to this node; throws ClaimError/MountError with the reason. */
export async function resolveClaim(rest: RestClient, nodeName: string, pod: Pod, v: Volume, reads = new ClaimReads()): Promise<ClaimMount> {
  const ns = pod.metadata.namespace ?? '';
  const name = claimNameOf(pod, v) ?? '';
  let claim: PersistentVolumeClaim;
  try {
    claim = await rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS).get(ns, name);
  } catch (err) {
    throw new ClaimError(`error processing PVC ${ns}/${name}: failed to fetch PVC from API server: ${errText(err)}`);
  }
  checkClaim(pod, v, claim);
  const pvName = claim.spec?.volumeName ?? '';
  let volume: PersistentVolume;
  try {
    volume = await rest.resource<PersistentVolume>(PERSISTENTVOLUMES).get(undefined, pvName);
  } catch (err) {
    throw new ClaimError(`error processing PVC ${ns}/${name}: failed to fetch PV ${pvName} from API server: ${errText(err)}`);
  }
  checkVolume(volume, claim);
  if (volume.spec?.nodeAffinity?.required) checkNodeAffinity(volume, await reads.node(rest, nodeName));
  return { claim, volume, backing: volumeBacking(volume) };
}

/** The roots local-path volumes may live in: the agent's own, and the nodePath of the volume's class. */
async function localPathRoots(rest: RestClient, pv: PersistentVolume, own: readonly string[]): Promise<string[]> {
  const cls = pv.spec?.storageClassName;
  if (!cls) return [...own];
  try {
    const sc = await rest.resource<StorageClass>(STORAGECLASSES).get(undefined, cls);
    if (sc.provisioner !== LOCAL_PATH_PROVISIONER) return [...own];
    return [...own, sc.parameters?.[LOCAL_PATH_PARAM_NODE_PATH] ?? DEFAULT_LOCAL_PATH_ROOT];
  } catch (err) {
    // A class deleted since the volume was made, or one a node may not read (the node authorizer grants no
    // StorageClasses): the agent's own roots serve; anything else is a retry.
    if (isNotFound(err) || isForbidden(err)) return [...own];
    throw new MountError(`volume "${pv.metadata.name ?? ''}": reading StorageClass ${cls}: ${errText(err)}`);
  }
}

/** A path a bind mount can be made on: a directory, or an empty file when the source is a file. */
async function ensureTarget(source: string, target: string): Promise<void> {
  const info = await stat(source).catch((err: unknown) => {
    if (isNotExist(err)) throw new MountError(`path "${source}" does not exist`);
    throw err;
  });
  if (info.isDirectory()) {
    await mkdir(target, { recursive: true });
    return;
  }
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, '', { flag: 'a' });
}

export interface MountClaimArgs {
  rest: RestClient;
  nodeName: string;
  /** Where local-path volumes may live besides their class's nodePath. */
  roots: readonly string[];
  mount: ClaimMount;
  /** The pod's volume directory the volume is published on. */
  target: string;
  readOnly: boolean;
  /** hostPath type checks (shared with the pod's own hostPath volumes); resolves to the path. */
  checkHostPath(path: string, type: string): Promise<string>;
  reads?: ClaimReads;
}

/** Mounts the claim's volume on the target (idempotent: a target that is a mount point already is kept). */
export async function mountClaim(a: MountClaimArgs): Promise<void> {
  const { backing: b, volume } = a.mount;
  try {
    if (b.kind === 'local-path') {
      const node = new LocalPathNodeService(a.nodeName, await (a.reads ?? new ClaimReads()).classRoots(a.rest, volume, a.roots));
      await node.nodeStageVolume({ volumeId: b.volumeId, volumeContext: b.volumeContext });
      await node.nodePublishVolume({ volumeId: b.volumeId, volumeContext: b.volumeContext, targetPath: a.target, readonly: a.readOnly });
      // A claim grown while no pod used it: the node's step of the resize is done when the volume is next mounted.
      if (needsNodeExpansion(a.mount.claim)) {
        const size = volumeCapacity(volume);
        await node.nodeExpandVolume({ volumeId: b.volumeId, capacityRange: { requiredBytes: bytes(size) } });
        await markFileSystemResized(a.rest.resource<PersistentVolumeClaim>(PERSISTENTVOLUMECLAIMS), a.mount.claim, size);
      }
      return;
    }
    const source = b.kind === 'local' ? b.path : await a.checkHostPath(b.path, b.type);
    await ensureTarget(source, a.target);
    if (!(await isMountPoint(a.target))) await bindMount(source, a.target, a.readOnly);
  } catch (err) {
    // Refusals (MountError, NodeVolumeError) and failures (mount, API) alike: the pod waits and the event says why.
    throw new MountError(`MountVolume.SetUp failed for volume "${volume.metadata.name ?? ''}" : ${errText(err)}`);
  }
}
