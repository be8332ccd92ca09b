// `ketch server`: the control plane in one process (k3s-style): storage and the API server on the main thread, the
// controller manager and the scheduler hosted with it, each on a worker thread (or all on one with --single-process).
import type { Command } from 'commander';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { loadEncryptionConfig } from '../../apiserver/encryption/config.js';
import { openStorage, type EtcdTls } from '../../apiserver/storage/index.js';
import { startStorageUpkeep } from '../../apiserver/storage/upkeep.js';
import { parseAuthorizationModes, startApiServer, type ApiServerOptions } from '../../apiserver/index.js';
import type { UserInfo } from '../../apiserver/authorization/types.js';
import type { PodSecurityConfiguration } from '../../apiserver/admission/pod-security/config.js';
import { DEFAULT_SERVICE_RANGES } from '../../apiserver/registry/kinds/service.js';
import { logger } from '../../lib/logger.js';
import { FlagError, readFlags, type FlagInput, type Flags, type FlagTable } from '../../lib/flags.js';
import { startHeapCompaction } from '../../lib/heap-compaction.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { untilSignal } from '../signals.js';
import { VERSION } from '../version.js';
import { HEAP_COMPACT_FLAG, osThreadId } from './component-thread.js';
import { raiseThreadPriority } from './thread-priority.js';
import { HOSTED_COMPONENT_FLAGS, HOSTING_FLAGS, startControlPlaneComponents } from './control-plane.js';
import type { ComponentClient } from './hosted-component.js';
import { threadMemory, threadMemoryText, writeHeapSnapshots } from './thread-memory.js';

/** The API server's own flags, shared by `ketch server` and `ketch up` (which differ only in the data dir). */
export const API_SERVER_FLAGS: FlagTable = [
  { name: '--data-dir', kind: 'string', arg: 'dir', default: '/var/lib/ketch/server', description: 'state directory (embedded store, PKI, admin.kubeconfig)' },
  { name: '--secure-port', kind: 'int', arg: 'port', default: '6443', description: 'API server HTTPS port' },
  { name: '--bind-address', kind: 'string', arg: 'addr', default: '0.0.0.0', description: 'API server address to listen on' },
  {
    name: '--advertise-address',
    kind: 'string',
    arg: 'ip',
    description: "the API server's address in the kubernetes Service's endpoints and in kube-public/cluster-info for joining nodes (default: --bind-address when it names one, else the first non-loopback IPv4; a loopback address gives no endpoint)",
  },
  { name: '--service-cluster-ip-range', kind: 'string', arg: 'cidr', default: DEFAULT_SERVICE_RANGES.serviceCidr, description: "Services' cluster IPs; the first is the kubernetes Service's" },
  { name: '--etcd-servers', kind: 'list', arg: 'urls', description: 'comma-separated etcd endpoints; without it the embedded store is used' },
  { name: '--max-requests-inflight', kind: 'int', arg: 'n', default: '400', description: 'non-mutating requests in flight before the API server answers 429 (0: no limit)' },
  { name: '--etcd-cafile', kind: 'string', arg: 'file', description: 'CA that signed the etcd servers\' certificates (https etcd endpoints)' },
  { name: '--etcd-certfile', kind: 'string', arg: 'file', description: 'client certificate towards etcd' },
  { name: '--etcd-keyfile', kind: 'string', arg: 'file', description: 'key of --etcd-certfile' },
  { name: '--encryption-provider-config', kind: 'string', arg: 'file', description: 'EncryptionConfiguration (apiserver.config.k8s.io/v1): how resources are encrypted at rest' },
  { name: '--max-mutating-requests-inflight', kind: 'int', arg: 'n', default: '200', description: 'mutating requests in flight before the API server answers 429 (0: no limit)' },
  { name: '--authorization-mode', kind: 'list', arg: 'modes', default: 'Node,RBAC', description: 'authorizers in order, after system:masters: Node, RBAC, AlwaysAllow, AlwaysDeny' },
  { name: '--admission-control-config-file', kind: 'string', arg: 'file', description: 'AdmissionConfiguration with the PodSecurity plugin\'s PodSecurityConfiguration (defaults, exemptions)' },
  { name: '--audit-policy-file', kind: 'string', arg: 'file', description: 'audit.k8s.io/v1 Policy: which requests are logged at which level (none without it)' },
  { name: '--audit-log-path', kind: 'string', arg: 'file', description: 'audit log file, one JSON event per line; - for stdout' },
  { name: '--audit-log-maxsize', kind: 'int', arg: 'MB', default: '0', description: 'megabytes before the audit log is rotated (0: 100)' },
  { name: '--audit-log-maxbackup', kind: 'int', arg: 'n', default: '0', description: 'rotated audit log files kept (0: all)' },
  { name: '--audit-log-maxage', kind: 'int', arg: 'days', default: '0', description: 'days a rotated audit log file is kept (0: no limit)' },
  { name: '--kubelet-certificate-authority', kind: 'string', arg: 'file', description: "CA that signed the agents' serving certificates (default: the cluster CA)" },
  { name: '--kubelet-insecure-skip-tls-verify', kind: 'bool', description: "do not verify the agents' serving certificates (kube-apiserver without --kubelet-certificate-authority)" },
  { name: '--etcd-compaction-interval', kind: 'duration', default: '5m', description: 'how often storage is compacted, to the revision it had one interval earlier (embedded store and etcd; 0 disables)' },
  { name: '--snapshot-schedule', kind: 'duration', default: '12h', description: 'time between scheduled snapshots of the store, a duration such as 6h (0 disables)' },
  { name: '--snapshot-retention', kind: 'int', arg: 'n', default: '5', description: 'scheduled snapshots kept; older ones are deleted (0 keeps all)' },
  { name: '--snapshot-dir', kind: 'string', arg: 'dir', description: 'directory of snapshots (default <data-dir>/snapshots)' },
  {
    name: '--heap-growth-percent',
    kind: 'int',
    arg: 'pct',
    description:
      "how far each thread's JavaScript heap may grow past its live objects before a full collection (Go's GOGC for kube's components; 0: V8's own, up to 300%) (default: 40 on the embedded store, where at 1,000 x 30,000 the API server's thread collected fully 44-49 times in a run against 68-75 at 25, for RSS at the end of 465-494 MB against 439-466; 50 with --etcd-servers, whose client promotes about twice as much: 8.2 and 9.3 against 11.3-13.0 ms of control-plane CPU per pod at 1,000 x 30,000)",
  },
  HEAP_COMPACT_FLAG,
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

/** `ketch server`'s own: how far its API server's thread runs ahead of the rest (not `ketch up`, see ServerDefaults). */
export const API_THREAD_FLAGS: FlagTable = [
  {
    name: '--apiserver-thread-priority',
    kind: 'int',
    arg: 'levels',
    default: '10',
    description:
      "nice levels the API server's thread runs ahead of the process's other threads and the machine's other processes when the component threads run (the serial path of every write; at 1,000 hollow nodes and 30,000 pods on 2 cores it waited for a core ~35% of the run at the same nice, ~13% at 10 levels ahead, and the run took 56.4 s instead of 72.3 s); needs CAP_SYS_NICE (root), else it stays as it is and the log says so; processes the server starts (etcdctl snapshots) inherit it; 0: none",
  },
];

/** `ketch server`'s flags: the API server's, the hosted components' and its thread's priority. */
export const SERVER_FLAGS: FlagTable = [...API_SERVER_FLAGS, ...HOSTED_COMPONENT_FLAGS, ...API_THREAD_FLAGS];

export interface RunningServer {
  url: string;
  adminKubeconfigPath: string;
  /** A client with the admin credentials. */
  rest: RestClient;
  /** Rejects when a hosted component's thread fails; never settles otherwise. */
  failed: Promise<never>;
  stop(): Promise<void>;
}

/** What `ketch up` sets differently from `ketch server` when the flags leave it open. */
export interface ServerDefaults {
  /** PodSecurity's configuration without --admission-control-config-file. */
  podSecurity?: PodSecurityConfiguration;
  /** The only node is this host (`ketch up`): its agent may be reached on loopback whatever the bind address. */
  loopbackAgents?: boolean;
  /**
   * Leave the calling thread's priority as it is (`ketch up`: its node agent shares the thread and starts the runtime
   * and the containers, which would inherit a raised priority).
   */
  keepThreadPriority?: boolean;
}

/** The API server's options from its flags. */
async function apiServerOptions(f: Flags, defaults: ServerDefaults): Promise<Omit<ApiServerOptions, 'dataDir' | 'storage'>> {
  const opt = (name: string): string | undefined => f.optional(name) || undefined;
  const admissionConfig = opt('--admission-control-config-file');
  const auditPolicy = opt('--audit-policy-file');
  const auditPath = opt('--audit-log-path');
  const kubeletCa = opt('--kubelet-certificate-authority');
  return {
    securePort: f.int('--secure-port'),
    bindAddress: f.string('--bind-address'),
    ...(f.optional('--advertise-address') ? { advertiseAddress: f.string('--advertise-address') } : {}),
    serviceRanges: { ...DEFAULT_SERVICE_RANGES, serviceCidr: f.cidr('--service-cluster-ip-range', 8, 28) },
    maxRequestsInflight: f.int('--max-requests-inflight'),
    maxMutatingRequestsInflight: f.int('--max-mutating-requests-inflight'),
    authorizationModes: parseAuthorizationModes(f.list('--authorization-mode')),
    ...(admissionConfig ? { admissionControlConfigFile: admissionConfig } : defaults.podSecurity ? { podSecurity: defaults.podSecurity } : {}),
    ...(auditPolicy ? { auditPolicyFile: auditPolicy } : {}),
    ...(auditPath
      ? { auditLog: { path: auditPath, maxSizeMb: f.int('--audit-log-maxsize'), maxBackups: f.int('--audit-log-maxbackup'), maxAgeDays: f.int('--audit-log-maxage') } }
      : {}),
    ...(kubeletCa ? { kubeletCertificateAuthority: readFileSync(kubeletCa, 'utf8') } : {}),
    kubeletInsecureSkipTlsVerify: f.bool('--kubelet-insecure-skip-tls-verify'),
    ...(defaults.loopbackAgents ? { loopbackAgents: true } : {}),
  };
}

/**
 * V8's heap growing factor for every isolate of the process (the API server's and the component threads'; read at
 * each full collection). By default V8 lets a heap grow up to 4x its live size between full collections: three
 * isolates of a loaded control plane then hold more garbage than objects (bench:density 500x15000: 932 MB at the end,
 * 701 MB at 20%, for 10-15% more CPU in the threads).
 */
export function setHeapGrowth(percent: number): void {
  if (percent < 0 || percent > 1000) throw new FlagError(`--heap-growth-percent: ${percent} is not between 0 and 1000`);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * The heap growth when none is given: 40% on the embedded store (bench:density's memory target at 1,000 x 30,000 holds
 * with 18-47 MB to spare, and the API server's thread collects fully a third less often than at 25%); 50%
 * on etcd, where the API server's thread promotes about twice as much (the gRPC frames and protobuf messages of every
 * write and watch event) and a heap held to 25% collects fully ~1.6 times a second: 8.2 and 9.3 ms of control-plane CPU
 * per pod against 11.3-13.0 at that size, for 20-60 MB more (594 and 609 MB against 549-574; figures in the README).
 */
export function defaultHeapGrowth(etcd: boolean): number {
  return etcd ? 50 : 40;
}

/** The hosted components' users, as their client certificates name them (CN, no groups). */
const CONTROLLER_MANAGER_USER: UserInfo = { name: 'system:kube-controller-manager', groups: [] };
const SCHEDULER_USER: UserInfo = { name: 'system:kube-scheduler', groups: [] };

/** Starts the API server and the hosted components from the flags given (SERVER_FLAGS, by name). */
export async function runServer(input: FlagInput, defaults: ServerDefaults = {}): Promise<RunningServer> {
  const log = logger('server');
  const f = readFlags(SERVER_FLAGS, input);
  const etcdServers = f.list('--etcd-servers');
  setHeapGrowth(f.given('--heap-growth-percent') ? f.int('--heap-growth-percent') : defaultHeapGrowth(etcdServers.length > 0));
  const threadPriority = readFlags(API_THREAD_FLAGS, input).int('--apiserver-thread-priority');
  if (threadPriority < 0 || threadPriority > 40) throw new FlagError(`--apiserver-thread-priority: ${threadPriority} is not between 0 and 40`);
  const dataDir = resolve(f.string('--data-dir'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
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
  const localSocket = !readFlags(HOSTING_FLAGS, input).bool('--hosted-components-over-tls');
  const api = await startApiServer({ dataDir, storage, localSocket, ...(encryption ? { encryption } : {}), ...(await apiServerOptions(f, defaults)) }).catch(async (err: unknown) => {
    await upkeep.stop();
    await storage.close();
    throw err;
  });
  log.info('api server ready', { url: api.url, kubeconfig: api.adminKubeconfigPath, storage: etcdServers.length ? 'etcd' : 'embedded' });
  const rest = new RestClient(loadClientConfig({ kubeconfig: api.adminKubeconfigPath }), 'ketch-server');
  // The hosted components reach the API server with their own identities: over the local socket with a token each
  // (plain HTTP between threads of this process), or over loopback TLS with their client certificates.
  const local = api.local;
  const client = (kubeconfig: string, user: UserInfo): ComponentClient => ({ kubeconfig, ...(local ? { local: { socketPath: local.socketPath, token: local.token(user) } } : {}) });
  const clients = {
    'controller-manager': client(api.controllerManagerKubeconfigPath, CONTROLLER_MANAGER_USER),
    scheduler: client(api.schedulerKubeconfigPath, SCHEDULER_USER),
  };
  // The hosted CSR signer signs with the cluster CA unless told otherwise (kube-controller-manager's defaults are kubeadm's paths).
  const hosted = {
    '--cluster-signing-cert-file': join(dataDir, 'pki', 'ca.crt'),
    '--cluster-signing-key-file': join(dataDir, 'pki', 'ca.key'),
    ...input,
  };
  const components = await startControlPlaneComponents(clients, hosted).catch(async (err: unknown) => {
    await api.close();
    await upkeep.stop();
    await storage.close();
    throw err;
  });
  // kube-controller-manager and kube-scheduler serve /metrics on ports of their own; hosted here, theirs are appended to the API server's.
  for (const source of components.metrics) api.addMetricsSource(source);
  const threadMemorySource = async (): Promise<string> =>
    threadMemoryText([{ thread: 'apiserver', memory: threadMemory() }, ...(await Promise.all(components.threaded.map(async (t) => ({ thread: t.thread.name, memory: await t.memory() }))))]);
  api.addMetricsSource({ name: 'threads', text: threadMemorySource });
  const snapshots = (): void => {
    writeHeapSnapshots(dataDir, components.threaded.map((t) => ({ thread: t.thread.name, snapshot: () => t.heapSnapshot() }))).then(
      (paths) => log.info('heap snapshots written', { paths }),
      (err: unknown) => log.error('heap snapshots failed', { error: String(err) }),
    );
  };
  process.on('SIGUSR2', snapshots);
  // Which thread is which component (a diagnostic: per-component CPU from /proc/<pid>/task/<tid>).
  const threads = [{ name: 'apiserver', pid: process.pid, ...(osThreadId() !== undefined ? { tid: osThreadId() } : {}) }, ...components.threads];
  writeFileSync(join(dataDir, 'components.json'), JSON.stringify(threads) + '\n');
  const compaction = startHeapCompaction({ intervalMs: f.durationMs('--heap-compact-interval') });
  // Only ahead of threads that do not share it: with --single-process the components are on this thread.
  const priority = defaults.keepThreadPriority || !components.threaded.length ? undefined : raiseThreadPriority(threadPriority, log);
  return {
    url: api.url,
    adminKubeconfigPath: api.adminKubeconfigPath,
    rest,
    failed: components.failed,
    stop: async () => {
      process.off('SIGUSR2', snapshots);
      compaction.cancel();
      await components.stop();
      await api.close();
      await upkeep.stop();
      await storage.close();
      priority?.restore();
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
