// The sandboxes of the CRI RuntimeService: run, stop, remove, status and list pod sandboxes.
import { removeCgroup } from './cgroups.js';
import { invalid } from '../cri/errors.js';
import type { DeepPartial, PodSandboxStatus, RuntimeServiceMethods, ServiceImpl } from '../cri/types.js';
import { containerStatus, matchLabels } from './container-service.js';
import { nowNanos } from './monitor.js';
import type { RuntimeDeps } from './runtime-deps.js';
import type { SandboxRecord } from './sandboxes.js';

export type SandboxMethods = Pick<ServiceImpl<RuntimeServiceMethods>, 'RunPodSandbox' | 'StopPodSandbox' | 'RemovePodSandbox' | 'PodSandboxStatus' | 'ListPodSandbox'>;

function sandboxStatus(s: SandboxRecord): DeepPartial<PodSandboxStatus> {
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
}

export function sandboxMethods(d: RuntimeDeps): SandboxMethods {
  const { sandboxes, containers, locks } = d;

  const stopSandbox = async (s: SandboxRecord): Promise<void> => {
    for (const c of await containers.list((c) => c.sandboxId === s.id)) {
      await locks.with(c.id, () => containers.stop(c, 0));
    }
    await sandboxes.stop(s);
  };

  return {
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
      const items = sandboxes.peek(
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
  };
}
