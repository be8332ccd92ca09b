// Unpacks one image layer into its own directory, in overlayfs form (OCI whiteouts become 0/0 char devices), the way
// containerd's pkg/archive/tar.go applies a layer: each entry's parent is resolved inside the layer's root with
// RootResolver (symlinks followed as if the root were "/", never out of it), the entry itself is never followed, a
// name with ".." or a hard link to outside the layer fails the pull, and links, devices, owners, setuid bits and
// SCHILY.xattr records (file capabilities) are kept as the image has them.
import { createHash } from 'node:crypto';
import { closeSync, constants, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, chmodSync, utimesSync, writeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DigestMismatchError } from './content-store.js';
import { RuntimeError } from '../cri/errors.js';
import { run } from './command-runner.js';
import { lexists, readJson } from './files.js';
import { errnoOf, isNotExist } from '../../lib/errno.js';
import { RootPathError, RootResolver } from './root-path.js';
import { type TarEntry, TarFormatError, readTar } from './tar-reader.js';

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const META = 'layer.json';

interface LayerMeta {
  /** Directories (relative, no leading slash) that hide everything below them in lower layers. */
  opaque: string[];
}

export function layerCompression(mediaType: string): 'gzip' | 'none' {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip') || mediaType.endsWith('tar.gzip')) return 'gzip';
  if (mediaType.endsWith('.tar') || mediaType.endsWith('+tar') || mediaType.endsWith('rootfs.diff.tar')) return 'none';
  if (mediaType.includes('zstd')) throw new RuntimeError('FailedPrecondition', `layer media type ${mediaType} (zstd) is not supported`, false);
  // Unknown types: sniff would need buffering; docker's own types all end in tar.gzip or tar.
  return 'gzip';
}

/** A layer that would reach outside its root, or that cannot be applied: the pull fails with this. */
export class HostileLayerError extends RuntimeError {
  constructor(entry: string, reason: string) {
    super('FailedPrecondition', `layer refused: entry ${JSON.stringify(entry)}: ${reason}`, false);
  }
}

/** The name as a root-relative path ("" for the root); ".." anywhere in it is refused, as GNU tar refuses it. */
function entryPath(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new HostileLayerError(name, 'a path with ".." could leave the layer');
  return parts.join('/');
}

const O_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Applies the entries of one layer to a fresh directory that nothing else writes to meanwhile. */
class LayerWriter {
  readonly r: RootResolver;
  /** Resolved whiteout paths still to be made (char 0/0) once the stream ends: Node has no mknod. */
  readonly whiteouts = new Set<string>();
  readonly opaque = new Set<string>();
  private readonly xattrs = new Map<string, Map<string, Buffer>>();
  private readonly dirTimes = new Map<string, TarEntry>();

  constructor(readonly root: string) {
    this.r = new RootResolver(root);
  }

  /** The resolved parent directory of a root-relative path, made (0755) where missing; never a path outside the root. */
  private parentOf(rel: string, name: string): string {
    const parent = this.r.resolve(posix.dirname(rel) === '.' ? '' : posix.dirname(rel));
    let at = this.root;
    for (const part of parent.slice(this.root.length + 1).split('/').filter(Boolean)) {
      at = `${at}/${part}`;
      if (this.r.isKnown(at)) continue;
      try {
        mkdirSync(at, 0o755);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
        if (!lstatSync(at).isDirectory()) throw new HostileLayerError(name, `${at.slice(this.root.length)} is not a directory`);
      }
      this.r.remember(at);
    }
    return parent;
  }

  /** Removes whatever is at `abs` (a symlink itself, never its target), unless both it and the entry are directories. */
  private clear(abs: string, keepDir: boolean): void {
    let st;
    try {
      st = lstatSync(abs);
    } catch (err) {
      if (isNotExist(err)) return;
      throw err;
    }
    if (keepDir && st.isDirectory()) return;
    rmSync(abs, { recursive: true, force: true });
    this.r.forget(abs);
    this.dropUnder(abs);
  }

  private dropUnder(abs: string): void {
    for (const m of [this.xattrs, this.dirTimes]) for (const k of m.keys()) if (k === abs || k.startsWith(`${abs}/`)) m.delete(k);
  }

  async apply(e: TarEntry, data: AsyncIterable<Buffer>): Promise<void> {
    const rel = entryPath(e.name);
    if (!rel) return; // The root itself: containerd leaves it as it is too.
    const base = posix.basename(rel);
    const parent = this.parentOf(rel, e.name);
    if (base === OPAQUE) {
      this.opaque.add(parent);
      return;
    }
    if (base.startsWith(WH)) {
      const hidden = base.slice(WH.length);
      if (!hidden || hidden === '.' || hidden === '..') throw new HostileLayerError(e.name, 'invalid whiteout name');
      const abs = `${parent}/${hidden}`;
      this.clear(abs, false);
      this.whiteouts.add(abs);
      return;
    }
    const abs = `${parent}/${base}`;
    this.clear(abs, e.type === 'dir');
    this.whiteouts.delete(abs);
    await this.create(e, abs, data);
    // A hard link shares its inode, whose owner, mode and times came with the entry that made it.
    if (e.type === 'link') return;
    lchownSync(abs, e.uid, e.gid);
    if (e.type !== 'symlink') chmodSync(abs, e.mode);
    if (e.xattrs.size) this.xattrs.set(abs, e.xattrs);
    if (e.type === 'dir') this.dirTimes.set(abs, e);
    else if (e.type === 'symlink') lutimesSync(abs, e.atime ?? e.mtime, e.mtime);
    else utimesSync(abs, e.atime ?? e.mtime, e.mtime);
  }

  private async create(e: TarEntry, abs: string, data: AsyncIterable<Buffer>): Promise<void> {
    switch (e.type) {
      case 'dir':
        try {
          mkdirSync(abs, 0o700);
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST') throw err;
        }
        this.r.remember(abs);
        return;
      case 'file': {
        const fd = openSync(abs, O_NEW_FILE, 0o600);
        let written = 0;
        try {
          for await (const chunk of data) {
            for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
            written += chunk.length;
          }
        } finally {
          closeSync(fd);
        }
        if (written !== e.size) throw new TarFormatError(`${e.name}: ${written} of ${e.size} bytes`);
        return;
      }
      case 'symlink':
        // Kept exactly as the image has it (an absolute target is resolved by the container, in its own root).
        symlinkSync(e.linkname, abs);
        return;
      case 'link':
        linkSync(this.linkTarget(e), abs);
        return;
      case 'char':
      case 'block':
        await run('mknod', [abs, e.type === 'char' ? 'c' : 'b', String(e.devmajor), String(e.devminor)]);
        return;
      case 'fifo':
        await run('mknod', [abs, 'p']);
        return;
    }
  }

  /** A hard link's target: inside this layer, not a directory, already there (containerd's hardlinkRootPath). */
  private linkTarget(e: TarEntry): string {
    const rel = entryPath(e.linkname);
    if (!rel) throw new HostileLayerError(e.name, `hard link to the layer root`);
    const target = `${this.r.resolve(posix.dirname(rel) === '.' ? '' : posix.dirname(rel))}/${posix.basename(rel)}`;
    let st;
    try {
      st = lstatSync(target);
    } catch (err) {
      if (isNotExist(err) || errnoOf(err) === 'ENOTDIR') throw new HostileLayerError(e.name, `hard link to ${JSON.stringify(e.linkname)}, which is not in this layer`);
      throw err;
    }
    if (st.isDirectory()) throw new HostileLayerError(e.name, `hard link to the directory ${JSON.stringify(e.linkname)}`);
    return target;
  }

  /** Directory times last (entries written into a directory change its mtime), then the extended attributes. */
  async finish(): Promise<void> {
    for (const [abs, e] of this.dirTimes) utimesSync(abs, e.atime ?? e.mtime, e.mtime);
    if (this.xattrs.size) await setXattrs(this.root, this.xattrs);
  }
}

/** getfattr's quoting: bytes outside printable ASCII, "\" and "=" as \ooo. */
function quotePath(p: string): string {
  let out = '';
  for (const b of Buffer.from(p, 'utf8')) out += b <= 0x20 || b >= 0x7f || b === 0x5c || b === 0x3d ? `\\${b.toString(8).padStart(3, '0')}` : String.fromCharCode(b);
  return out;
}

/**
 * Sets the layer's extended attributes with one `setfattr --restore` (Debian's attr package): Node has no setxattr,
 * and one process per layer with xattrs (most have none) costs less than a native addon to build and ship. This runs
 * after every lchown, since a chown clears security.capability.
 */
async function setXattrs(root: string, attrs: Map<string, Map<string, Buffer>>): Promise<void> {
  const lines: string[] = [];
  for (const [abs, set] of attrs) {
    lines.push(`# file: ${quotePath(abs.slice(root.length + 1))}`);
    for (const [k, v] of set) lines.push(`${quotePath(k)}=0s${v.toString('base64')}`);
    lines.push('');
  }
  try {
    await run('setfattr', ['-h', '--restore=-'], { cwd: root, input: `${lines.join('\n')}\n` });
  } catch (err) {
    if (isNotExist(err)) throw new RuntimeError('FailedPrecondition', 'the layer has extended attributes (file capabilities) and setfattr is missing: install Debian\'s attr package', false);
    throw new RuntimeError('FailedPrecondition', `setting the layer's extended attributes failed: ${err instanceof Error ? err.message : String(err)}`, false);
  }
}

/**
 * Unpacks `blob` into `snapshot/fs`. `lowers` are the fs dirs of the layers below, top first; they are
 * needed to express opaque directories without xattrs (every lower entry gets a whiteout instead).
 */
export async function unpackLayer(blob: Readable, compression: 'gzip' | 'none', snapshot: string, lowers: string[], diffId: string): Promise<void> {
  const fs = join(snapshot, 'fs');
  await mkdir(fs, { recursive: true });
  const w = new LayerWriter(fs);
  const hash = createHash('sha256');
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    try {
      await readTar(source, (b) => hash.update(b), (e, data) => w.apply(e, data));
    } catch (err) {
      if (err instanceof RootPathError) throw new HostileLayerError('', err.message);
      throw err;
    }
  };
  if (compression === 'gzip') await pipeline(blob, createGunzip(), consume);
  else await pipeline(blob, consume);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== diffId) throw new DigestMismatchError(`uncompressed layer (diff_id)`, diffId, actual);
  await w.finish();

  const nodes = new Set(w.whiteouts);
  for (const abs of w.opaque) {
    const dir = abs.slice(fs.length + 1);
    for (const name of await visibleNames(lowers, dir)) {
      // A lower name this layer does not have itself is hidden under the opaque directory by a whiteout node.
      const p = dir ? `${fs}/${dir}/${name}` : `${fs}/${name}`;
      if (!(await lexists(p))) nodes.add(p);
    }
  }
  if (nodes.size > 0) {
    // One shell for all whiteouts: Node has no mknod. Each path is resolved (no symlink in it) and not there.
    await run('sh', ['-c', 'for p; do mknod "$p" c 0 0 || exit 1; done', 'sh', ...nodes]);
  }
  const meta: LayerMeta = { opaque: [...w.opaque].map((abs) => abs.slice(fs.length + 1)) };
  await writeFile(join(snapshot, META), JSON.stringify(meta));
}

/** What unpacking recorded about a layer; a layer without a record (none of its directories opaque) has none. */
function readMeta(fsDir: string): Promise<LayerMeta> {
  return readJson<LayerMeta>(join(dirname(fsDir), META), { opaque: [] });
}

/** What `dir` is in a lower layer, walked without following a symlink. */
function lowerEntry(lower: string, dir: string): { path: string; isDir: boolean } | undefined {
  let at = lower;
  const parts = dir.split('/').filter(Boolean);
  for (const [i, part] of parts.entries()) {
    at = `${at}/${part}`;
    try {
      const st = lstatSync(at);
      if (!st.isDirectory()) return i === parts.length - 1 ? { path: at, isDir: false } : undefined;
    } catch (err) {
      if (isNotExist(err)) return undefined;
      throw err;
    }
  }
  return { path: at, isDir: true };
}

/** Names visible in `dir` when the lower layers (top first) are merged. */
async function visibleNames(lowers: string[], dir: string): Promise<string[]> {
  const seen = new Set<string>();
  const hidden = new Set<string>();
  for (const lower of lowers) {
    const at = lowerEntry(lower, dir);
    // A lower layer without this directory adds no names to it; a file there hides everything below.
    if (!at) continue;
    if (!at.isDir) break;
    for (const name of readdirSync(at.path)) {
      const e = lstatSync(join(at.path, name));
      if (e.isCharacterDevice() && e.rdev === 0) hidden.add(name);
      else if (!hidden.has(name)) seen.add(name);
    }
    if ((await readMeta(lower)).opaque.includes(dir)) break;
  }
  return [...seen];
}
