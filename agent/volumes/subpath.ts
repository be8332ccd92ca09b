// Safe subPath mounts, as kubelet's pkg/volume/util/subpath/subpath_linux.go makes them. A volume's contents belong to
// the pods that write it: a subPath component may be a symlink planted to reach the host ("data -> /"). So the path is
// never resolved by name: each component is opened relative to its parent's descriptor (/proc/self/fd/N/<name>, an
// openat in effect) without following symlinks, missing directories are made the same way, and the descriptor of the
// last component is bind-mounted (through /proc/<pid>/fd/N, not canonicalized) on a target under the pod's directory,
// which the container then mounts. What the mount shows is what was checked, whatever is renamed meanwhile.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, normalize } from 'node:path';
import { promisify } from 'node:util';
import { isMountPoint } from './csi-local/mount.js';
import { MountError } from './errors.js';

const exec = promisify(execFile);

/** Linux's O_PATH (not in node's constants): a descriptor for the path itself, neither read nor opened as a device/FIFO. */
const O_PATH = 0o10000000;

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** The components of a subPath, refused when absolute or climbing out. */
export function subPathComponents(sub: string): string[] {
  if (sub.startsWith('/')) throw new MountError(`subPath "${sub}" must be a relative path`);
  const parts = normalize(sub).split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new MountError(`subPath "${sub}" must not contain ".."`);
  return parts;
}

async function openNoFollow(parent: FileHandle, name: string, dir: boolean): Promise<FileHandle> {
  const fh = await open(`/proc/self/fd/${parent.fd}/${name}`, O_PATH | constants.O_NOFOLLOW | (dir ? constants.O_DIRECTORY : 0));
  const st = await fh.stat();
  // O_PATH|O_NOFOLLOW opens a symlink itself rather than failing: refused here.
  if (st.isSymbolicLink()) {
    await fh.close();
    throw Object.assign(new Error(`${name} is a symlink`), { code: 'ELOOP' });
  }
  return fh;
}

/**
 * Opens base/sub without following any symlink below base, making missing directories (mode 0755) on the way, as
 * kubelet makes a missing subPath. The caller closes the handle.
 */
export async function openSubPath(base: string, sub: string): Promise<FileHandle> {
  const parts = subPathComponents(sub);
  let fh = await open(base, O_PATH | constants.O_DIRECTORY);
  try {
    for (const [i, name] of parts.entries()) {
      const last = i === parts.length - 1;
      let next: FileHandle;
      try {
        next = await openNoFollow(fh, name, !last);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw new MountError(`subPath "${sub}": component "${name}" is a symlink or not a directory (${errno(err) ?? String(err)})`);
        try {
          await mkdir(`/proc/self/fd/${fh.fd}/${name}`, { mode: 0o755 });
        } catch (mkErr) {
          // Made by someone else meanwhile: opened (and checked) below like any existing one.
          if (errno(mkErr) !== 'EEXIST') throw mkErr;
        }
        next = await openNoFollow(fh, name, true).catch((e: unknown) => {
          throw new MountError(`subPath "${sub}": component "${name}" is a symlink or not a directory (${errno(e) ?? String(e)})`);
        });
      }
      await fh.close();
      fh = next;
    }
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Bind-mounts base/sub (checked as above) on target and returns target; a target that is a mount point already (the
 * container restarted) is kept, as kubelet reuses its subpath mounts.
 */
export async function mountSubPath(base: string, sub: string, target: string): Promise<string> {
  if (await isMountPoint(target)) return target;
  const fh = await openSubPath(base, sub);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) await mkdir(target, { recursive: true });
    else {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, '', { flag: 'a' });
    }
    await exec('mount', ['--no-canonicalize', '--bind', `/proc/${process.pid}/fd/${fh.fd}`, target]);
    return target;
  } finally {
    await fh.close();
  }
}
