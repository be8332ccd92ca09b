// Unpacks one image layer into its own directory, in overlayfs form: OCI whiteouts become 0/0 char devices.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { DigestMismatchError } from './content-store.js';
import { RuntimeError } from '../cri/errors.js';
import { run } from './exec.js';
import { lexists, readJson } from './files.js';

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

function clean(p: string): string {
  return posix.normalize(`/${p}`).slice(1).replace(/\/$/, '');
}

/**
 * Unpacks `blob` into `snapshot/fs`. `lowers` are the fs dirs of the layers below, top first; they are
 * needed to express opaque directories without xattrs (every lower entry gets a whiteout instead).
 */
export async function unpackLayer(blob: Readable, compression: 'gzip' | 'none', snapshot: string, lowers: string[], diffId: string): Promise<void> {
  const fs = join(snapshot, 'fs');
  await mkdir(fs, { recursive: true });
  const whiteouts: string[] = [];
  const opaque: string[] = [];
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const extract = tar.x({
    cwd: fs,
    preserveOwner: true,
    chmod: true,
    processUmask: 0,
    filter: (path) => {
      const p = clean(path);
      const base = posix.basename(p);
      if (base === OPAQUE) {
        opaque.push(posix.dirname(p) === '.' ? '' : posix.dirname(p));
        return false;
      }
      if (base.startsWith(WH)) {
        whiteouts.push(posix.join(posix.dirname(p), base.slice(WH.length)));
        return false;
      }
      return true;
    },
  });
  const sink = extract as unknown as NodeJS.WritableStream;
  if (compression === 'gzip') await pipeline(blob, createGunzip(), tap, sink);
  else await pipeline(blob, tap, sink);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== diffId) throw new DigestMismatchError(`uncompressed layer (diff_id)`, diffId, actual);

  const nodes = new Set(whiteouts);
  for (const dir of opaque) {
    for (const name of await visibleNames(lowers, dir)) {
      const p = dir ? `${dir}/${name}` : name;
      // A lower name this layer does not have itself is hidden under the opaque directory by a whiteout node.
      if (!(await lexists(join(fs, p)))) nodes.add(p);
    }
  }
  if (nodes.size > 0) {
    const paths = [...nodes].map((p) => join(fs, p));
    for (const p of paths) {
      await mkdir(dirname(p), { recursive: true });
      await rm(p, { recursive: true, force: true });
    }
    // One shell for all whiteouts: Node has no mknod.
    await run('sh', ['-c', 'for p; do mknod "$p" c 0 0 || exit 1; done', 'sh', ...paths]);
  }
  const meta: LayerMeta = { opaque };
  await writeFile(join(snapshot, META), JSON.stringify(meta));
}

/** What unpacking recorded about a layer; a layer without a record (none of its directories opaque) has none. */
function readMeta(fsDir: string): Promise<LayerMeta> {
  return readJson<LayerMeta>(join(dirname(fsDir), META), { opaque: [] });
}


/** Names visible in `dir` when the lower layers (top first) are merged. */
async function visibleNames(lowers: string[], dir: string): Promise<string[]> {
  const seen = new Set<string>();
  const hidden = new Set<string>();
  for (const lower of lowers) {
    const abs = join(lower, dir);
    // A lower layer without this directory adds no names to it.
    if (!(await lexists(abs))) continue;
    const st = await lstat(abs);
    if (!st.isDirectory()) break;
    for (const name of await readdir(abs)) {
      const e = await lstat(join(abs, name));
      if (e.isCharacterDevice() && e.rdev === 0) hidden.add(name);
      else if (!hidden.has(name)) seen.add(name);
    }
    if ((await readMeta(lower)).opaque.includes(dir)) break;
  }
  return [...seen];
}
