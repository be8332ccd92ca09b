// `ketch server`: the control plane in one process (k3s-style): storage, API server, and the components hosted with it.
import type { Command } from 'commander';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadEncryptionConfig } from '../../apiserver/encryption/config.js';
import { openStorage, type EtcdTls } from '../../apiserver/storage/index.js';
import { startStorageUpkeep } from '../../apiserver/storage/upkeep.js';
import { startApiServer } from '../../apiserver/index.js';
import { logger } from '../../lib/logger.js';
import { FlagError, readFlags, type FlagInput, type FlagTable } from '../../lib/flags.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { untilSignal } from '../signals.js';
import { VERSION } from '../version.js';
import { HOSTED_COMPONENT_FLAGS, startControlPlaneComponents } from './control-plane.js';

/** The API server's own flags, shared by `ketch server` and `ketch up` (which differ only in the data dir). */
export const API_SERVER_FLAGS: FlagTable = [
  { name: '--data-dir', kind: 'string', arg: 'dir', default: '/var/lib/ketch/server', description: 'state directory (embedded store, PKI, admin.kubeconfig)' },
  { name: '--secure-port', kind: 'int', arg: 'port', default: '6443', description: 'API server HTTPS port' },
  { name: '--bind-address', kind: 'string', arg: 'addr', default: '0.0.0.0', description: 'API server address to listen on' },
  { name: '--advertise-address', kind: 'string', arg: 'ip', description: 'address joining nodes reach the API server on, published in kube-public/cluster-info (default: --bind-address, or the first non-loopback IPv4)' },
  { name: '--etcd-servers', kind: 'list', arg: 'urls', description: 'comma-separated etcd endpoints; without it the embedded store is used' },
  { name: '--max-requests-inflight', kind: 'int', arg: 'n', default: '400', description: 'non-mutating requests in flight before the API server answers 429 (0: no limit)' },
  { name: '--etcd-cafile', kind: 'string', arg: 'file', description: 'CA that signed the etcd servers\' certificates (https etcd endpoints)' },
  { name: '--etcd-certfile', kind: 'string', arg: 'file', description: 'client certificate towards etcd' },
  { name: '--etcd-keyfile', kind: 'string', arg: 'file', description: 'key of --etcd-certfile' },
  { name: '--encryption-provider-config', kind: 'string', arg: 'file', description: 'EncryptionConfiguration (apiserver.config.k8s.io/v1): how resources are encrypted at rest' },
  { name: '--max-mutating-requests-inflight', kind: 'int', arg: 'n', default: '200', description: 'mutating requests in flight before the API server answers 429 (0: no limit)' },
  { name: '--etcd-compaction-interval', kind: 'duration', default: '5m', description: 'how often storage is compacted, to the revision it had one interval earlier (embedded store and etcd; 0 disables)' },
  { name: '--snapshot-schedule', kind: 'duration', default: '12h', description: 'time between scheduled snapshots of the store, a duration such as 6h (0 disables)' },
  { name: '--snapshot-retention', kind: 'int', arg: 'n', default: '5', description: 'scheduled snapshots kept; older ones are deleted (0 keeps all)' },
  { name: '--snapshot-dir', kind: 'string', arg: 'dir', description: 'directory of snapshots (default <data-dir>/snapshots)' },
];

/** The etcd client's TLS files from --etcd-cafile, --etcd-certfile and --etcd-keyfile, read; undefined when none is given. */
export function etcdTlsFromFlags(f: { optional(name: string): string | undefined }): EtcdTls | undefined {
  const ca = f.optional('--etcd-cafile');
  const cert = f.optional('--etcd-certfile');
  const key = f.optional('--etcd-keyfile');
  if (!ca && !cert && !key) return undefined;
  if (!cert !== !key) throw new FlagError('--etcd-certfile and --etcd-keyfile go together');
  return { ...(ca ? { ca: readFileSync(ca, 'utf8') } : {}), ...(cert && key ? { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') } : {}) };
}

/** `ketch server`'s flags: the API server's and the hosted components'. */
export const SERVER_FLAGS: FlagTable = [...API_SERVER_FLAGS, ...HOSTED_COMPONENT_FLAGS];

export interface RunningServer {
  url: string;
  adminKubeconfigPath: string;
  /** A client with the admin credentials. */
  rest: RestClient;
  stop(): Promise<void>;
}

/** Starts the API server and the hosted components from the flags given (SERVER_FLAGS, by name). */
export async function runServer(input: FlagInput): Promise<RunningServer> {
  const log = logger('server');
  const f = readFlags(SERVER_FLAGS, input);
  const dataDir = resolve(f.string('--data-dir'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const etcdServers = f.list('--etcd-servers');
  const etcdTls = etcdTlsFromFlags(f);
  const encryptionFile = f.optional('--encryption-provider-config');
  const encryption = encryptionFile ? await loadEncryptionConfig(encryptionFile) : undefined;
  const storage = await openStorage({ dataDir, ketchVersion: VERSION, ...(etcdServers.length ? { etcdServers } : {}), ...(etcdTls ? { etcdTls } : {}) });
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
    ...(encryption ? { encryption } : {}),
    dataDir,
    securePort: f.int('--secure-port'),
    bindAddress: f.string('--bind-address'),
    ...(f.optional('--advertise-address') ? { advertiseAddress: f.string('--advertise-address') } : {}),
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
  const config = loadClientConfig({ kubeconfig: api.adminKubeconfigPath });
  const rest = new RestClient(config, 'ketch-server');
  // The hosted CSR signer signs with the cluster CA unless told otherwise (kube-controller-manager's defaults are kubeadm's paths).
  const hosted = {
    '--cluster-signing-cert-file': join(dataDir, 'pki', 'ca.crt'),
    '--cluster-signing-key-file': join(dataDir, 'pki', 'ca.key'),
    ...input,
  };
  const components = await startControlPlaneComponents((agent) => new RestClient(config, agent), hosted).catch(async (err: unknown) => {
    await api.close();
    await upkeep.stop();
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
    await untilSignal();
    await srv.stop();
  });
}
