// The Node side of the built-in local-path driver, shaped after CSI's Node service (NodeStageVolume, NodePublishVolume,
// NodeUnpublishVolume, NodeUnstageVolume, NodeExpandVolume, NodeGetInfo; names and meanings kept, messages cut to the
// fields used). The agent calls it when a pod using a local-path PersistentVolume lands on this node:
//
//   stage   creates the volume's directory `<root>/pvc-<uid>_<namespace>_<claim>` (mode 0777, as rancher's
//           provisioner makes it) if it does not exist; the directory then outlives pods until the volume is deleted;
//   publish bind-mounts it on the pod's target path (read-only when the pod's volume or mount says so);
//   unpublish unmounts the target and removes it; unstage has nothing to undo (the data stays).
//
// deleteVolumeDirectory is not CSI: it is the node's half of Delete reclaim (see cleanup.ts). Every path comes from
// the API (a PV anyone with rights may write), so only `<root>/<pvc-... pattern>` under a configured root is ever made
// or removed, and never through a symlink.
import { lstat, mkdir, chmod, realpath, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import {
  ANN_DYNAMICALLY_PROVISIONED, DEFAULT_LOCAL_PATH_ROOT, LOCAL_PATH_DIR_PATTERN, LOCAL_PATH_PROVISIONER, volumeHostname, type PersistentVolume,
} from '../../../api/index.js';
import { bindMount, isMountPoint, unmount } from './mount.js';

export const HOSTNAME_KEY = 'kubernetes.io/hostname';

/** A refused or failed node operation; the agent reports it as a FailedMount event on the pod. */
export class NodeVolumeError extends Error {
  override name = 'NodeVolumeError';
}

export interface NodeStageVolumeRequest {
  volumeId: string;
  /** From the PV: {path}. */
  volumeContext: Record<string, string>;
}

export interface NodePublishVolumeRequest extends NodeStageVolumeRequest {
  /** Where the pod's container runtime will find the volume (a directory the agent owns, under the pod's dir). */
  targetPath: string;
  readonly: boolean;
}

/** The local-path volume a PV describes, or undefined when the PV is not one. */
export function localPathVolume(pv: PersistentVolume): { volumeId: string; volumeContext: Record<string, string>; node?: string } | undefined {
  if (pv.metadata.annotations?.[ANN_DYNAMICALLY_PROVISIONED] !== LOCAL_PATH_PROVISIONER) return undefined;
  const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
  if (!path) return undefined;
  const node = volumeHostname(pv);
  return { volumeId: pv.metadata.name ?? '', volumeContext: { path }, ...(node ? { node } : {}) };
}

export class LocalPathNodeService {
  private readonly roots: string[];

  /** roots: the directories volumes may live in (each StorageClass nodePath used on this node). */
  constructor(
    readonly nodeName: string,
    roots: readonly string[] = [DEFAULT_LOCAL_PATH_ROOT],
  ) {
    this.roots = roots.map((r) => resolve(r));
  }

  /** NodeGetInfo: the node id and the topology the controller side records in the PV's node affinity. */
  nodeGetInfo(): { nodeId: string; accessibleTopology: Record<string, string> } {
    return { nodeId: this.nodeName, accessibleTopology: { [HOSTNAME_KEY]: this.nodeName } };
  }

  nodeGetCapabilities(): string[] {
    return ['STAGE_UNSTAGE_VOLUME', 'EXPAND_VOLUME'];
  }

  /** The volume's directory, checked: under a root, a local-path name, not a symlink (when it exists). */
  private async volumeDir(ctx: Record<string, string>): Promise<string> {
    const path = resolve(ctx.path ?? '');
    const root = dirname(path);
    if (!this.roots.includes(root)) throw new NodeVolumeError(`volume path ${path} is not under a local-path root of this node (${this.roots.join(', ')})`);
    if (!LOCAL_PATH_DIR_PATTERN.test(basename(path))) throw new NodeVolumeError(`volume path ${path} is not a local-path volume directory (pvc-<uid>_<namespace>_<claim>)`);
    const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (info && !info.isDirectory()) throw new NodeVolumeError(`volume path ${path} exists and is not a directory`);
    return path;
  }

  /** NodeStageVolume: the directory exists (made 0777 under its root, as rancher's provisioner does). */
  async nodeStageVolume(req: NodeStageVolumeRequest): Promise<string> {
    const dir = await this.volumeDir(req.volumeContext);
    const root = dirname(dir);
    await mkdir(root, { recursive: true, mode: 0o755 });
    if ((await realpath(root)) !== root) throw new NodeVolumeError(`local-path root ${root} must not be reached through a symlink`);
    try {
      await mkdir(dir, { mode: 0o777 });
      await chmod(dir, 0o777); // mkdir's mode is cut by the umask
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return dir;
  }

  /** NodeUnstageVolume: nothing to undo; the data stays for the next pod. */
  nodeUnstageVolume(): Promise<void> {
    return Promise.resolve();
  }

  /** NodePublishVolume: the directory bind-mounted on the target (idempotent: an existing mount is kept). */
  async nodePublishVolume(req: NodePublishVolumeRequest): Promise<void> {
    const dir = await this.volumeDir(req.volumeContext);
    const exists = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!exists?.isDirectory()) throw new NodeVolumeError(`volume ${req.volumeId} is not staged: ${dir} does not exist`);
    await mkdir(req.targetPath, { recursive: true });
    if (await isMountPoint(req.targetPath)) return;
    await bindMount(dir, req.targetPath, req.readonly);
  }

  /** NodeUnpublishVolume: unmounted and the target removed; a target already gone is fine. */
  async nodeUnpublishVolume(req: { volumeId: string; targetPath: string }): Promise<void> {
    if (await isMountPoint(req.targetPath)) await unmount(req.targetPath);
    try {
      await rmdir(req.targetPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** NodeExpandVolume: a directory has no file system of its own to grow; the size is what was asked. */
  nodeExpandVolume(req: { volumeId: string; capacityRange: { requiredBytes: number } }): Promise<{ capacityBytes: number }> {
    return Promise.resolve({ capacityBytes: req.capacityRange.requiredBytes });
  }

  /** Delete reclaim on the node: the directory and everything in it (symlinks inside are removed, not followed). */
  async deleteVolumeDirectory(volumeContext: Record<string, string>): Promise<void> {
    const dir = await this.volumeDir(volumeContext);
    if (await isMountPoint(dir)) throw new NodeVolumeError(`volume directory ${dir} is a mount point: unpublish it first`);
    await rm(dir, { recursive: true, force: true });
  }
}
