// The streaming calls of the CRI RuntimeService: Exec, Attach and PortForward each register a one-time URL on the
// streaming server (streaming.ts), which the caller then opens.
import { RuntimeError, invalid } from '../cri/errors.js';
import type { RuntimeServiceMethods, ServiceImpl } from '../cri/types.js';
import type { ContainerRecord } from './containers.js';
import type { RuntimeDeps } from './runtime-deps.js';

export type StreamMethods = Pick<ServiceImpl<RuntimeServiceMethods>, 'Exec' | 'Attach' | 'PortForward'>;

export function streamMethods(d: RuntimeDeps): StreamMethods {
  const { sandboxes, containers, streaming } = d;
  const running = async (id: string): Promise<ContainerRecord> => {
    const rec = await containers.get(id);
    if ((await containers.view(rec)).state !== 'CONTAINER_RUNNING') throw new RuntimeError('FailedPrecondition', `container ${rec.id} is not running`);
    return rec;
  };

  return {
    async Exec(req) {
      const rec = await running(req.containerId);
      if (!req.cmd.length) throw invalid('exec: cmd is empty');
      if (!req.stdin && !req.stdout && !req.stderr) throw invalid('exec: one of stdin, stdout and stderr must be set');
      return { url: streaming.register({ kind: 'exec', containerId: rec.id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }) };
    },

    async Attach(req) {
      const rec = await running(req.containerId);
      return { url: streaming.register({ kind: 'attach', containerId: rec.id, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, tty: req.tty }) };
    },

    async PortForward(req) {
      const s = await sandboxes.get(req.podSandboxId);
      if (s.state !== 'SANDBOX_READY') throw new RuntimeError('FailedPrecondition', `pod sandbox ${s.id} is not ready`);
      return { url: streaming.register({ kind: 'portforward', sandboxId: s.id, ports: req.port }) };
    },
  };
}
