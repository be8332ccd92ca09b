// cgroup reads (usage for ContainerStats, OOM kills) and the removal of pod-level cgroup directories, on either
// hierarchy: cgroup v1 (one mount per controller, what these machines run) or the unified v2 one (Debian 12's
// default), told apart by the filesystem type of /sys/fs/cgroup. runc itself writes the limits on both.
import { statfsSync } from 'node:fs';
import { readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf, isNotExist } from '../../lib/errno.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

/**
 * The v1 hierarchies a pod's cgroup is made in. `unified` is the hybrid layout's v2 tree (systemd mounts it at
 * /sys/fs/cgroup/unified beside the v1 controllers): runc makes every container's path there too, so it is removed
 * there as well (left, one directory per sandbox stayed behind on these hosts).
 */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'blkio', 'devices', 'freezer', 'systemd', 'unified'];
/** statfs f_type of cgroup2 (CGROUP2_SUPER_MAGIC). */
const CGROUP2_MAGIC = 0x63677270;

export type CgroupMode = 'v1' | 'v2';

/** 'v2' when `root` is a cgroup2 filesystem (the unified hierarchy), else 'v1' (a tmpfs of per-controller mounts). */
export function detectCgroupMode(root = '/sys/fs/cgroup'): CgroupMode {
  return statfsSync(root).type === CGROUP2_MAGIC ? 'v2' : 'v1';
}

export interface CgroupUsage {
  cpuUsageNs?: number;
  memoryUsage?: number;
  memoryLimit?: number;
  workingSet?: number;
  rss?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

/** A cgroup file's text; undefined when the cgroup is gone or the controller is not there (usage unknown). */
async function readCgroupFile(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (!isNotExist(err)) log.debug('cgroup file unreadable, usage unknown', { file, error: String(err) });
    return undefined;
  }
}

async function readNumber(file: string): Promise<number | undefined> {
  const text = (await readCgroupFile(file))?.trim();
  const n = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events). */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text?.split('\n') ?? []) {
    const [k, v] = line.split(' ');
    if (k && v) out[k] = Number(v);
  }
  return out;
}

/** One host's cgroup hierarchy (the host's at /sys/fs/cgroup; tests give another root). */
export class Cgroups {
  constructor(
    readonly root = '/sys/fs/cgroup',
    readonly mode: CgroupMode = detectCgroupMode(root),
  ) {}

  /** The directory of `path` for `controller` (v1), or of `path` in the unified tree (v2). */
  dir(controller: string, path: string): string {
    return this.mode === 'v2' ? join(this.root, path) : join(this.root, controller, path);
  }

  async usage(path: string): Promise<CgroupUsage> {
    return this.mode === 'v2' ? this.usageV2(path) : this.usageV1(path);
  }

  private async usageV1(path: string): Promise<CgroupUsage> {
    const mem = this.dir('memory', path);
    const [cpuUsageNs, memoryUsage, memoryLimit, statText] = await Promise.all([
      readNumber(join(this.dir('cpuacct', path), 'cpuacct.usage')),
      readNumber(join(mem, 'memory.usage_in_bytes')),
      readNumber(join(mem, 'memory.limit_in_bytes')),
      readCgroupFile(join(mem, 'memory.stat')),
    ]);
    const stat = parseFlatKeyed(statText);
    // Working set as cAdvisor computes it: usage minus inactive file pages.
    const workingSet = memoryUsage === undefined ? undefined : Math.max(0, memoryUsage - (stat.total_inactive_file ?? 0));
    return { cpuUsageNs, memoryUsage, memoryLimit, workingSet, rss: stat.total_rss, pageFaults: stat.total_pgfault, majorPageFaults: stat.total_pgmajfault };
  }

  private async usageV2(path: string): Promise<CgroupUsage> {
    const dir = this.dir('', path);
    const [cpuText, memoryUsage, maxText, statText] = await Promise.all([
      readCgroupFile(join(dir, 'cpu.stat')),
      readNumber(join(dir, 'memory.current')),
      readCgroupFile(join(dir, 'memory.max')),
      readCgroupFile(join(dir, 'memory.stat')),
    ]);
    const cpu = parseFlatKeyed(cpuText);
    const stat = parseFlatKeyed(statText);
    const max = maxText?.trim();
    const workingSet = memoryUsage === undefined ? undefined : Math.max(0, memoryUsage - (stat.inactive_file ?? 0));
    return {
      cpuUsageNs: cpu.usage_usec === undefined ? undefined : cpu.usage_usec * 1000,
      memoryUsage,
      // "max" is no limit, which v1 reports as a huge number: the caller treats both as none.
      memoryLimit: max && max !== 'max' ? Number(max) : undefined,
      workingSet,
      rss: stat.anon,
      pageFaults: stat.pgfault,
      majorPageFaults: stat.pgmajfault,
    };
  }

  /** Removes an (empty) cgroup directory and its empty parents up to `stopAt`, in every hierarchy it is in. */
  async remove(path: string, stopAt = '/'): Promise<void> {
    for (const c of this.mode === 'v2' ? [''] : V1_CONTROLLERS) {
      let p = path;
      while (p && p !== '/' && p !== stopAt) {
        try {
          await rmdir(this.dir(c, p));
        } catch (err) {
          // Not there, or still in use (processes or child cgroups): then its parents are in use too.
          if (!['ENOENT', 'EBUSY', 'ENOTEMPTY'].includes(errnoOf(err) ?? '')) log.warn('cgroup not removed', { cgroup: this.dir(c, p), error: String(err) });
          break;
        }
        p = p.slice(0, p.lastIndexOf('/'));
      }
    }
  }
}

let host: Cgroups | undefined;

/** The host's hierarchy, detected once. */
export function hostCgroups(): Cgroups {
  host ??= new Cgroups();
  return host;
}

export function cgroupDir(controller: string, path: string): string {
  return hostCgroups().dir(controller, path);
}

export function readUsage(path: string): Promise<CgroupUsage> {
  return hostCgroups().usage(path);
}

export function removeCgroup(path: string, stopAt = '/'): Promise<void> {
  return hostCgroups().remove(path, stopAt);
}
