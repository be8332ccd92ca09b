// `ketch server`: the control plane in one process (k3s-style): storage, API server, and the components hosted with it.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { openStorage } from '../../apiserver/storage/index.js';
import { startApiServer } from '../../apiserver/index.js';
import { logger } from '../../lib/logger.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import type { SchedulerFlags } from '../../scheduler/index.js';
import { startControlPlaneComponents, withControllerManagerFlags, withSchedulerFlags, type ControllerManagerFlags } from './control-plane.js';

/** `ketch server`'s own flags; the hosted controller manager's flags come beside them (ControllerManagerFlags). */
export interface ServerFlags extends SchedulerFlags {
  dataDir: string;
  securePort: string;
  bindAddress: string;
  etcdServers?: string;
  maxRequestsInflight?: string;
  maxMutatingRequestsInflight?: string;
  disableControllerManager?: boolean;
  disableScheduler?: boolean;
}

export interface RunningServer {
  url: string;
  adminKubeconfigPath: string;
  /** A client with the admin credentials. */
  rest: RestClient;
  stop(): Promise<void>;
}

export async function runServer(flags: ServerFlags & ControllerManagerFlags): Promise<RunningServer> {
  const log = logger('server');
  const dataDir = resolve(flags.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const etcdServers = flags.etcdServers?.split(',').map((s) => s.trim()).filter(Boolean);
  const storage = await openStorage({ dataDir, ...(etcdServers?.length ? { etcdServers } : {}) });
  const limit = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, 0 or more (got ${JSON.stringify(v)})`);
    return n;
  };
  const maxRequestsInflight = limit(flags.maxRequestsInflight, 'max-requests-inflight');
  const maxMutatingRequestsInflight = limit(flags.maxMutatingRequestsInflight, 'max-mutating-requests-inflight');
  const api = await startApiServer({
    dataDir,
    securePort: Number(flags.securePort),
    bindAddress: flags.bindAddress,
    storage,
    ...(maxRequestsInflight !== undefined ? { maxRequestsInflight } : {}),
    ...(maxMutatingRequestsInflight !== undefined ? { maxMutatingRequestsInflight } : {}),
  });
  log.info('api server ready', { url: api.url, kubeconfig: api.adminKubeconfigPath, storage: etcdServers?.length ? 'etcd' : 'embedded' });
  // The hosted components reach the API server as any client would: over TLS with the admin credentials.
  const config = loadClientConfig({ kubeconfig: api.adminKubeconfigPath });
  const rest = new RestClient(config, 'ketch-server');
  const components = await startControlPlaneComponents((agent) => new RestClient(config, agent), flags).catch(async (err: unknown) => {
    await api.close();
    await storage.close();
    throw err;
  });
  return {
    url: api.url,
    adminKubeconfigPath: api.adminKubeconfigPath,
    rest,
    stop: async () => {
      await components.stop();
      await api.close();
      await storage.close();
    },
  };
}

/**
 * Resolves when SIGINT or SIGTERM arrives. Later signals are ignored while the caller shuts down (a wrapper such as
 * npx or tsx may relay the same Ctrl-C twice, and dying half-way would leave containers and mounts behind).
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((res) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      const again = (): void => void process.stderr.write('still stopping; send SIGKILL to force\n');
      process.on('SIGINT', again);
      process.on('SIGTERM', again);
      res(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function register(program: Command): void {
  const cmd = withApiServerFlags(
    program
      .command('server')
      .description('run the control plane: API server over etcd or the embedded store, controller manager and scheduler'),
    '/var/lib/ketch/server',
  );
  withServerComponentFlags(cmd).action(async (flags: ServerFlags & ControllerManagerFlags) => {
      const srv = await runServer(flags);
      console.error(`ketch server is up at ${srv.url}\n  export KUBECONFIG=${srv.adminKubeconfigPath}\n  kubectl get ns`);
      await untilSignal();
      await srv.stop();
    });
}

/** The API server's own flags, shared by `ketch server` and `ketch up` (which differ only in the data dir). */
export function withApiServerFlags(cmd: Command, dataDir: string): Command {
  return cmd
    .option('--data-dir <dir>', 'state directory (embedded store, PKI, admin.kubeconfig)', dataDir)
    .option('--secure-port <port>', 'API server HTTPS port', '6443')
    .option('--bind-address <addr>', 'API server address to listen on', '0.0.0.0')
    .option('--etcd-servers <urls>', 'comma-separated etcd endpoints; without it the embedded store is used')
    .option('--max-requests-inflight <n>', 'non-mutating requests in flight before the API server answers 429 (0: no limit)', '400')
    .option('--max-mutating-requests-inflight <n>', 'mutating requests in flight before the API server answers 429 (0: no limit)', '200');
}

/** The flags of the hosted components, shared by `ketch server` and `ketch up`. */
export function withServerComponentFlags(cmd: Command): Command {
  withControllerManagerFlags(cmd, true)
    .option('--disable-controller-manager', 'do not run the controller manager in this process')
    .option('--disable-scheduler', 'do not run the scheduler in this process');
  return withSchedulerFlags(cmd, true);
}
