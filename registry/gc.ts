// Garbage collection of blobs no manifest references, safe while pushes run: mark from every manifest revision (and
// keep blobs and links younger than the grace period), then, holding the write lock that manifest pushes share, add
// what requests made live since the mark began and sweep the rest. Expired uploads go too.
import type { RwLock } from './lock.js';
import { referencesOf } from './manifests.js';
import type { RegistryStore } from './store.js';
import type { Uploads } from './uploads.js';
import { logger } from '../lib/logger.js';

const log = logger('registry');

export interface GcOptions {
  /** Blobs and repository links younger than this are kept (a push between its blobs and its manifest). */
  graceMs: number;
  /** Uploads untouched for this long are removed. */
  uploadTtlMs: number;
  /** Report what would go, remove nothing. */
  dryRun?: boolean;
}

export interface GcReport {
  blobs: number;
  kept: number;
  deleted: string[];
  bytesFreed: number;
  uploadsExpired: number;
  dryRun: boolean;
}

export async function collectGarbage(store: RegistryStore, uploads: Uploads, lock: RwLock, opts: GcOptions): Promise<GcReport> {
  const started = Date.now();
  const cutoff = started - opts.graceMs;
  store.beginTracking();
  try {
    const marked = new Set<string>();
    const mark = async (digest: string): Promise<void> => {
      if (marked.has(digest)) return;
      marked.add(digest);
      const body = await store.readBlob(digest).catch((err: unknown) => {
        log.warn('manifest of a revision is missing', { digest, error: String(err) });
        return undefined;
      });
      if (body) for (const d of referencesOf(body)) marked.add(d);
    };
    for (const repo of await store.repositories()) {
      for (const rev of await store.revisionsOf(repo)) await mark(rev.digest);
      for (const link of await store.linksOf(repo)) if (link.mtimeMs >= cutoff) marked.add(link.digest);
    }
    const blobs = await store.allBlobs();
    const release = await lock.write();
    const deleted: string[] = [];
    let bytesFreed = 0;
    try {
      // Manifests pushed and blobs linked or checked since the mark began (their pushes hold the read lock).
      for (const d of store.trackedNow()) marked.add(d);
      for (const b of blobs) {
        if (marked.has(b.digest) || b.mtimeMs >= cutoff) continue;
        if (!opts.dryRun) await store.removeBlob(b.digest);
        deleted.push(b.digest);
        bytesFreed += b.size;
      }
    } finally {
      release();
    }
    const uploadsExpired = opts.dryRun ? 0 : await uploads.expire(Date.now() - opts.uploadTtlMs);
    const report = { blobs: blobs.length, kept: blobs.length - deleted.length, deleted, bytesFreed, uploadsExpired, dryRun: Boolean(opts.dryRun) };
    log.info('registry garbage collection', { blobs: report.blobs, deleted: deleted.length, bytesFreed, uploadsExpired, dryRun: report.dryRun, ms: Date.now() - started });
    return report;
  } finally {
    store.endTracking();
  }
}
