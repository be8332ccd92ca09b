// Blob uploads: monolithic or in chunks, hashed as the bytes arrive, kept under root/uploads/<uuid> and moved into the
// blob store only when the digest the client names checks out; a mismatch leaves nothing behind.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { RegistryError, digestInvalid, uploadUnknown } from './errors.js';
import { hexOf } from './names.js';
import type { RegistryStore } from './store.js';

export interface Upload {
  id: string;
  name: string;
  dir: string;
  /** Bytes received so far. */
  size: number;
  /** The running sha256 of those bytes; undefined after a restart or a broken chunk (the file is hashed again). */
  hash: Hash | undefined;
  busy: boolean;
  startedAt: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class Uploads {
  private readonly open = new Map<string, Upload>();

  constructor(
    private readonly store: RegistryStore,
    private readonly maxBlobBytes: number,
  ) {}

  async start(name: string): Promise<Upload> {
    const id = randomUUID();
    const dir = join(this.store.uploadsDir, id);
    await mkdir(dir);
    const startedAt = Date.now();
    await writeFile(join(dir, 'info.json'), JSON.stringify({ name, startedAt }));
    await writeFile(join(dir, 'data'), '');
    const upload: Upload = { id, name, dir, size: 0, hash: createHash('sha256'), busy: false, startedAt };
    this.open.set(id, upload);
    return upload;
  }

  /** An upload of repository `name` (from memory, or from disk after a restart). */
  async get(name: string, id: string): Promise<Upload> {
    if (!UUID.test(id)) throw uploadUnknown(id.slice(0, 64));
    const known = this.open.get(id);
    if (known) {
      if (known.name !== name) throw uploadUnknown(id);
      return known;
    }
    const dir = join(this.store.uploadsDir, id);
    let info: { name?: unknown; startedAt?: unknown };
    let size: number;
    try {
      info = JSON.parse(await readFile(join(dir, 'info.json'), 'utf8')) as typeof info;
      size = (await stat(join(dir, 'data'))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw uploadUnknown(id);
      throw err;
    }
    if (info.name !== name) throw uploadUnknown(id);
    const upload: Upload = { id, name, dir, size, hash: undefined, busy: false, startedAt: typeof info.startedAt === 'number' ? info.startedAt : 0 };
    this.open.set(id, upload);
    return upload;
  }

  /** Whether an upload is in flight (the collector leaves young uploads alone). */
  inFlight(): number {
    return this.open.size;
  }

  /**
   * Appends a chunk. `start` (from Content-Range) must be where the upload stands: a chunk out of order is refused
   * with 416 and the upload is left as it was.
   */
  async append(upload: Upload, source: Readable, start?: number, end?: number): Promise<void> {
    if (start !== undefined && start !== upload.size) {
      throw new RegistryError(416, 'BLOB_UPLOAD_INVALID', `chunk starts at ${start}, the upload is at ${upload.size}`, { range: `0-${upload.size - 1}` }, uploadHeaders(upload));
    }
    if (upload.busy) throw new RegistryError(416, 'BLOB_UPLOAD_INVALID', 'another chunk of this upload is being written', undefined, uploadHeaders(upload));
    upload.busy = true;
    const before = upload.size;
    let added = 0;
    try {
      added = await appendHashed(source, join(upload.dir, 'data'), upload.hash, this.maxBlobBytes - before);
      upload.size = before + added;
    } catch (err) {
      // What reached the file is not known exactly: hash it again at the end.
      upload.hash = undefined;
      upload.size = (await stat(join(upload.dir, 'data')).catch(() => ({ size: before }))).size;
      // An upload over the size limit is over for good.
      if (err instanceof RegistryError && err.status === 413) await this.cancel(upload);
      throw err;
    } finally {
      upload.busy = false;
    }
    if (start !== undefined && end !== undefined && end - start + 1 !== added) {
      throw new RegistryError(416, 'BLOB_UPLOAD_INVALID', `Content-Range says ${end - start + 1} bytes, the body had ${added}`, undefined, uploadHeaders(upload));
    }
  }

  /** Ends an upload: the digest must match what was received, then the blob moves into place and is linked. */
  async finish(upload: Upload, digest: string, source?: Readable): Promise<void> {
    hexOf(digest);
    if (source) await this.append(upload, source);
    const actual = `sha256:${(upload.hash ?? (await hashFile(join(upload.dir, 'data')))).digest('hex')}`;
    upload.hash = undefined;
    if (actual !== digest) {
      await this.cancel(upload);
      throw digestInvalid('provided digest did not match uploaded content', { expected: digest, actual });
    }
    await this.store.commitBlob(join(upload.dir, 'data'), digest);
    await this.store.linkBlob(upload.name, digest);
    await this.cancel(upload);
  }

  async cancel(upload: Upload): Promise<void> {
    this.open.delete(upload.id);
    await rm(upload.dir, { recursive: true, force: true });
  }

  /** Removes uploads started before `cutoffMs` that no request is writing. */
  async expire(cutoffMs: number): Promise<number> {
    let removed = 0;
    const ids = await readdir(this.store.uploadsDir);
    for (const id of ids) {
      const dir = join(this.store.uploadsDir, id);
      if (!UUID.test(id)) {
        // A stray temporary file of a manifest write.
        const st = await stat(dir).catch(() => undefined);
        if (st && st.mtimeMs < cutoffMs) await rm(dir, { recursive: true, force: true });
        continue;
      }
      const known = this.open.get(id);
      if (known?.busy) continue;
      const st = await stat(join(dir, 'data')).catch(() => stat(dir).catch(() => undefined));
      if (st && st.mtimeMs < cutoffMs) {
        this.open.delete(id);
        await rm(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}

/** Writes in batches of about this many bytes (fewer system calls than one write per socket read). */
const BATCH_BYTES = 1 << 20;

/**
 * Appends a stream to a file, updating `hash` with each chunk as it arrives; refuses (413) past `room` bytes.
 * Returns the bytes appended.
 */
async function appendHashed(source: Readable, path: string, hash: Hash | undefined, room: number): Promise<number> {
  const fh = await open(path, 'a');
  let added = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    await fh.writev(chunks);
  };
  try {
    for await (const chunk of source) {
      const b = chunk as Buffer;
      added += b.length;
      if (added > room) throw new RegistryError(413, 'SIZE_INVALID', 'blob larger than the registry accepts');
      hash?.update(b);
      batch.push(b);
      batchBytes += b.length;
      if (batchBytes >= BATCH_BYTES) await flush();
    }
    await flush();
  } catch (err) {
    // The bytes received before the failure (hashed already) still go to the file, so that the upload can resume
    // from them; if even that fails, the caller hashes the file again.
    await flush();
    throw err;
  } finally {
    await fh.close();
  }
  return added;
}

async function hashFile(path: string): Promise<Hash> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash;
}

/** Location, Range and Docker-Upload-UUID of an upload, as every upload response carries them. */
export function uploadHeaders(upload: Upload): Record<string, string> {
  return {
    location: `/v2/${upload.name}/blobs/uploads/${upload.id}`,
    range: `0-${Math.max(upload.size - 1, 0)}`,
    'docker-upload-uuid': upload.id,
  };
}
