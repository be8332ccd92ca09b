// The CRI RuntimeService: maps runtime.v1 requests onto the sandbox and container stores.
import { readUsage, removeCgroup } from './cgroups.js';
import { int64 } from '../cri/types.js';
import type { ContainerStats, ContainerStatus, DeepPartial, FilesystemUsage, PodSandboxStatus, RuntimeServiceMethods, ServiceImpl, StringMap } from '../cri/types.js';
import type { ContainerRecord, ContainerStore, ContainerView } from './containers.js';
import { RuntimeError, invalid } from '../cri/errors.js';
import { run } from './exec.js';
import { diskUsage } from './image-store.js';
import { KeyedLock } from './keyed-lock.js';
import { nowNanos } from './monitor.js';
import type { NetworkManager } from './network.js';
import type { SandboxRecord, SandboxStore } from './sandboxes.js';
import type { StreamingServer } from './streaming.js';
import { join } from 'node:path';

export const RUNTIME_NAME = 'ketch-runtime';
export const RUNTIME_VERSION = '0.1.0';

function matchLabels(labels: StringMap, selector: StringMap | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}


export interface RuntimeDeps {
  sandboxes: SandboxStore;
  containers: ContainerStore;
  network: NetworkManager;
  streaming: StreamingServer;
  runcVersion: string;
}

export function runtimeService(d: RuntimeDeps): ServiceImpl<RuntimeServiceMethods> {
  const { sandboxes, containers, network, streaming } = d;
  const locks = new KeyedLock();

  const containerStatus = (v: ContainerView): DeepPartial<ContainerStatus> => {
    const c = v.record.config;
    return {
      id: v.record.id,
      metadata: c.metadata,
      state: v.state,
      createdAt: v.record.createdAt,
      startedAt: v.startedAt,
      finishedAt: v.finishedAt,
      exitCode: v.exitCode,
      image: { image: c.image?.image ?? '', annotations: c.image?.annotations ?? {} },
      imageRef: v.record.imageRef,
      imageId: v.record.imageId,
      reason: v.reason,
      message: v.message,
      labels: c.labels,
      annotations: c.annotations,
      mounts: c.mounts,
      logPath: v.record.logPath,
      resources: v.record.resources ? { linux: v.record.resources } : null,
    };
  };

  const sandboxStatus = (s: SandboxRecord): DeepPartial<PodSandboxStatus> => {
    const ns = s.config.linux?.securityContext?.namespaceOptions;
    return {
      id: s.id,
      metadata: s.config.metadata,
      state: s.state,
      createdAt: s.createdAt,
      network: s.network?.ip ? { ip: s.network.ip, additionalIps: [] } : { ip: '' },
      linux: { namespaces: { options: { network: ns?.network ?? 'POD', pid: ns?.pid ?? 'CONTAINER', ipc: ns?.ipc ?? 'POD', targetId: '' } } },
      labels: s.config.labels,
      annotations: s.config.annotations,
      runtimeHandler: s.runtimeHandler,
    };
  };

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

  const stopSandbox = async (s: SandboxRecord): Promise<void> => {
    for (const c of await containers.list((c) => c.sandboxId === s.id)) {
      await locks.with(c.id, () => containers.stop(c, 0));
    }
    await sandboxes.stop(s);
  };

  return {
    async Version() {
      return { version: '0.1.0', runtimeName: RUNTIME_NAME, runtimeVersion: RUNTIME_VERSION, runtimeApiVersion: 'v1' };
    },

    async Status(req) {
      const cidr = await network.podCidr();
      return {
        status: {
          conditions: [
            { type: 'RuntimeReady', status: Boolean(d.runcVersion), reason: d.runcVersion ? '' : 'RuncMissing', message: d.runcVersion ? '' : 'runc was not found' },
            { type: 'NetworkReady', status: true, reason: '', message: cidr ? '' : 'no pod CIDR: pods get a loopback-only network' },
          ],
        },
        info: req.verbose ? { runc: JSON.stringify(d.runcVersion), podCidr: JSON.stringify(cidr ?? '') } : {},
      };
    },

    async UpdateRuntimeConfig(req) {
      const cidr = req.runtimeConfig?.networkConfig?.podCidr;
      if (cidr !== undefined) await network.setPodCidr(cidr);
      return {};
    },

    async RunPodSandbox(req) {
      if (!req.config) throw invalid('pod sandbox config is required');
      const rec = await sandboxes.create(req.config, req.runtimeHandler);
      return { podSandboxId: rec.id };
    },

    // Both re-read the record inside the lock: a concurrent call may have removed the sandbox meanwhile.
    async StopPodSandbox(req) {
      const found = await sandboxes.find(req.podSandboxId);
      if (found) {
        await locks.with(found.id, async () => {
          const s = await sandboxes.find(found.id);
          if (s) await stopSandbox(s);
        });
      }
      return {};
    },

    async RemovePodSandbox(req) {
      const found = await sandboxes.find(req.podSandboxId);
      if (!found) return {};
      await locks.with(found.id, async () => {
        const s = await sandboxes.find(found.id);
        if (!s) return;
        for (const c of await containers.list((c) => c.sandboxId === s.id)) {
          await locks.with(c.id, () => containers.remove(c));
        }
        await sandboxes.remove(s);
        if (s.ownCgroup) await removeCgroup(s.cgroupParent, '/ketch');
      });
      return {};
    },

    async PodSandboxStatus(req) {
      const s = await sandboxes.get(req.podSandboxId);
      const views = await Promise.all((await containers.list((c) => c.sandboxId === s.id)).map((c) => containers.view(c)));
      return {
        status: sandboxStatus(s),
        info: req.verbose ? { netns: JSON.stringify(s.network?.netnsPath ?? ''), cgroupParent: JSON.stringify(s.cgroupParent) } : {},
        containersStatuses: views.map(containerStatus),
        timestamp: nowNanos().toString(),
      };
    },

    async ListPodSandbox(req) {
      const f = req.filter;
      const items = await sandboxes.list(
        (s) => (!f?.id || s.id.startsWith(f.id)) && (!f?.state || s.state === f.state.state) && matchLabels(s.config.labels, f?.labelSelector),
      );
      return {
        items: items.map((s) => ({
          id: s.id,
          metadata: s.config.metadata,
          state: s.state,
          createdAt: s.createdAt,
          labels: s.config.labels,
          annotations: s.config.annotations,
          runtimeHandler: s.runtimeHandler,
        })),
      };
    },

    async CreateContainer(req) {
      if (!req.config) throw invalid('container config is required');
      const config = req.config;
      const s = await sandboxes.get(req.podSandboxId);
      const rec = await locks.with(s.id, () => containers.create(s, config));
      return { containerId: rec.id };
    },

    async StartContainer(req) {
      const rec = await containers.get(req.containerId);
      const s = await sandboxes.get(rec.sandboxId);
      if (s.state !== 'SANDBOX_READY') throw new RuntimeError('FailedPrecondition', `pod sandbox ${s.id} is not ready`);
      await locks.with(rec.id, () => containers.start(rec));
      return {};
    },

    async StopContainer(req) {
      const rec = await containers.get(req.containerId);
      await locks.with(rec.id, () => containers.stop(rec, int64(req.timeout)));
      return {};
    },

    async RemoveContainer(req) {
      let rec: ContainerRecord;
      try {
        rec = await containers.get(req.containerId);
      } catch (err) {
        if (err instanceof RuntimeError && err.code === 'NotFound') return {};
        throw err;
      }
      await locks.with(rec.id, () => containers.remove(rec));
      return {};
    },

    async ListContainers(req) {
      const f = req.filter;
      const recs = await containers.list(
        (c) => (!f?.id || c.id.startsWith(f.id)) && (!f?.podSandboxId || c.sandboxId.startsWith(f.podSandboxId)) && matchLabels(c.config.labels, f?.labelSelector),
      );
      const views = (await Promise.all(recs.map((c) => containers.view(c)))).filter((v) => !f?.state || v.state === f.state.state);
      return {
        containers: views.map((v) => ({
          id: v.record.id,
          podSandboxId: v.record.sandboxId,
          metadata: v.record.config.metadata,
          image: { image: v.record.config.image?.image ?? '' },
          imageRef: v.record.imageRef,
          imageId: v.record.imageId,
          state: v.state,
          createdAt: v.record.createdAt,
          labels: v.record.config.labels,
          annotations: v.record.config.annotations,
        })),
      };
    },

    async ContainerStatus(req) {
      const rec = await containers.get(req.containerId);
      const v = await containers.view(rec);
      return {
        status: containerStatus(v),
        info: req.verbose ? { pid: JSON.stringify(v.pid ?? 0), sandboxId: JSON.stringify(rec.sandboxId), monitor: JSON.stringify(rec.monitor ?? null) } : {},
      };
    },

    async UpdateContainerResources(req) {
      const rec = await containers.get(req.containerId);
      const linux = req.linux;
      if (!linux) return {};
      await locks.with(rec.id, () => containers.updateResources(rec, linux));
      return {};
    },

    async ReopenContainerLog(req) {
      await containers.reopenLog(await containers.get(req.containerId));
      return {};
    },

    async ExecSync(req) {
      const rec = await containers.get(req.containerId);
      return containers.execSync(rec, req.cmd, int64(req.timeout));
    },

    async Exec(req) {
      const rec = await containers.get(req.containerId);
      if ((await containers.view(rec)).state !== 'CONTAINER_RUNNING') throw new RuntimeError('FailedPrecondition', `container ${rec.id} is not running`);
      if (!req.cmd.length) throw invalid('exec: cmd is empty');
      if (!req.stdin && !req.stdout && !req.stderr) throw invalid('exec: one of stdin, stdout and stderr must be set');
      return { url: streaming.register({ kind: 'exec', containerId: rec.id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }) };
    },

    async Attach(req) {
      const rec = await containers.get(req.containerId);
      if ((await containers.view(rec)).state !== 'CONTAINER_RUNNING') throw new RuntimeError('FailedPrecondition', `container ${rec.id} is not running`);
      return { url: streaming.register({ kind: 'attach', containerId: rec.id, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, tty: req.tty }) };
    },

    async PortForward(req) {
      const s = await sandboxes.get(req.podSandboxId);
      if (s.state !== 'SANDBOX_READY') throw new RuntimeError('FailedPrecondition', `pod sandbox ${s.id} is not ready`);
      return { url: streaming.register({ kind: 'portforward', sandboxId: s.id, ports: req.port }) };
    },

    async ContainerStats(req) {
      return { stats: await stats(await containers.get(req.containerId)) };
    },

    async ListContainerStats(req) {
      const f = req.filter;
      const recs = await containers.list(
        (c) => (!f?.id || c.id.startsWith(f.id)) && (!f?.podSandboxId || c.sandboxId.startsWith(f.podSandboxId)) && matchLabels(c.config.labels, f?.labelSelector),
      );
      const running: ContainerRecord[] = [];
      for (const c of recs) if ((await containers.view(c)).state === 'CONTAINER_RUNNING') running.push(c);
      return { stats: await Promise.all(running.map(stats)) };
    },
  };
}

export async function runcVersion(): Promise<string> {
  const res = await run('runc', ['--version'], { allowFailure: true }).catch(() => undefined);
  return res?.code === 0 ? (res.stdout.split('\n')[0] ?? '').trim() : '';
}
