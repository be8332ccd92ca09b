// The containers of the CRI RuntimeService: create, start, stop, remove, list, status, resources, log reopening and
// ExecSync, over the container store (streams in stream-service.ts, stats in stats-service.ts).
import { RuntimeError, invalid } from '../cri/errors.js';
import { int64, type ContainerStatus, type DeepPartial, type RuntimeServiceMethods, type ServiceImpl, type StringMap } from '../cri/types.js';
import type { ContainerRecord, ContainerStore, ContainerView } from './containers.js';
import type { RuntimeDeps } from './runtime-deps.js';

export type ContainerMethods = Pick<
  ServiceImpl<RuntimeServiceMethods>,
  | 'CreateContainer'
  | 'StartContainer'
  | 'StopContainer'
  | 'RemoveContainer'
  | 'ListContainers'
  | 'ContainerStatus'
  | 'UpdateContainerResources'
  | 'ReopenContainerLog'
  | 'ExecSync'
>;

export function matchLabels(labels: StringMap, selector: StringMap | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** A container's CRI status from the store's view of it. */
export function containerStatus(v: ContainerView): DeepPartial<ContainerStatus> {
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
}

/** The fields that ListContainers and ListContainerStats filter on (ids match by prefix, as crictl's short ids). */
export interface ContainerFilterLike {
  id?: string;
  podSandboxId?: string;
  labelSelector?: StringMap;
}

/** The matching records themselves, read-only (listings change nothing). */
export function listContainers(containers: ContainerStore, f: ContainerFilterLike | null | undefined): Readonly<ContainerRecord>[] {
  return containers.peek((c) => (!f?.id || c.id.startsWith(f.id)) && (!f?.podSandboxId || c.sandboxId.startsWith(f.podSandboxId)) && matchLabels(c.config.labels, f?.labelSelector));
}

export function containerMethods(d: RuntimeDeps): ContainerMethods {
  const { sandboxes, containers, locks } = d;

  return {
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
        // Removing what is not there succeeds (CRI: RemoveContainer is idempotent).
        if (err instanceof RuntimeError && err.code === 'NotFound') return {};
        throw err;
      }
      await locks.with(rec.id, () => containers.remove(rec));
      return {};
    },

    async ListContainers(req) {
      const f = req.filter;
      const views = (await Promise.all(listContainers(containers, f).map((c) => containers.view(c)))).filter((v) => !f?.state || v.state === f.state.state);
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
  };
}
