// Image garbage collection by disk usage, as the kubelet's image GC manager does it, over the CRI (so it works with
// the built-in runtime and with containerd alike). Every detection notes when each image was first seen and when a
// container last used it; when the image filesystem is at least highThresholdPercent full, images no container uses
// (any container of the node, running or not) that were first seen at least minAge ago are removed, least recently
// used first, until the bytes to reach lowThresholdPercent are freed.
import { statfs } from 'node:fs/promises';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RuntimeClient } from './cri/index.js';
import { imagesInUse, type CriImages } from './images.js';

/** kubelet's --image-gc-high-threshold, --image-gc-low-threshold and --image-minimum-gc-age. */
export interface ImageGcPolicy {
  highThresholdPercent: number;
  lowThresholdPercent: number;
  minAgeMs: number;
}

export const DEFAULT_IMAGE_GC: ImageGcPolicy = { highThresholdPercent: 85, lowThresholdPercent: 80, minAgeMs: 2 * 60_000 };

/** The image filesystem's size and free space. */
export interface ImageFsUsage {
  capacityBytes: number;
  availableBytes: number;
}

/** Reads the image filesystem's usage: statfs of the mount point the runtime's ImageFsInfo names. */
export function criImageFsUsage(rt: RuntimeClient): () => Promise<ImageFsUsage> {
  return async () => {
    const info = await rt.image.imageFsInfo({});
    const mountpoint = info.imageFilesystems[0]?.fsId?.mountpoint;
    if (!mountpoint) throw new Error('the runtime reports no image filesystem');
    const st = await statfs(mountpoint);
    return { capacityBytes: st.blocks * st.bsize, availableBytes: st.bavail * st.bsize };
  };
}

/** Checks a policy as the kubelet validates its flags; returns what is wrong, or undefined. */
export function invalidImageGcPolicy(p: ImageGcPolicy): string | undefined {
  if (!(p.highThresholdPercent >= 0 && p.highThresholdPercent <= 100)) return `--image-gc-high-threshold must be in [0, 100], got ${p.highThresholdPercent}`;
  if (!(p.lowThresholdPercent >= 0 && p.lowThresholdPercent <= 100)) return `--image-gc-low-threshold must be in [0, 100], got ${p.lowThresholdPercent}`;
  if (p.lowThresholdPercent > p.highThresholdPercent) return `--image-gc-low-threshold (${p.lowThresholdPercent}) must not exceed --image-gc-high-threshold (${p.highThresholdPercent})`;
  if (!(p.minAgeMs >= 0)) return `--image-minimum-gc-age must not be negative`;
  return undefined;
}

interface ImageRecord {
  firstDetected: number;
  lastUsed: number;
  size: number;
}

export class ImageGcManager {
  private readonly records = new Map<string, ImageRecord>();

  constructor(
    private readonly rt: CriImages,
    private readonly policy: ImageGcPolicy,
    private readonly usage: () => Promise<ImageFsUsage>,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Notes the images present and the ones in use now; forgets the ones gone. Returns the ids in use. */
  async detect(now: number): Promise<Set<string>> {
    const { images } = await this.rt.image.listImages({});
    const used = await imagesInUse(this.rt, images);
    const present = new Set<string>();
    for (const i of images) {
      present.add(i.id);
      const r = this.records.get(i.id) ?? { firstDetected: now, lastUsed: 0, size: 0 };
      r.size = Number(i.size);
      if (used.has(i.id)) r.lastUsed = now;
      this.records.set(i.id, r);
    }
    for (const id of this.records.keys()) if (!present.has(id)) this.records.delete(id);
    return used;
  }

  /** One collection (kubelet's GarbageCollect): returns the ids removed. */
  async collect(): Promise<string[]> {
    const now = this.clock.now();
    const { capacityBytes, availableBytes } = await this.usage();
    if (capacityBytes <= 0) throw new Error(`invalid capacity ${capacityBytes} on the image filesystem`);
    const usagePercent = 100 - (availableBytes * 100) / capacityBytes;
    if (usagePercent < this.policy.highThresholdPercent) {
      await this.detect(now);
      return [];
    }
    const toFree = (capacityBytes * (100 - this.policy.lowThresholdPercent)) / 100 - availableBytes;
    const removed = await this.freeSpace(toFree, now);
    const freed = removed.reduce((n, r) => n + r.size, 0);
    this.log.info('image garbage collection', { usagePercent: Math.round(usagePercent), bytesToFree: Math.round(toFree), bytesFreed: freed, removed: removed.length });
    if (freed < toFree) this.log.warn('image garbage collection freed less than wanted', { bytesToFree: Math.round(toFree), bytesFreed: freed });
    return removed.map((r) => r.id);
  }

  private async freeSpace(bytes: number, now: number): Promise<{ id: string; size: number }[]> {
    const used = await this.detect(now);
    const candidates = [...this.records]
      .filter(([id, r]) => !used.has(id) && r.lastUsed < now && now - r.firstDetected >= this.policy.minAgeMs)
      .sort(([, a], [, b]) => a.lastUsed - b.lastUsed || a.firstDetected - b.firstDetected);
    const removed: { id: string; size: number }[] = [];
    let freed = 0;
    for (const [id, r] of candidates) {
      if (freed >= bytes) break;
      await this.rt.image.removeImage({ image: { image: id } });
      this.records.delete(id);
      removed.push({ id, size: r.size });
      freed += r.size;
    }
    return removed;
  }
}
