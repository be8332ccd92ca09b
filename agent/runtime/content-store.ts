// Content-addressed blob store (root/content/blobs/sha256/<hex>): nothing enters it unless its digest checks out.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RuntimeError, invalid } from '../cri/errors.js';
import { exists } from './files.js';

export class DigestMismatchError extends RuntimeError {
  constructor(what: string, expected: string, actual: string) {
    super('FailedPrecondition', `digest mismatch for ${what}: expected ${expected}, got ${actual}`, false);
  }
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function hexOf(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m?.[1]) throw invalid(`unsupported or malformed digest "${digest}"`);
  return m[1];
}

export class ContentStore {
  readonly dir: string;
  private readonly blobs: string;
  private readonly ingest: string;

  constructor(root: string) {
    this.dir = join(root, 'content');
    this.blobs = join(this.dir, 'blobs', 'sha256');
    this.ingest = join(this.dir, 'ingest');
  }

  async init(): Promise<void> {
    // Ingest files are uniquely named and removed by whoever wrote them, so another store object on the
    // same root (loadImageArchive beside a running service) never disturbs a download.
    await mkdir(this.blobs, { recursive: true });
    await mkdir(this.ingest, { recursive: true });
  }

  path(digest: string): string {
    return join(this.blobs, hexOf(digest));
  }

  has(digest: string): Promise<boolean> {
    return exists(this.path(digest));
  }

  async read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  open(digest: string): Readable {
    return createReadStream(this.path(digest));
  }

  /** Stores bytes already in memory, verifying them against `expected` when given. */
  async putBytes(data: Uint8Array, expected?: string, what = 'blob'): Promise<string> {
    const actual = sha256(data);
    if (expected && actual !== expected) throw new DigestMismatchError(what, expected, actual);
    if (await this.has(actual)) return actual;
    const tmp = join(this.ingest, randomBytes(8).toString('hex'));
    await writeFile(tmp, data);
    await rename(tmp, this.path(actual));
    return actual;
  }

  /**
   * Streams a blob in, hashing as it goes; it lands in the store only when digest (and size) match. onBytes hears of
   * each chunk as it arrives (pull progress).
   */
  async putStream(source: Readable, expected: string, expectedSize: number | undefined, what = 'blob', onBytes?: (n: number) => void): Promise<void> {
    hexOf(expected);
    const tmp = join(this.ingest, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    // The size is held to the descriptor as the bytes arrive: a registry that sends more is cut off at once.
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        onBytes?.(chunk.length);
        if (expectedSize !== undefined && size > expectedSize) {
          cb(new RuntimeError('FailedPrecondition', `size mismatch for ${what}: more than the ${expectedSize} bytes its descriptor says`, false));
          return;
        }
        cb(null, chunk);
      },
    });
    try {
      await pipeline(source, tap, createWriteStream(tmp));
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== expected) throw new DigestMismatchError(what, expected, actual);
      if (expectedSize !== undefined && size !== expectedSize) {
        throw new RuntimeError('FailedPrecondition', `size mismatch for ${what}: expected ${expectedSize} bytes, got ${size}`, false);
      }
      await rename(tmp, this.path(expected));
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  async list(): Promise<string[]> {
    return (await readdir(this.blobs)).map((h) => `sha256:${h}`);
  }
}
