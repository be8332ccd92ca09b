// The host side of pod volumes that hold files: private directories (0700 down to the volume), secrets and projected
// volumes on tmpfs (never on the node's disk), their contents written by the atomic writer, and fsGroup ownership
// (kubelet's SetVolumeOwnership, with fsGroupChangePolicy).
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod, Volume } from '../api/index.js';
import { type VolumeFile, setVolumeOwnership, writeAtomic } from './atomic-writer.js';
import { ContainerConfigError } from './pod-config.js';
// Through the one small helper process: a spawn from the agent's own process (with the API server in it under
// `ketch up`) forks all of it and blocks its event loop for each pod's tmpfs (command-runner.ts says more).
import { mountFs } from './runtime/command-runner.js';
import { isMountPoint } from './volumes/csi-local/mount.js';

/** Thrown when a volume cannot be set up (the pod waits in ContainerCreating, as with kubelet's FailedMount). */
export class MountError extends Error {
  override name = 'MountError';
}

export { isMountPoint };

// Synchronous, as the atomic writer (atomic-writer.ts says why): a few directory calls, each microseconds, where each
// asynchronous call waits for a thread of a pool the API server's WAL syncs keep busy.

/** The pod's directory and its volumes directory are the agent's alone (0700); the volume itself is made beneath. */
export async function makeVolumeDir(podDir: string, dir: string): Promise<void> {
  for (const d of [podDir, join(podDir, 'volumes')]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chmodSync(d, 0o700);
  }
  mkdirSync(dir, { recursive: true, mode: 0o755 });
}

/** Volumes kubelet backs with memory: secrets and projected volumes (which carry service-account tokens). */
export function tmpfsVolume(v: Volume): boolean {
  return Boolean(v.secret || v.projected);
}

/** configMap, secret, downwardAPI and projected volumes: the containers get them read-only, whatever the mount says. */
export function readOnlyVolumes(pod: Pod): Set<string> {
  return new Set((pod.spec.volumes ?? []).filter((v) => v.configMap || v.secret || v.downwardAPI || v.projected).map((v) => v.name));
}

/** Mounts a tmpfs on a file volume's directory unless one is there. */
export async function ensureTmpfs(dir: string): Promise<void> {
  if (await isMountPoint(dir)) return;
  await mountFs('tmpfs', 'tmpfs', dir, 'mode=0755').catch((err: unknown) => {
    throw new MountError(`mounting tmpfs on ${dir} failed: ${String(err)}`);
  });
}

/** Writes a file volume's content atomically (on its tmpfs, ensureTmpfs, when it has one), owned by the pod's fsGroup. */
export async function writeProjected(dir: string, files: VolumeFile[], pod: Pod): Promise<void> {
  const fsGroup = pod.spec.securityContext?.fsGroup;
  try {
    await writeAtomic(dir, files, fsGroup === undefined ? {} : { setPerms: (ts) => setVolumeOwnership(ts, fsGroup, true) });
  } catch (err) {
    if (err instanceof Error && /^volume file path/.test(err.message)) throw new ContainerConfigError(err.message);
    throw err;
  }
}

/** fsGroup ownership of a writable volume (emptyDir), once or on every setup as fsGroupChangePolicy says. */
export async function applyFsGroup(dir: string, pod: Pod): Promise<void> {
  const sc = pod.spec.securityContext;
  if (sc?.fsGroup === undefined) return;
  await setVolumeOwnership(dir, sc.fsGroup, false, sc.fsGroupChangePolicy === 'OnRootMismatch');
}
