// Images on disk: records (root/images), shared blobs (root/content), unpacked layers (root/snapshots/<chainid>).
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tar from 'tar';
import { ContentStore, sha256 } from './content-store.js';
import { exists } from './files.js';
import { isNotExist } from '../../lib/errno.js';
import { invalid, notFound } from '../cri/errors.js';
import { KeyedLock } from './keyed-lock.js';
import { layerCompression, unpackLayer } from './layer-unpack.js';
import { type Descriptor, type ImageConfig, type Manifest, isIndex, parseImageConfig, parseManifestOrIndex, pickPlatform } from './oci.js';
import { type ImageReference, formatReference, isDigest, parseReference, repoName } from './reference.js';
import { type Credentials, PullProgress, type RegistryOptions, pullImage } from './registry-client.js';
import { every, realClock, type Clock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export interface ImageRecord {
  /** The config digest, as containerd reports image ids. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string;
  layers: Descriptor[];
  diffIds: string[];
  chainIds: string[];
  size: number;
  config: NonNullable<ImageConfig['config']>;
  source: string;
  /** Milliseconds since the epoch of the last pull or container create: garbage collection goes by it. */
  lastUsedAt?: number;
}

/** What containers hold: never garbage-collected. */
export interface ImagesInUse {
  imageIds: Set<string>;
  chainIds: Set<string>;
}

/** When to remove unused images (kubelet's imageGCHighThresholdPercent, imageGCLowThresholdPercent, imageMinimumGCAge). */
export interface ImageGcPolicy {
  /** Collect once the image filesystem is at least this full (percent). */
  highThresholdPercent: number;
  /** Then remove least recently used images until it is at most this full. */
  lowThresholdPercent: number;
  /** Images used more recently than this are kept. */
  minAgeMs: number;
}

export interface FsUsage {
  usedBytes: number;
  totalBytes: number;
}

/** Usage of the filesystem that holds `path`. */
export async function fsUsage(path: string): Promise<FsUsage> {
  const st = await statfs(path);
  return { usedBytes: (st.blocks - st.bfree) * st.bsize, totalBytes: st.blocks * st.bsize };
}

const percentOf = (u: FsUsage): number => (u.totalBytes ? (100 * u.usedBytes) / u.totalBytes : 0);

export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256(`${prev} ${d}`));
  }
  return out;
}

/** How often a pull still running says so. */
export const PULL_PROGRESS_MS = 5000;

const hex = (digest: string): string => digest.slice('sha256:'.length);

export class ImageStore {
  readonly content: ContentStore;
  private readonly imagesDir: string;
  readonly snapshotsDir: string;
  private readonly locks = new KeyedLock();
  /** Pulls under way, by normalized reference (two pods may pull the same image at once). */
  private readonly pulling = new Map<string, Set<PullProgress>>();

  constructor(
    readonly root: string,
    private readonly registry: RegistryOptions,
    private readonly inUse: () => Promise<ImagesInUse> = async () => ({ imageIds: new Set(), chainIds: new Set() }),
    private readonly clock: Clock = realClock,
  ) {
    this.content = new ContentStore(root);
    this.imagesDir = join(root, 'images');
    this.snapshotsDir = join(root, 'snapshots');
  }

  async init(): Promise<void> {
    await this.content.init();
    await mkdir(this.imagesDir, { recursive: true });
    await mkdir(this.snapshotsDir, { recursive: true });
    // Half-unpacked layers from a crash.
    for (const name of await readdir(this.snapshotsDir)) {
      if (name.includes('.tmp')) await rm(join(this.snapshotsDir, name), { recursive: true, force: true });
    }
  }

  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const f of await readdir(this.imagesDir)) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.imagesDir, f), 'utf8')) as ImageRecord);
      } catch (err) {
        log.warn('image record unreadable', { file: f, error: String(err) });
      }
    }
    return out;
  }

  /** Finds an image by id (full or a 12+ hex prefix), repo:tag, repo@digest or a short name like busybox:1.36. */
  async find(name: string): Promise<ImageRecord | undefined> {
    const images = await this.list();
    const s = name.trim();
    if (isDigest(s)) return images.find((i) => i.id === s || i.manifestDigest === s);
    if (/^[a-f0-9]{12,64}$/.test(s)) {
      const byId = images.find((i) => hex(i.id).startsWith(s));
      if (byId) return byId;
    }
    let ref: ImageReference;
    try {
      ref = parseReference(s);
    } catch (err) {
      // A name that is no image reference names no image here: "not found" is the answer to a lookup.
      log.debug('not an image reference', { name: s, error: String(err) });
      return undefined;
    }
    if (ref.digest) return images.find((i) => i.repoDigests.includes(`${repoName(ref)}@${ref.digest}`) || (i.manifestDigest === ref.digest && i.repoDigests.some((d) => d.startsWith(`${repoName(ref)}@`))));
    const tagged = `${repoName(ref)}:${ref.tag}`;
    return images.find((i) => i.repoTags.includes(tagged));
  }

  async get(name: string): Promise<ImageRecord> {
    const found = await this.find(name);
    if (!found) throw notFound(`image "${name}"`);
    return found;
  }

  async pull(name: string, creds: Credentials = {}): Promise<ImageRecord> {
    const ref = parseReference(name);
    const started = this.clock.now();
    const image = formatReference(ref);
    const bytes = new PullProgress();
    const under = this.pulling.get(image) ?? new Set<PullProgress>();
    this.pulling.set(image, under.add(bytes));
    // A pull that takes more than a few seconds says so every PULL_PROGRESS_MS: a terminal (ketch up) shows what waits.
    const progress = every(
      this.clock,
      PULL_PROGRESS_MS,
      () => log.info('still pulling image', { image, seconds: Math.round((this.clock.now() - started) / 1000), doneBytes: bytes.doneBytes, totalBytes: bytes.totalBytes }),
      (err) => log.debug('pull progress line failed', { error: String(err) }),
      { delayFirst: true },
    );
    try {
      const pulled = await pullImage(ref, this.content, this.registry, creds, bytes);
      const record = await this.register(ref, pulled.manifestDigest, pulled.manifest, pulled.config, pulled.source);
      log.info('image pulled', { image, id: record.id, source: pulled.source, ms: this.clock.now() - started });
      return record;
    } finally {
      progress.cancel();
      under.delete(bytes);
      if (!under.size && this.pulling.get(image) === under) this.pulling.delete(image);
    }
  }

  /** How far a pull of `name` under way has come (the one furthest along), or undefined when none is. */
  pullProgress(name: string): { totalBytes: number; doneBytes: number } | undefined {
    let image: string;
    try {
      image = formatReference(parseReference(name.trim()));
    } catch (err) {
      // Not a reference: nothing by that name is being pulled.
      log.debug('not an image reference', { name, error: String(err) });
      return undefined;
    }
    let best: PullProgress | undefined;
    for (const p of this.pulling.get(image) ?? []) if (p.totalBytes && (!best || p.doneBytes > best.doneBytes)) best = p;
    return best && { totalBytes: best.totalBytes, doneBytes: best.doneBytes };
  }

  /** Records an image whose blobs are all in the content store, and unpacks its layers. */
  private async register(ref: ImageReference, manifestDigest: string, manifest: Manifest, config: ImageConfig, source: string): Promise<ImageRecord> {
    const diffIds = config.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    for (const [i, layer] of manifest.layers.entries()) {
      await this.ensureSnapshot(layer, diffIds[i] ?? '', chains.slice(0, i + 1));
    }
    return this.locks.with('records', async () => {
      const id = manifest.config.digest;
      const existing = (await this.list()).find((r) => r.id === id);
      const tag = ref.tag ? `${repoName(ref)}:${ref.tag}` : undefined;
      const digestRef = `${repoName(ref)}@${manifestDigest}`;
      const record: ImageRecord = existing ?? {
        id,
        repoTags: [],
        repoDigests: [],
        manifestDigest,
        layers: manifest.layers,
        diffIds,
        chainIds: chains,
        size: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
        config: config.config ?? {},
        source,
      };
      if (!record.repoDigests.includes(digestRef)) record.repoDigests.push(digestRef);
      record.lastUsedAt = this.clock.now();
      if (tag) await this.moveTag(record, tag);
      await this.save(record);
      return record;
    });
  }

  /** Gives `record` the tag (not saved here), taking it away from the image that had it: a tag names one image. */
  private async moveTag(record: ImageRecord, tag: string): Promise<void> {
    if (!record.repoTags.includes(tag)) record.repoTags.push(tag);
    for (const other of await this.list()) {
      if (other.id !== record.id && other.repoTags.includes(tag)) {
        other.repoTags = other.repoTags.filter((t) => t !== tag);
        await this.save(other);
      }
    }
  }

  /** `docker tag`: names the image `source` also as `target` (a reference with a tag; default tag latest). */
  async tag(source: string, target: string): Promise<ImageRecord> {
    const ref = parseReference(target);
    if (ref.digest && !ref.tag) throw invalid(`${target}: a tag, not a digest, names a tagged image`);
    const tag = `${repoName(ref)}:${ref.tag ?? 'latest'}`;
    return this.locks.with('records', async () => {
      const record = await this.get(source);
      await this.moveTag(record, tag);
      await this.save(record);
      log.info('image tagged', { image: source, id: record.id, tag });
      return record;
    });
  }

  private async save(record: ImageRecord): Promise<void> {
    const file = join(this.imagesDir, `${hex(record.id)}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(record, null, 1));
    await rename(`${file}.tmp`, file);
  }

  snapshotFs(chainId: string): string {
    return join(this.snapshotsDir, hex(chainId), 'fs');
  }

  private async ensureSnapshot(layer: Descriptor, diffId: string, chain: string[]): Promise<void> {
    const chainId = chain[chain.length - 1] ?? '';
    const dir = join(this.snapshotsDir, hex(chainId));
    await this.locks.with(chainId, async () => {
      if (await exists(join(dir, 'fs'))) return;
      const tmp = `${dir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      const lowers = chain.slice(0, -1).reverse().map((c) => this.snapshotFs(c));
      const started = this.clock.now();
      try {
        await unpackLayer(this.content.open(layer.digest), layerCompression(layer.mediaType), tmp, lowers, diffId);
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      log.debug('layer unpacked', { layer: layer.digest, chainId, ms: this.clock.now() - started });
    });
  }

  /** Removes an image (all its names) and whatever blobs and layers no other image or container uses. */
  async remove(name: string): Promise<boolean> {
    const image = await this.find(name);
    if (!image) return false;
    await this.locks.with('records', async () => {
      await rm(join(this.imagesDir, `${hex(image.id)}.json`), { force: true });
      const rest = await this.list();
      const keepBlobs = new Set<string>();
      const keepChains = (await this.inUse()).chainIds;
      for (const r of rest) {
        keepBlobs.add(r.id).add(r.manifestDigest);
        for (const l of r.layers) keepBlobs.add(l.digest);
        for (const c of r.chainIds) keepChains.add(c);
      }
      for (const d of [image.id, image.manifestDigest, ...image.layers.map((l) => l.digest)]) {
        if (!keepBlobs.has(d)) await this.content.remove(d);
      }
      for (const c of image.chainIds) {
        if (!keepChains.has(c)) await rm(join(this.snapshotsDir, hex(c)), { recursive: true, force: true });
      }
    });
    log.info('image removed', { image: name, id: image.id });
    return true;
  }

  /**
   * Imports an OCI image-layout tar (oci-layout, index.json, blobs/). Each manifest is named by its
   * org.opencontainers.image.ref.name (or io.containerd.image.name) annotation; a bare tag there is put
   * under `opts.name` (default: the file's base name).
   */
  async loadArchive(file: string, opts: { name?: string } = {}): Promise<ImageRecord[]> {
    const dir = await mkdtemp(join(this.root, 'import-'));
    try {
      await tar.x({ file, cwd: dir, preserveOwner: false });
      if (!(await exists(join(dir, 'oci-layout')))) throw invalid(`${file}: not an OCI image layout (no oci-layout file)`);
      const index = parseManifestOrIndex(await readFile(join(dir, 'index.json')), undefined);
      if (!isIndex(index)) throw invalid(`${file}: index.json is not an index`);
      const base = opts.name ?? basename(file).replace(/\.(tar|oci)$/, '').toLowerCase();
      const out: ImageRecord[] = [];
      for (const entry of index.manifests) {
        const annotations = entry.annotations ?? {};
        const refName = annotations['io.containerd.image.name'] ?? annotations['org.opencontainers.image.ref.name'];
        const ref = parseReference(!refName ? base : /[/@]/.test(refName) || refName.includes(':') ? refName : `${base}:${refName}`);
        const blob = async (d: Descriptor): Promise<Buffer> => {
          const path = join(dir, 'blobs', 'sha256', hex(d.digest));
          await this.content.putStream(createReadStream(path), d.digest, d.size, `${d.digest} in ${file}`);
          return this.content.read(d.digest);
        };
        let desc = entry;
        let doc = parseManifestOrIndex(await blob(desc), desc.mediaType);
        if (isIndex(doc)) {
          desc = pickPlatform(doc, formatReference(ref));
          doc = parseManifestOrIndex(await blob(desc), desc.mediaType);
          if (isIndex(doc)) throw invalid(`${file}: nested index is not supported`);
        }
        const manifest = doc;
        const config = parseImageConfig(await blob(manifest.config));
        for (const l of manifest.layers) {
          await this.content.putStream(createReadStream(join(dir, 'blobs', 'sha256', hex(l.digest))), l.digest, l.size, `layer ${l.digest} in ${file}`);
        }
        out.push(await this.register(ref, desc.digest, manifest, config, `file://${file}`));
      }
      log.info('image archive loaded', { file, images: out.map((i) => i.repoTags).flat() });
      return out;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Marks an image as just used (a container was created from it). */
  async touch(id: string): Promise<void> {
    await this.locks.with('records', async () => {
      const record = (await this.list()).find((r) => r.id === id);
      if (!record) return;
      record.lastUsedAt = this.clock.now();
      await this.save(record);
    });
  }

  /**
   * Above the high threshold, removes images no container uses, least recently used first, until usage is
   * at most the low threshold or nothing is left to remove. Returns the ids removed.
   */
  async garbageCollect(policy: ImageGcPolicy, usage: () => Promise<FsUsage> = () => fsUsage(this.root)): Promise<string[]> {
    const before = percentOf(await usage());
    if (before < policy.highThresholdPercent) return [];
    const inUse = (await this.inUse()).imageIds;
    const now = this.clock.now();
    const candidates = (await this.list())
      .filter((i) => !inUse.has(i.id) && now - (i.lastUsedAt ?? 0) >= policy.minAgeMs)
      .sort((a, b) => (a.lastUsedAt ?? 0) - (b.lastUsedAt ?? 0));
    const removed: string[] = [];
    let percent = before;
    for (const image of candidates) {
      if (percent <= policy.lowThresholdPercent) break;
      await this.remove(image.id);
      removed.push(image.id);
      percent = percentOf(await usage());
    }
    log.info('image garbage collection', { beforePercent: before.toFixed(1), afterPercent: percent.toFixed(1), removed: removed.length, policy });
    return removed;
  }

  /** Bytes and inodes used by blobs and unpacked layers. */
  async usage(): Promise<{ bytes: number; inodes: number }> {
    return diskUsage([this.content.dir, this.snapshotsDir]);
  }
}

/** Walks directories summing allocated bytes (hard links counted once) and inodes. */
export async function diskUsage(dirs: string[]): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (p: string): Promise<void> => {
    let st;
    try {
      st = await lstat(p);
    } catch (err) {
      // Removed while the walk went on (a container or layer going away) counts as nothing; anything else is said.
      if (!isNotExist(err)) log.warn('not counted in disk usage', { path: p, error: String(err) });
      return;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    inodes += 1;
    bytes += st.blocks * 512;
    if (st.isDirectory()) {
      const names = await readdir(p).catch((err: unknown) => {
        if (!isNotExist(err)) log.warn('not counted in disk usage', { path: p, error: String(err) });
        return [] as string[];
      });
      for (const name of names) await walk(join(p, name));
    }
  };
  for (const d of dirs) await walk(d);
  return { bytes, inodes };
}

export function imageUser(record: ImageRecord): { uid?: number; username?: string } {
  const user = (record.config.User ?? '').split(':')[0] ?? '';
  if (!user) return { uid: 0 };
  return /^\d+$/.test(user) ? { uid: Number(user) } : { username: user };
}

