// Resolves a path inside a root directory as if the root were "/" (containerd's continuity fs.RootPath): every
// symlink met on the way is read and followed inside the root, an absolute target restarts at the root, and ".."
// stops at the root. The result has no symlink in it and never leaves the root.
import { lstatSync, readlinkSync } from 'node:fs';
import { errnoOf, isNotExist } from '../../lib/errno.js';

/** As Linux's MAXSYMLINKS: a chain longer than this is a loop. */
const MAX_LINKS = 40;

export class RootPathError extends Error {
  override name = 'RootPathError';
}

/**
 * A resolver for one root. `known` holds resolved directories this process made or found (none of them a symlink),
 * so that a deep tree is not lstat'ed component by component for each entry; `forget` drops a removed subtree.
 * Only correct while nothing else writes under the root (an image layer being unpacked into a private directory).
 */
export class RootResolver {
  private readonly known = new Set<string>();

  constructor(readonly root: string) {}

  /** Marks `abs` (a resolved path under the root) as a real directory. */
  remember(abs: string): void {
    this.known.add(abs);
  }

  isKnown(abs: string): boolean {
    return this.known.has(abs);
  }

  /** Forgets `abs` and everything under it (it was removed or replaced). */
  forget(abs: string): void {
    if (!this.known.size) return;
    const prefix = `${abs}/`;
    for (const k of this.known) if (k === abs || k.startsWith(prefix)) this.known.delete(k);
  }

  /** The host path of `rel` (components separated by "/"; a leading "/" means the root), every component resolved. */
  resolve(rel: string): string {
    const out: string[] = [];
    let queue = rel.split('/');
    let links = 0;
    while (queue.length) {
      const part = queue.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        out.pop();
        continue;
      }
      const candidate = `${this.root}/${[...out, part].join('/')}`;
      if (this.known.has(candidate)) {
        out.push(part);
        continue;
      }
      const st = lstatOrUndefined(candidate);
      if (st?.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw new RootPathError(`too many levels of symbolic links resolving "${rel}"`);
        const target = readlinkSync(candidate);
        if (target.startsWith('/')) out.length = 0;
        queue = [...target.split('/'), ...queue];
        continue;
      }
      out.push(part);
      if (st?.isDirectory()) this.known.add(candidate);
    }
    return out.length ? `${this.root}/${out.join('/')}` : this.root;
  }
}

function lstatOrUndefined(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    // Not there (yet), or a component on the way is a file: the caller finds out when it makes or opens it.
    if (isNotExist(err) || errnoOf(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}
