// cgroup v1 reads (usage for ContainerStats) and the removal of pod-level cgroup directories.
import { readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf, isNotExist } from '../../lib/errno.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

const ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'blkio', 'devices', 'freezer', 'systemd'];

export function cgroupDir(controller: string, path: string): string {
  return join(ROOT, controller, path);
}

/** A cgroup file's text; undefined when the cgroup is gone or the controller is not mounted (usage unknown). */
async function readCgroupFile(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (!isNotExist(err)) log.debug('cgroup file unreadable, usage unknown', { file, error: String(err) });
    return undefined;
  }
}

async function readNumber(file: string): Promise<number | undefined> {
  const text = await readCgroupFile(file);
  const n = Number(text?.trim());
  return text !== undefined && Number.isFinite(n) ? n : undefined;
}

async function readStat(file: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await readCgroupFile(file))?.split('\n') ?? []) {
    const [k, v] = line.split(' ');
    if (k && v) out[k] = Number(v);
  }
  return out;
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

export async function readUsage(path: string): Promise<CgroupUsage> {
  const mem = cgroupDir('memory', path);
  const [cpuUsageNs, memoryUsage, memoryLimit, stat] = await Promise.all([
    readNumber(join(cgroupDir('cpuacct', path), 'cpuacct.usage')),
    readNumber(join(mem, 'memory.usage_in_bytes')),
    readNumber(join(mem, 'memory.limit_in_bytes')),
    readStat(join(mem, 'memory.stat')),
  ]);
  // Working set as cAdvisor computes it: usage minus inactive file pages.
  const inactive = stat.total_inactive_file ?? 0;
  const workingSet = memoryUsage === undefined ? undefined : Math.max(0, memoryUsage - inactive);
  return { cpuUsageNs, memoryUsage, memoryLimit, workingSet, rss: stat.total_rss, pageFaults: stat.total_pgfault, majorPageFaults: stat.total_pgmajfault };
}

/** Removes an (empty) cgroup directory and its empty parents up to `stopAt`, in every controller. */
export async function removeCgroup(path: string, stopAt = '/'): Promise<void> {
  for (const c of CONTROLLERS) {
    let p = path;
    while (p && p !== '/' && p !== stopAt) {
      try {
        await rmdir(cgroupDir(c, p));
      } catch (err) {
        // Not there, or still in use (processes or child cgroups): then its parents are in use too.
        if (!['ENOENT', 'EBUSY', 'ENOTEMPTY'].includes(errnoOf(err) ?? '')) log.warn('cgroup not removed', { cgroup: cgroupDir(c, p), error: String(err) });
        break;
      }
      p = p.slice(0, p.lastIndexOf('/'));
    }
  }
}
