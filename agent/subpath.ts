// subPath and subPathExpr mounts, made safe the way kubelet made them after CVE-2017-1002101
// (pkg/volume/util/subpath/subpath_linux.go): links in the subPath are resolved first and the result must stay inside
// the volume (a configMap key is a link into ..data, and `subPath: app.conf` is how people mount one file); the
// resolved path is then opened one component at a time with O_NOFOLLOW|O_PATH, each under the descriptor of the one
// before (through /proc/self/fd/N/NAME, as Node has no openat), so a link swapped in meanwhile is refused, not
// followed; the result is bind-mounted from /proc/self/fd/3 by a `mount` child that inherits the descriptor. What
// gets mounted is the directory or file that was opened, whatever a container renames or links meanwhile; a missing
// subPath is made as directories, each under its parent's descriptor.
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { errnoOf } from '../lib/errno.js';
import { ContainerConfigError } from './pod-config.js';
import { isMountPoint } from './volumes/csi-local/mount.js';

/** Under the pod's volumes directory (a name no volume can have): the volume teardown unmounts what is there. */
export const SUBPATHS_DIR = '.subpaths';

/** Linux's O_PATH: Node's fs.constants leaves it out, and libuv passes the flags to open(2) as they are. */
const O_PATH = 0o10000000;
const OPEN = constants.O_NOFOLLOW | O_PATH;

export class SubPathError extends ContainerConfigError {
  override name = 'SubPathError';
}

/** The components of a subPath: relative, no "..". */
function components(subPath: string): string[] {
  if (subPath.startsWith('/')) throw new SubPathError(`subPath "${subPath}" must be a relative path`);
  const parts = subPath.split('/').filter((p) => p && p !== '.');
  if (parts.includes('..')) throw new SubPathError(`subPath "${subPath}" must not contain ".."`);
  return parts;
}

/**
 * Opens `subPath` under `volume` without following a symlink (making missing components as directories); returns an
 * O_PATH descriptor of it. The caller closes it.
 */
export function openSubPath(volume: string, subPath: string): number {
  const base = realpathSync(volume);
  const parts = resolveInside(base, subPath);
  let fd = openSync(base, OPEN | constants.O_DIRECTORY);
  try {
    for (const part of parts) {
      const at = `/proc/self/fd/${fd}/${part}`;
      let child: number;
      try {
        child = openSync(at, OPEN);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw err;
        // mkdir never follows its last component: a link planted meanwhile makes it fail (EEXIST), not write through.
        mkdirSync(at, 0o755);
        child = openSync(at, OPEN | constants.O_DIRECTORY);
      }
      closeSync(fd);
      fd = child;
      if (fstatSync(fd).isSymbolicLink()) throw new SubPathError(`subPath "${subPath}": "${part}" is a symlink, which subPath does not follow`);
    }
    // Belt and braces, as kubelet: what was opened is under the volume.
    const where = readlinkSync(`/proc/self/fd/${fd}`);
    if (where !== base && !where.startsWith(`${base}/`)) throw new SubPathError(`subPath "${subPath}" resolves to ${where}, outside the volume`);
    return fd;
  } catch (err) {
    closeSync(fd);
    if (err instanceof SubPathError) throw err;
    throw new SubPathError(`subPath "${subPath}" of ${volume}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The subPath with its links resolved (kubelet's EvalSymlinks and PathWithinBase), as components under `base` (the
 * volume's real path); a subPath that does not exist yet is taken as written (it is made without following links).
 */
function resolveInside(base: string, subPath: string): string[] {
  const parts = components(subPath);
  let real: string;
  try {
    real = realpathSync(join(base, ...parts));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return parts;
    throw new SubPathError(`subPath "${subPath}" of ${base}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (real !== base && !real.startsWith(`${base}/`)) throw new SubPathError(`subPath "${subPath}" resolves to ${real}, outside the volume`);
  return relative(base, real).split('/').filter(Boolean);
}

function runMount(args: string[], fd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mount', args, { stdio: fd === undefined ? ['ignore', 'ignore', 'pipe'] : ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mount ${args.join(' ')}: ${stderr.trim() || `exit ${code}`}`))));
  });
}

/**
 * Bind-mounts `subPath` of the volume at `target` (made here: a directory or an empty file, as the source is) and
 * returns `target`, the host path to give the runtime. A target mounted by an earlier attempt is mounted afresh.
 */
export async function bindSubPath(volume: string, subPath: string, target: string): Promise<string> {
  const fd = openSubPath(volume, subPath);
  try {
    const isDir = fstatSync(fd).isDirectory();
    while (await isMountPoint(target)) await unmount(target);
    await mkdir(join(target, '..'), { recursive: true, mode: 0o700 });
    // What an earlier attempt left is removed without recursion: a directory still holding something fails here.
    await rmdir(target).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOTDIR') return rm(target, { force: true });
      if (errnoOf(err) !== 'ENOENT') throw err;
      return undefined;
    });
    if (isDir) await mkdir(target);
    else await writeFile(target, '', { flag: 'a' });
    // --no-canonicalize: mount(2) must get /proc/self/fd/3 itself, not the path it resolves to now.
    await runMount(['--no-canonicalize', '--bind', '/proc/self/fd/3', target], fd);
    return target;
  } finally {
    closeSync(fd);
  }
}

function unmount(target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('umount', ['-l', target], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}
