// The stats calls of the CRI RuntimeService: cgroup usage and the writable layer's size, per running container.
import { join } from 'node:path';
import type { ContainerStats, DeepPartial, FilesystemUsage, RuntimeServiceMethods, ServiceImpl } from '../cri/types.js';
import { readUsage } from './cgroups.js';
import { listContainers } from './container-service.js';
import type { ContainerRecord } from './containers.js';
import { diskUsage } from './image-store.js';
import { nowNanos } from './monitor.js';
import type { RuntimeDeps } from './runtime-deps.js';

export type StatsMethods = Pick<ServiceImpl<RuntimeServiceMethods>, 'ContainerStats' | 'ListContainerStats'>;

export function statsMethods(d: RuntimeDeps): StatsMethods {
  const { containers } = d;
  const stats = async (rec: ContainerRecord): Promise<DeepPartial<ContainerStats>> => {
    const ts = nowNanos().toString();
    const u = await readUsage(rec.cgroupsPath);
    const layer = await diskUsage([join(containers.containerDir(rec.id), 'upper')]);
    const limit = u.memoryLimit !== undefined && u.memoryLimit < 2 ** 62 ? u.memoryLimit : undefined;
    const writable: DeepPartial<FilesystemUsage> = { timestamp: ts, fsId: { mountpoint: containers.dir }, usedBytes: { value: layer.bytes }, inodesUsed: { value: layer.inodes } };
    return {
      attributes: { id: rec.id, metadata: rec.config.metadata, labels: rec.config.labels, annotations: rec.config.annotations },
      cpu: { timestamp: ts, usageCoreNanoSeconds: { value: u.cpuUsageNs ?? 0 } },
      memory: {
        timestamp: ts,
        workingSetBytes: { value: u.workingSet ?? 0 },
        usageBytes: { value: u.memoryUsage ?? 0 },
        availableBytes: limit !== undefined ? { value: Math.max(0, limit - (u.workingSet ?? 0)) } : null,
        rssBytes: { value: u.rss ?? 0 },
        pageFaults: { value: u.pageFaults ?? 0 },
        majorPageFaults: { value: u.majorPageFaults ?? 0 },
      },
      writableLayer: writable,
    };
  };

  return {
    async ContainerStats(req) {
      return { stats: await stats(await containers.get(req.containerId)) };
    },

    async ListContainerStats(req) {
      const live: ContainerRecord[] = [];
      for (const c of listContainers(containers, req.filter)) if ((await containers.view(c)).state === 'CONTAINER_RUNNING') live.push(c);
      return { stats: await Promise.all(live.map(stats)) };
    },
  };
}
