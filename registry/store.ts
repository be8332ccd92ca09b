// The registry's disk: content-addressed blobs (root/blobs/sha256/ab/<hex>), and per repository the links that say
// what it holds (root/repositories/<name>/_layers/<hex>, _manifests/revisions/<hex>, _manifests/tags/<tag>,
// _referrers/<subject hex>/<hex>). A manifest's body is a blob; its revision file keeps what GETs and the referrers
// API answer with (media type, size, artifact type, subject, annotations).
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hexOf } from './names.js';

export interface ManifestMeta {
  mediaType: string;
  size: number;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
}

export interface StoredManifest {
  digest: string;
  meta: ManifestMeta;
  body: Buffer;
}

/** The bytes of manifests kept in memory (manifest GETs are the hot path of pulls). */
const MANIFEST_CACHE_BYTES = 64 * 1024 * 1024;

async function statOrUndefined(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const st = await stat(path);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

const TMP = /\.[0-9a-f-]{36}\.tmp$/;

/** The files of a directory named by sha256 hex, as digests with their modification times. */
async function digestEntries(dir: string): Promise<{ digest: string; mtimeMs: number }[]> {
  const out: { digest: string; mtimeMs: number }[] = [];
  for (const h of await listDir(dir)) {
    const st = /^[a-f0-9]{64}$/.test(h) ? await statOrUndefined(join(dir, h)) : undefined;
    if (st) out.push({ digest: `sha256:${h}`, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** A small file's parsed content, kept in `cache` once read; undefined when the file does not exist. */
async function cachedRead<T>(cache: Map<string, T>, key: string, path: string, parse: (text: string) => T): Promise<T | undefined> {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
  const value = parse(text);
  cache.set(key, value);
  return value;
}

/** Writes a small file atomically (temporary name, then rename). */
export async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export class RegistryStore {
  readonly blobsDir: string;
  readonly uploadsDir: string;
  readonly reposDir: string;
  private readonly manifests = new Map<string, Buffer>();
  private manifestBytes = 0;
  private readonly tags = new Map<string, string>();
  private readonly revisions = new Map<string, ManifestMeta>();
  /** While the collector runs: every digest linked, touched or referenced by a new manifest since it began. */
  private tracked: Set<string> | undefined;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.uploadsDir = join(root, 'uploads');
    this.reposDir = join(root, 'repositories');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
    await mkdir(this.reposDir, { recursive: true });
  }

  blobPath(digest: string): string {
    const hex = hexOf(digest);
    return join(this.blobsDir, hex.slice(0, 2), hex);
  }

  private repoDir(name: string): string {
    return join(this.reposDir, ...name.split('/'));
  }

  private layerLink(name: string, digest: string): string {
    return join(this.repoDir(name), '_layers', hexOf(digest));
  }

  private revisionPath(name: string, digest: string): string {
    return join(this.repoDir(name), '_manifests', 'revisions', hexOf(digest));
  }

  private tagPath(name: string, tag: string): string {
    return join(this.repoDir(name), '_manifests', 'tags', tag);
  }

  /** Starts recording the digests that requests make live (the collector keeps them). */
  beginTracking(): void {
    this.tracked = new Set();
  }

  /** Stops recording; returns what was recorded. */
  endTracking(): Set<string> {
    const out = this.tracked ?? new Set<string>();
    this.tracked = undefined;
    return out;
  }

  /** Digests made live now (when the collector runs). */
  track(digests: Iterable<string>): void {
    if (this.tracked) for (const d of digests) this.tracked.add(d);
  }

  /** The digests recorded so far. */
  trackedNow(): ReadonlySet<string> {
    return this.tracked ?? new Set();
  }

  /** The blob's size, or undefined when the registry does not have it. */
  async blobSize(digest: string): Promise<number | undefined> {
    return (await statOrUndefined(this.blobPath(digest)))?.size;
  }

  /** Moves a verified file into place as the blob `digest` (atomically; a blob already there is the same bytes). */
  async commitBlob(file: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    await mkdir(dirname(target), { recursive: true });
    await rename(file, target);
  }

  async putBlobBytes(data: Buffer, digest: string): Promise<void> {
    if ((await this.blobSize(digest)) !== undefined) return this.touch(this.blobPath(digest));
    const tmp = join(this.uploadsDir, `${randomUUID()}.tmp`);
    await writeFile(tmp, data);
    await this.commitBlob(tmp, digest);
  }

  async readBlob(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  /** Records that repository `name` holds blob `digest` (a push or a mount); a new link is young for the collector. */
  async linkBlob(name: string, digest: string): Promise<void> {
    this.track([digest]);
    const link = this.layerLink(name, digest);
    if (await statOrUndefined(link)) return this.touch(link);
    await mkdir(dirname(link), { recursive: true });
    await writeFile(link, '');
  }

  /** The size of a blob that `name` holds, or undefined. */
  async repoBlobSize(name: string, digest: string): Promise<number | undefined> {
    if (!(await statOrUndefined(this.layerLink(name, digest)))) return undefined;
    return this.blobSize(digest);
  }

  /** Touches a link that a client just learnt of (HEAD), so the collector's grace period covers the manifest to come. */
  async touchLink(name: string, digest: string, olderThanMs: number): Promise<void> {
    const link = this.layerLink(name, digest);
    this.track([digest]);
    const st = await statOrUndefined(link);
    if (st && Date.now() - st.mtimeMs > olderThanMs) await this.touch(link);
  }

  async unlinkBlob(name: string, digest: string): Promise<boolean> {
    const link = this.layerLink(name, digest);
    if (!(await statOrUndefined(link))) return false;
    await rm(link, { force: true });
    return true;
  }

  private async touch(path: string): Promise<void> {
    const now = new Date();
    await utimes(path, now, now);
  }

  /** Stores a manifest revision (body as a blob), its referrer entry, and the tag when given. */
  async putManifest(name: string, digest: string, body: Buffer, meta: ManifestMeta, tag?: string): Promise<void> {
    await this.putBlobBytes(body, digest);
    await writeAtomic(this.revisionPath(name, digest), JSON.stringify(meta));
    this.revisions.set(`${name}@${digest}`, meta);
    this.cacheManifest(digest, body);
    if (meta.subject) {
      const entry = join(this.repoDir(name), '_referrers', hexOf(meta.subject), hexOf(digest));
      await mkdir(dirname(entry), { recursive: true });
      await writeFile(entry, '');
    }
    if (tag) {
      await writeAtomic(this.tagPath(name, tag), digest);
      this.tags.set(`${name}:${tag}`, digest);
    }
  }

  private cacheManifest(digest: string, body: Buffer): void {
    if (this.manifests.has(digest) || body.length > MANIFEST_CACHE_BYTES / 16) return;
    while (this.manifestBytes + body.length > MANIFEST_CACHE_BYTES) {
      const oldest = this.manifests.keys().next().value;
      if (oldest === undefined) break;
      this.manifestBytes -= this.manifests.get(oldest)?.length ?? 0;
      this.manifests.delete(oldest);
    }
    this.manifests.set(digest, body);
    this.manifestBytes += body.length;
  }

  /** The digest a tag points at, or undefined. */
  async resolveTag(name: string, tag: string): Promise<string | undefined> {
    return cachedRead(this.tags, `${name}:${tag}`, this.tagPath(name, tag), (text) => text.trim());
  }

  async revision(name: string, digest: string): Promise<ManifestMeta | undefined> {
    return cachedRead(this.revisions, `${name}@${digest}`, this.revisionPath(name, digest), (text) => JSON.parse(text) as ManifestMeta);
  }

  /** A manifest of repository `name` by digest, or undefined. */
  async manifest(name: string, digest: string): Promise<StoredManifest | undefined> {
    const meta = await this.revision(name, digest);
    if (!meta) return undefined;
    let body = this.manifests.get(digest);
    if (!body) {
      body = await this.readBlob(digest);
      this.cacheManifest(digest, body);
    }
    return { digest, meta, body };
  }

  /** Removes a manifest revision, the tags that point at it and its referrer entry; false when there was none. */
  async deleteManifest(name: string, digest: string): Promise<boolean> {
    const meta = await this.revision(name, digest);
    if (!meta) return false;
    for (const tag of await this.tagList(name)) {
      if ((await this.resolveTag(name, tag)) === digest) await this.deleteTag(name, tag);
    }
    if (meta.subject) await rm(join(this.repoDir(name), '_referrers', hexOf(meta.subject), hexOf(digest)), { force: true });
    await rm(this.revisionPath(name, digest), { force: true });
    this.revisions.delete(`${name}@${digest}`);
    return true;
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    this.tags.delete(`${name}:${tag}`);
    const path = this.tagPath(name, tag);
    if (!(await statOrUndefined(path))) return false;
    await rm(path, { force: true });
    return true;
  }

  /** The repository's tags, sorted. */
  async tagList(name: string): Promise<string[]> {
    return (await listDir(join(this.repoDir(name), '_manifests', 'tags'))).filter((t) => !TMP.test(t)).sort();
  }

  async repositoryExists(name: string): Promise<boolean> {
    const dir = this.repoDir(name);
    return Boolean((await statOrUndefined(join(dir, '_manifests'))) ?? (await statOrUndefined(join(dir, '_layers'))));
  }

  /** Every repository (a directory with manifests or layers), sorted. */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await listDir(dir);
      if (entries.includes('_manifests') || entries.includes('_layers')) out.push(prefix);
      for (const e of entries) {
        if (!e.startsWith('_')) await walk(join(dir, e), prefix ? `${prefix}/${e}` : e);
      }
    };
    await walk(this.reposDir, '');
    return out.filter(Boolean).sort();
  }

  /** Digests of the manifests in `name` whose subject is `subject`. */
  async referrers(name: string, subject: string): Promise<string[]> {
    return (await listDir(join(this.repoDir(name), '_referrers', hexOf(subject)))).map((h) => `sha256:${h}`);
  }

  /** Every manifest revision of a repository, with when it was written. */
  async revisionsOf(name: string): Promise<{ digest: string; mtimeMs: number }[]> {
    return digestEntries(join(this.repoDir(name), '_manifests', 'revisions'));
  }

  /** Every blob link of a repository, with when it was last written or touched. */
  async linksOf(name: string): Promise<{ digest: string; mtimeMs: number }[]> {
    return digestEntries(join(this.repoDir(name), '_layers'));
  }

  /** Every blob on disk, with its size and age. */
  async allBlobs(): Promise<{ digest: string; size: number; mtimeMs: number }[]> {
    const out: { digest: string; size: number; mtimeMs: number }[] = [];
    for (const fan of await listDir(this.blobsDir)) {
      for (const h of await listDir(join(this.blobsDir, fan))) {
        if (!/^[a-f0-9]{64}$/.test(h)) continue;
        const st = await statOrUndefined(join(this.blobsDir, fan, h));
        if (st) out.push({ digest: `sha256:${h}`, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    return out;
  }

  async removeBlob(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }
}
