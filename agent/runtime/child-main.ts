// Entry of the runtime shim run as a child of the node agent (spawnRuntimeService): options in argv, control over IPC.
import { startRuntimeService, type RuntimeServiceHandle, type RuntimeServiceOptions } from './service.js';
import { isChildRequest, type ChildReply } from './child-protocol.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

function parseOptions(arg: string | undefined): RuntimeServiceOptions {
  const v: unknown = JSON.parse(arg ?? 'null');
  if (typeof v !== 'object' || v === null) throw new Error('runtime child: options (JSON) expected as the first argument');
  const o = v as Record<string, unknown>;
  if (typeof o.root !== 'string' || typeof o.listen !== 'string') throw new Error('runtime child: options need root and listen');
  return v as RuntimeServiceOptions;
}

const send = (m: ChildReply): void => {
  process.send?.(m);
};

let service: RuntimeServiceHandle | undefined;
let stopping: Promise<void> | undefined;
// Closing leaves containers running, as a restarted containerd finds them; the agent removes pods first when it means to.
const shutdown = (why: string): Promise<void> =>
  (stopping ??= (async () => {
    log.info('runtime child stopping', { why });
    await service?.close().catch((err: unknown) => log.error('runtime close failed', { error: String(err) }));
    process.exit(0);
  })());

if (!process.send) throw new Error('runtime child: must be started with an IPC channel (spawnRuntimeService)');
// Ctrl-C reaches the whole process group; the agent decides what happens to the pods, then sends SIGTERM.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// The agent went away (even killed): do not outlive it.
process.on('disconnect', () => void shutdown('agent disconnected'));
process.on('message', (m: unknown) => {
  if (!isChildRequest(m)) return;
  const svc = service;
  if (!svc) return send({ type: 'done', id: m.id, error: 'runtime not started' });
  svc.removeAllPods(m.graceSeconds ?? 0).then(
    () => send({ type: 'done', id: m.id }),
    (err: unknown) => send({ type: 'done', id: m.id, error: String(err) }),
  );
});

try {
  service = await startRuntimeService(parseOptions(process.argv[2]));
  if (stopping) await service.close();
  else send({ type: 'ready' });
} catch (err) {
  log.error('runtime child failed to start', { error: String(err) });
  process.exit(1);
}
