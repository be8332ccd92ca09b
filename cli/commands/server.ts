// `ketch server`: the control plane in one process (k3s-style): storage and the API server on the main thread, the
// controller manager and the scheduler hosted with it, each on a worker thread (or all on one with --single-process).
import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openStorage } from '../../apiserver/storage/index.js';
import { startStorageUpkeep } from '../../apiserver/storage/upkeep.js';
import { startApiServer } from '../../apiserver/index.js';
import { logger } from '../../lib/logger.js';
import { readFlags, type FlagInput, type FlagTable } from '../../lib/flags.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { untilSignal } from '../signals.js';
import { VERSION } from '../version.js';
import { osThreadId } from './component-thread.js';
import { HOSTED_COMPONENT_FLAGS, startControlPlaneComponents } from './control-plane.js';

/** The API server's own flags, shared by `ketch server` and `ketch up` (which differ only in the data dir). */
export const API_SERVER_FLAGS: FlagTable = [
  { name: '--data-dir', kind: 'string', arg: 'dir', default: '/var/lib/ketch/server', description: 'state directory (embedded store, PKI, admin.kubeconfig)' },
  { name: '--secure-port', kind: 'int', arg: 'port', default: '6443', description: 'API server HTTPS port' },
  { name: '--bind-address', kind: 'string', arg: 'addr', default: '0.0.0.0', description: 'API server address to listen on' },
  { name: '--etcd-servers', kind: 'list', arg: 'urls', description: 'comma-separated etcd endpoints; without it the embedded store is used' },
  { name: '--max-requests-inflight', kind: 'int', arg: 'n', default: '400', description: 'non-mutating requests in flight before the API server answers 429 (0: no limit)' },
  { name: '--max-mutating-requests-inflight', kind: 'int', arg: 'n', default: '200', description: 'mutating requests in flight before the API server answers 429 (0: no limit)' },
  { name: '--etcd-compaction-interval', kind: 'duration', default: '5m', description: 'how often storage is compacted, to the revision it had one interval earlier (embedded store and etcd; 0 disables)' },
  { name: '--snapshot-schedule', kind: 'duration', default: '12h', description: 'time between scheduled snapshots of the store, a duration such as 6h (0 disables)' },
  { name: '--snapshot-retention', kind: 'int', arg: 'n', default: '5', description: 'scheduled snapshots kept; older ones are deleted (0 keeps all)' },
  { name: '--snapshot-dir', kind: 'string', arg: 'dir', description: 'directory of snapshots (default <data-dir>/snapshots)' },
];

/** `ketch server`'s flags: the API server's and the hosted components'. */
export const SERVER_FLAGS: FlagTable = [...API_SERVER_FLAGS, ...HOSTED_COMPONENT_FLAGS];

export interface RunningServer {
  url: string;
  adminKubeconfigPath: string;
  /** A client with the admin credentials. */
  rest: RestClient;
  /** Rejects when a hosted component's thread fails; never settles otherwise. */
  failed: Promise<never>;
  stop(): Promise<void>;
}

/** Starts the API server and the hosted components from the flags given (SERVER_FLAGS, by name). */
export async function runServer(input: FlagInput): Promise<RunningServer> {
  const log = logger('server');
  const f = readFlags(SERVER_FLAGS, input);
  const dataDir = resolve(f.string('--data-dir'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const etcdServers = f.list('--etcd-servers');
  const storage = await openStorage({ dataDir, ketchVersion: VERSION, ...(etcdServers.length ? { etcdServers } : {}) });
  const upkeep = await startStorageUpkeep(storage, {
    dataDir,
    compactionIntervalMs: f.durationMs('--etcd-compaction-interval'),
    snapshotIntervalMs: f.durationMs('--snapshot-schedule'),
    snapshotRetention: f.int('--snapshot-retention'),
    snapshotDir: f.optional('--snapshot-dir') ?? '',
    ketchVersion: VERSION,
    log,
  });
  const api = await startApiServer({
    dataDir,
    securePort: f.int('--secure-port'),
    bindAddress: f.string('--bind-address'),
    storage,
    maxRequestsInflight: f.int('--max-requests-inflight'),
    maxMutatingRequestsInflight: f.int('--max-mutating-requests-inflight'),
  }).catch(async (err: unknown) => {
    await upkeep.stop();
    await storage.close();
    throw err;
  });
  log.info('api server ready', { url: api.url, kubeconfig: api.adminKubeconfigPath, storage: etcdServers.length ? 'etcd' : 'embedded' });
  // The hosted components reach the API server as any client would: over TLS with the admin credentials.
  const rest = new RestClient(loadClientConfig({ kubeconfig: api.adminKubeconfigPath }), 'ketch-server');
  const components = await startControlPlaneComponents(api.adminKubeconfigPath, input).catch(async (err: unknown) => {
    await api.close();
    await upkeep.stop();
    await storage.close();
    throw err;
  });
  // Which thread is which component (a diagnostic: per-component CPU from /proc/<pid>/task/<tid>).
  const threads = [{ name: 'apiserver', pid: process.pid, ...(osThreadId() !== undefined ? { tid: osThreadId() } : {}) }, ...components.threads];
  writeFileSync(join(dataDir, 'components.json'), JSON.stringify(threads) + '\n');
  return {
    url: api.url,
    adminKubeconfigPath: api.adminKubeconfigPath,
    rest,
    failed: components.failed,
    stop: async () => {
      await components.stop();
      await api.close();
      await upkeep.stop();
      await storage.close();
    },
  };
}

export function register(program: Command): void {
  const cmd = program.command('server').description('run the control plane: API server over etcd or the embedded store, controller manager and scheduler');
  addFlags(cmd, SERVER_FLAGS).action(async (_opts: unknown, c: Command) => {
    const srv = await runServer(givenFlags(c));
    console.error(`ketch server is up at ${srv.url}\n  export KUBECONFIG=${srv.adminKubeconfigPath}\n  kubectl get ns`);
    // A component thread that dies takes the server down (as a crashed k3s component does), after a clean stop.
    const failure = await Promise.race([untilSignal().then(() => undefined), srv.failed.catch((err: unknown) => err)]);
    await srv.stop();
    if (failure !== undefined) process.exitCode = 1;
  });
}
