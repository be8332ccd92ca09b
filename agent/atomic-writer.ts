// Writes the files of a configMap, secret, downwardAPI or projected volume the way kubelet's AtomicWriter does
// (pkg/volume/util/atomic_writer.go): each version goes into a fresh timestamped directory "..2024_01_02_15_04_05.N",
// the "..data" symlink is swapped to it by one rename, and the names a container sees are symlinks into "..data".
// A reader never sees half an update, and nothing is ever written through a path that was there before: the new
// directory is made here, files are created with O_EXCL|O_NOFOLLOW, and links are replaced, never followed.
// The version is written with synchronous calls: a volume holds a few small files on tmpfs or the node's disk (no
// fsync), each call takes microseconds, while each asynchronous one waits for a thread of the pool that, under
// `ketch up`, the API server's WAL syncs keep busy: the twenty or so calls of a token volume took 80 ms a pod in a
// batch of ten pod starts, one pool round trip after another.
import {
  chmodSync, closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync,
  writeSync,
} from 'node:fs';
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { errnoOf, isNotExist } from '../lib/errno.js';

export interface VolumeFile {
  /** Relative, "/"-separated, without "..": checked by validPath. */
  path: string;
  data: Buffer;
  mode: number;
}

const DATA = '..data';
const DATA_TMP = '..data_tmp';
const TS_DIR = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[A-Za-z0-9]+$/;

/** kubelet's validatePath: relative, no "..", no element starting with "..", at most 4096 bytes and 255 per element. */
export function validPath(p: string): string | undefined {
  if (!p) return 'is empty';
  if (Buffer.byteLength(p) > 4096) return 'is longer than 4096 bytes';
  if (p.startsWith('/')) return 'must be relative';
  for (const part of p.split('/')) {
    if (part === '..') return 'must not contain ".."';
    if (part.startsWith('..')) return 'must not start with ".."';
    if (Buffer.byteLength(part) > 255) return 'has an element longer than 255 bytes';
  }
  return undefined;
}

/** The timestamped directory "..data" points to now, when it is one of ours (a name, not a path). */
function currentDir(dir: string): string | undefined {
  let target: string;
  try {
    target = readlinkSync(join(dir, DATA));
  } catch (err) {
    // No "..data" (first write) or not a link: there is no current version to compare with.
    if (isNotExist(err) || errnoOf(err) === 'EINVAL') return undefined;
    throw err;
  }
  if (!TS_DIR.test(target)) return undefined;
  try {
    return lstatSync(join(dir, target)).isDirectory() ? target : undefined;
  } catch (err) {
    if (isNotExist(err)) return undefined;
    throw err;
  }
}

/** Whether the current version holds exactly these files with these modes (nothing to write then). */
function unchanged(dir: string, ts: string, files: VolumeFile[]): boolean {
  const base = join(dir, ts);
  const present: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else present.push(p);
    }
  };
  walk('');
  if (present.length !== files.length) return false;
  for (const f of files) {
    const abs = join(base, f.path);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st?.isFile() || (st.mode & 0o7777) !== f.mode || st.size !== f.data.length) return false;
    if (!readFileSync(abs).equals(f.data)) return false;
  }
  return true;
}

function utcStamp(now: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}_${two(now.getUTCMonth() + 1)}_${two(now.getUTCDate())}_${two(now.getUTCHours())}_${two(now.getUTCMinutes())}_${two(now.getUTCSeconds())}`;
}

/** Creates a file that must not exist yet, never following a link at its name. */
function createFile(abs: string, data: Buffer, mode: number): void {
  const fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
  } finally {
    closeSync(fd);
  }
}

export interface WriteOptions {
  /** Called on the new version's directory before it is published (fsGroup ownership). */
  setPerms?: (tsDir: string) => Promise<void>;
  now?: Date;
}

/** Publishes `files` as the volume's content; true when something changed. Paths must pass validPath. */
export async function writeAtomic(dir: string, files: VolumeFile[], opts: WriteOptions = {}): Promise<boolean> {
  for (const f of files) {
    const bad = validPath(f.path);
    if (bad) throw new Error(`volume file path "${f.path}" ${bad}`);
  }
  const old = currentDir(dir);
  if (old && unchanged(dir, old, files)) return false;

  const tsAbs = mkdtempSync(join(dir, `..${utcStamp(opts.now ?? new Date())}.`));
  const ts = posix.basename(tsAbs);
  try {
    for (const f of files) {
      const parent = posix.dirname(f.path);
      if (parent !== '.') mkdirSync(join(tsAbs, parent), { recursive: true, mode: 0o755 });
      createFile(join(tsAbs, f.path), f.data, f.mode);
      chmodSync(join(tsAbs, f.path), f.mode);
    }
    chmodSync(tsAbs, 0o755);
    await opts.setPerms?.(tsAbs);
    // The swap: a new link under a temporary name, renamed over "..data" (rename replaces the link, never follows it).
    rmSync(join(dir, DATA_TMP), { force: true });
    symlinkSync(ts, join(dir, DATA_TMP));
    renameSync(join(dir, DATA_TMP), join(dir, DATA));
  } catch (err) {
    rmSync(tsAbs, { recursive: true, force: true });
    throw err;
  }
  publishNames(dir, files);
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
  removeStaleVersions(dir, ts);
  return true;
}

/** The top-level names as links into "..data"; names no longer in the payload removed (the link, not its target). */
function publishNames(dir: string, files: VolumeFile[]): void {
  const wanted = new Set(files.map((f) => f.path.split('/')[0] ?? ''));
  for (const name of wanted) {
    const abs = join(dir, name);
    const want = posix.join(DATA, name);
    let have: string | undefined;
    try {
      have = readlinkSync(abs);
    } catch (err) {
      // Not there (first write or a new key), or there but not a link: it is replaced below.
      if (!isNotExist(err) && errnoOf(err) !== 'EINVAL') throw err;
    }
    if (have === want) continue;
    rmSync(abs, { recursive: true, force: true });
    symlinkSync(want, abs);
  }
  for (const name of readdirSync(dir)) {
    if (name.startsWith('..') || wanted.has(name)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** Versions left by a write that died half way (kubelet leaves at most the current one). */
function removeStaleVersions(dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    if (name !== keep && TS_DIR.test(name)) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/**
 * kubelet's SetVolumeOwnership: group `fsGroup` on everything (links included, never followed), group read (and
 * write unless read-only) on files and directories, setgid on directories. With OnRootMismatch, a volume whose root
 * already has that group and those permissions is left as it is.
 */
export async function setVolumeOwnership(root: string, fsGroup: number, readOnly: boolean, onRootMismatch = false): Promise<void> {
  const mask = readOnly ? 0o440 : 0o660;
  const dirMask = mask | 0o110 | 0o2000;
  if (onRootMismatch) {
    const st = await lstat(root);
    if (st.gid === fsGroup && (st.mode & dirMask) === dirMask) return;
  }
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    await lchown(p, st.uid, fsGroup);
    if (st.isSymbolicLink()) return;
    await chmod(p, (st.mode & 0o7777) | (st.isDirectory() ? dirMask : mask));
    if (st.isDirectory()) for (const name of await readdir(p)) await walk(join(p, name));
  };
  await walk(root);
}
