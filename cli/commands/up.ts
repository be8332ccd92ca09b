// `ketch up`: a one-node cluster in the foreground: control plane, runtime shim and node agent, with start-up progress.
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import YAML from 'yaml';
import { isNotFound } from '../../api/errors.js';
import { NODES } from '../../client/resources.js';
import type { ResourceClient } from '../../client/rest.js';
import { defaultBridge, ensurePodCidrFree, HOST_BUSYBOX_TAGS, hasDefaultRoute, importHostBusybox, RuntimeError, spawnRuntimeService, startRuntimeService, type RuntimeServiceHandle } from '../../agent/runtime/index.js';
import { startAgent, writeRegistryTls } from '../../agent/index.js';
import { unmountUnder } from '../../agent/volumes.js';
import { DEFAULT_POD_SECURITY, type PodSecurityConfiguration } from '../../apiserver/admission/pod-security/config.js';
import { LATEST } from '../../apiserver/admission/pod-security/policy.js';
import { ensureNodeCredentials } from '../../apiserver/pki/pki.js';
import { RestClient } from '../../client/rest.js';
import { NODE_NETWORK_FLAGS, nodeNetworkFlags } from '../../agent/node-network.js';
import { ensureLocalPathStorageClass } from '../../controllers/volume/local-path/bootstrap.js';
import { adjustFlags, readFlags, type FlagInput, type FlagTable } from '../../lib/flags.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { untilSignal } from '../signals.js';
import { processIo } from '../io.js';
import { progress } from '../wait-util.js';
import { IMAGE_GC_FLAGS, imageGcOptions, parseMirrors } from './components.js';
import { HOSTED_COMPONENT_FLAGS } from './control-plane.js';
import { etcd3Credentials } from '../../apiserver/storage/etcd.js';
import type { EtcdTls } from '../../apiserver/storage/index.js';
import { ensureDefaultEncryptionConfig } from '../../apiserver/encryption/config.js';
import { API_SERVER_FLAGS, etcdTlsFromFlags, runServer, type RunningServer } from './server.js';
import { DEFAULT_REGISTRY_PORT, startClusterRegistry } from '../../registry/index.js';

/** `ketch up`'s flags: the API server's (data dir /var/lib/ketch), then the runtime's and agent's, then the hosted components'. */
export const UP_FLAGS: FlagTable = [
  ...adjustFlags(API_SERVER_FLAGS, { '--data-dir': '/var/lib/ketch' }),
  { name: '--insecure-registry', kind: 'repeated', arg: 'host:port', description: 'registry reached over plain HTTP (repeatable)' },
  { name: '--registry-mirror', kind: 'repeated', arg: 'name=url', description: 'registry mirror, e.g. docker.io=http://127.0.0.1:5000 (repeatable)' },
  { name: '--write-kubeconfig', kind: 'bool', description: 'merge the admin kubeconfig into ~/.kube/config' },
  { name: '--node-name', kind: 'string', arg: 'name', default: hostname().toLowerCase(), description: 'name of this node' },
  { name: '--agent-port', kind: 'int', arg: 'port', default: '10250', description: 'HTTPS port of the node agent API' },
  { name: '--max-pods', kind: 'int', arg: 'n', default: '110', description: "the node's pods capacity" },
  { name: '--runtime-in-process', kind: 'bool', description: 'run the runtime service in this process (default: a child process)' },
  { name: '--registry-port', kind: 'int', arg: 'port', default: String(DEFAULT_REGISTRY_PORT), description: 'HTTPS port of the built-in OCI registry (storage under DATA-DIR/registry)' },
  { name: '--disable-registry', kind: 'bool', description: 'do not run the built-in registry' },
  ...IMAGE_GC_FLAGS,
  // The node network's flags but the two ranges, which the API server's and the controller manager's flags give.
  ...NODE_NETWORK_FLAGS.filter((f) => f.name !== '--cluster-cidr' && f.name !== '--service-cluster-ip-range'),
  { name: '--host-busybox', kind: 'string', arg: 'auto|always|never', default: 'auto', description: "put busybox:1.36 and busybox:latest made from the host's busybox-static into the node's image store when it lacks them: always, never, or auto (when this machine has no default route, i.e. no internet)" },
  { name: '--shutdown-grace-period', kind: 'duration', arg: 'duration', default: '5s', description: "on Ctrl-C, how long running containers get to exit after their stop signal before they are killed (0s: at once)" },
  ...HOSTED_COMPONENT_FLAGS,
];

/** `ketch up`'s Pod Security defaults: enforce baseline (latest) everywhere but kube-system, which runs system pods. */
export const UP_POD_SECURITY: PodSecurityConfiguration = {
  defaults: { ...DEFAULT_POD_SECURITY.defaults, enforce: { level: 'baseline', version: LATEST } },
  exemptions: { usernames: [], runtimeClasses: [], namespaces: ['kube-system'] },
};

/** A missing prerequisite, reported with the fix. */
export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function checkPrerequisites(flags: { etcdServers?: string | undefined }): void {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('ketch up runs containers and must run as root: sudo npx ketch up');
  if (!onPath('runc')) problems.push('runc is not installed: sudo apt-get install -y runc (or: sudo bash scripts/install-deps.sh)');
  if (!onPath('ip')) problems.push('iproute2 is not installed: sudo apt-get install -y iproute2');
  if (flags.etcdServers && !flags.etcdServers.split(',').every((u) => /^https?:\/\//.test(u.trim()))) {
    problems.push(`--etcd-servers wants URLs such as http://127.0.0.1:2379, got "${flags.etcdServers}"`);
  }
  if (problems.length) throw new PrerequisiteError(problems.map((p) => `  - ${p}`).join('\n'));
}

/** Merges the cluster's admin kubeconfig into ~/.kube/config (entries named "ketch"), making it the current context. */
export function mergeKubeconfig(adminPath: string, target = join(homedir(), '.kube', 'config')): void {
  type Named = { name: string; [k: string]: unknown };
  type Cfg = { clusters?: Named[]; users?: Named[]; contexts?: Named[]; 'current-context'?: string; [k: string]: unknown };
  const admin = YAML.parse(readFileSync(adminPath, 'utf8')) as Cfg;
  const cur: Cfg = existsSync(target) ? ((YAML.parse(readFileSync(target, 'utf8')) as Cfg | null) ?? {}) : { apiVersion: 'v1', kind: 'Config' };
  const put = (list: Named[] | undefined, item: Named | undefined): Named[] => {
    const rest = (list ?? []).filter((x) => x.name !== 'ketch');
    return item ? [...rest, { ...item, name: 'ketch' }] : rest;
  };
  const ctx = admin.contexts?.[0] as { context?: Record<string, unknown> } | undefined;
  cur.clusters = put(cur.clusters, admin.clusters?.[0]);
  cur.users = put(cur.users, admin.users?.[0]);
  cur.contexts = put(cur.contexts, { name: 'ketch', context: { ...(ctx?.context ?? {}), cluster: 'ketch', user: 'ketch' } });
  cur['current-context'] = 'ketch';
  mkdirSync(join(target, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(target, YAML.stringify(cur), { mode: 0o600 });
}

interface NodeLike {
  spec?: { podCIDR?: string };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

async function waitNodeReady(server: RunningServer, name: string, timeoutMs = 120_000): Promise<void> {
  const nodes = server.rest.resource<NodeLike & { metadata?: { name?: string } }>(NODES);
  // On a terminal, a spinner line with what the node still lacks; elsewhere a plain line every 10 s.
  const spinner = progress(processIo(), { plainEveryMs: 10_000 });
  try {
    await pollNodeReady(nodes, name, Date.now() + timeoutMs, (what) => spinner.update(`waiting for node "${name}": ${what}`));
  } catch (err) {
    throw new Error(`node ${name} did not become Ready within ${timeoutMs / 1000}s: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    spinner.done();
  }
}

async function pollNodeReady(nodes: ResourceClient<NodeLike & { metadata?: { name?: string } }>, name: string, deadline: number, note: (what: string) => void): Promise<void> {
  let last = 'not registered yet';
  while (Date.now() < deadline) {
    // Not registered yet, or the API server busy starting: both are worth another look until the deadline.
    const node = await nodes.get(undefined, name).catch((err: unknown) => void (last = isNotFound(err) ? 'not registered yet' : `cannot read it: ${String(err)}`));
    const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') return;
    if (node) last = `Ready=${ready?.status ?? 'unknown'}${ready?.message ? ` (${ready.message})` : ''}${node.spec?.podCIDR ? '' : ', no pod CIDR yet'}`;
    note(last);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(last);
}

/** Start-up progress on stderr: one line per step, saying what it waits for. */
class Progress {
  private readonly t0 = Date.now();
  step(what: string): void {
    process.stderr.write(`[${((Date.now() - this.t0) / 1000).toFixed(1)}s] ${what}\n`);
  }
}

/** --host-busybox: the quick start's image made on this machine, when it has no route to a registry (or always). */
async function offlineImages(mode: string, runtimeRoot: string, progress: Progress): Promise<void> {
  if (!['auto', 'always', 'never'].includes(mode)) throw new PrerequisiteError(`  - --host-busybox wants auto, always or never, got "${mode}"`);
  const offline = mode === 'always' || (mode === 'auto' && !hasDefaultRoute(readIfThere('/proc/net/route'), readIfThere('/proc/net/ipv6_route')));
  if (!offline) return;
  try {
    const imported = await importHostBusybox(runtimeRoot, HOST_BUSYBOX_TAGS, { keepExisting: true });
    if (imported.length) progress.step(`${mode === 'auto' ? 'no route to the internet: ' : ''}${imported.join(', ')} made from the host's busybox-static (--host-busybox=never to pull instead)`);
  } catch (err) {
    // Without it the cluster still runs; pods of images the store lacks then fail their pulls, which `ketch why` explains.
    progress.step(`cannot make busybox from the host (${err instanceof Error ? err.message : String(err)}); pods will pull their images`);
  }
}

function readIfThere(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

export interface RunningCluster {
  server: RunningServer;
  stop(): Promise<void>;
}

/**
 * With --etcd-servers, at least one endpoint must answer before anything starts: etcd's maintenance Status through
 * etcd3 (the etcd client for everything off the storage hot path), with a member that knows its leader.
 */
export async function checkEtcd(urls: string, tls?: EtcdTls): Promise<void> {
  const endpoints = urls.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean);
  const problems: string[] = [];
  for (const url of endpoints) {
    const client = new Etcd3({
      hosts: [url],
      ...etcd3Credentials(tls, [url]),
      dialTimeout: 3000,
      defaultCallOptions: () => ({ deadline: Date.now() + 3000 }),
      // One attempt per endpoint: the next endpoint is the retry.
      faultHandling: { global: noop, host: () => noop },
    });
    try {
      const status = await client.maintenance.status();
      if (status.leader !== '0') return;
      problems.push(`${url}: no leader`);
    } catch (err) {
      problems.push(`${url}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      client.close();
    }
  }
  throw new PrerequisiteError(
    `  - no etcd answers at ${endpoints.join(', ')}: start etcd there (apt-get install -y etcd-server), or leave out --etcd-servers to use the embedded store (${problems.join('; ')})`,
  );
}

/**
 * Before anything starts: what a killed earlier run left on the host is removed (ours is adopted by the runtime), and a
 * live cluster that routes part of the cluster CIDR here is a prerequisite failure, said as such.
 */
async function ensureHostNetworkFree(clusterCidr: string, runtimeRoot: string): Promise<void> {
  try {
    await ensurePodCidrFree(clusterCidr, defaultBridge(runtimeRoot));
  } catch (err) {
    if (err instanceof RuntimeError && err.code === 'FailedPrecondition') throw new PrerequisiteError(`  - ${err.message}`);
    throw err;
  }
}

/** `ketch up`'s own EncryptionConfiguration under the server's data dir (Secrets under a generated AES-GCM key). */
async function defaultEncryption(serverDir: string): Promise<string> {
  mkdirSync(join(serverDir, 'pki'), { recursive: true, mode: 0o700 });
  return ensureDefaultEncryptionConfig(join(serverDir, 'pki', 'encryption-config.yaml'));
}

/** Starts the one-node cluster from the flags given (UP_FLAGS, by name). */
export async function runUp(input: FlagInput): Promise<RunningCluster> {
  const f = readFlags(UP_FLAGS, input);
  const imageGc = imageGcOptions(f);
  const etcdServers = f.optional('--etcd-servers');
  checkPrerequisites({ etcdServers });
  if (etcdServers) await checkEtcd(etcdServers, etcdTlsFromFlags(f));
  const progress = new Progress();
  const dataDir = resolve(f.string('--data-dir'));
  const nodeName = f.string('--node-name');
  const runtimeInProcess = f.bool('--runtime-in-process');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  await ensureHostNetworkFree(f.string('--cluster-cidr'), join(dataDir, 'runtime'));
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => process.stderr.write(`stop failed: ${String(err)}\n`));
  };
  try {
    progress.step(`starting the API server (${etcdServers ? `etcd at ${etcdServers}` : `embedded store in ${dataDir}/server`})`);
    // Secrets are encrypted at rest unless a configuration is given: a key made on first start, kept 0600 in the PKI dir.
    // Pod Security: `ketch up` enforces baseline on namespaces without labels of their own (kube-system exempt), unless
    // --admission-control-config-file says otherwise; `ketch server` keeps kube's default (privileged).
    const encryption = f.optional('--encryption-provider-config') ?? (await defaultEncryption(join(dataDir, 'server')));
    const server = await runServer({ ...input, '--data-dir': join(dataDir, 'server'), '--encryption-provider-config': encryption }, { podSecurity: UP_POD_SECURITY, loopbackAgents: true, keepThreadPriority: true });
    stops.push(() => server.stop());
    progress.step(`API server up at ${server.url}`);
    if (await ensureLocalPathStorageClass(server.rest, join(dataDir, 'storage'))) progress.step(`default StorageClass local-path created (volumes in ${dataDir}/storage)`);

    if (!f.bool('--disable-registry')) {
      const registry = await startClusterRegistry({ root: join(dataDir, 'registry'), port: f.int('--registry-port'), pkiDir: join(dataDir, 'server', 'pki'), rest: server.rest });
      stops.push(() => registry.close());
      progress.step(`built-in registry up at ${registry.url} (cluster CA; docker login -u x -p TOKEN)`);
    }

    await offlineImages(f.string('--host-busybox'), join(dataDir, 'runtime'), progress);
    const runtimeEndpoint = `unix://${join(dataDir, 'runtime.sock')}`;
    progress.step(`starting the runtime service (runc)${runtimeInProcess ? ' in this process' : ' in a child process'}`);
    // Its own process by default: the API server, controllers, scheduler and agent already share this event loop.
    const start = runtimeInProcess ? startRuntimeService : spawnRuntimeService;
    // The agent's own identity (system:node:NAME) and a serving certificate the API server verifies, both from the CA;
    // the runtime pulls from the built-in registry as this node (the cluster CA and the node's client certificate).
    const creds = await ensureNodeCredentials(join(dataDir, 'server'), nodeName);
    const clusterTls = await writeRegistryTls(join(dataDir, 'agent', 'registry-tls'), { ca: server.rest.config.ca, cert: creds.client.certPem, key: creds.client.keyPem });
    const runtime: RuntimeServiceHandle = await start({
      root: join(dataDir, 'runtime'),
      listen: runtimeEndpoint,
      insecureRegistries: f.repeated('--insecure-registry'),
      registryMirrors: parseMirrors(f.repeated('--registry-mirror')),
      ...(clusterTls ? { clusterTls } : {}),
      // The agent collects images over the CRI (agent/image-gc.ts).
      imageGc: { disabled: true },
      mountsDir: dataDir,
    });
    stops.push(() => runtime.close());
    // Ctrl-C stops every pod of this node: no container, mount, netns, veth or cgroup outlives `ketch up`.
    // Their volumes (tmpfs secrets and tokens, memory emptyDirs) are unmounted once the sandboxes are gone.
    stops.push(() => unmountUnder(join(dataDir, 'agent', 'pods')));
    const graceSeconds = Math.ceil(f.durationMs('--shutdown-grace-period') / 1000);
    stops.push(() => runtime.removeAllPods(graceSeconds));
    progress.step(`runtime service up at ${runtimeEndpoint}`);

    progress.step(`starting the node agent for node "${nodeName}"`);
    const { cert: _c, key: _k, token: _t, ...cluster } = server.rest.config;
    const agent = await startAgent({
      rest: new RestClient({ ...cluster, cert: creds.client.certPem, key: creds.client.keyPem }, 'ketch-agent'),
      nodeName: nodeName,
      rootDir: join(dataDir, 'agent'),
      localPathRoots: [join(dataDir, 'storage')],
      runtimeEndpoint,
      port: f.int('--agent-port'),
      maxPods: f.int('--max-pods'),
      tlsCertFile: creds.servingCertFile,
      tlsKeyFile: creds.servingKeyFile,
      ...nodeNetworkFlags(f),
      imageGc,
    });
    stops.push(() => agent.stop());
    progress.step(`waiting for node "${nodeName}" to be Ready (pod CIDR from the controller manager, runtime status)`);
    await waitNodeReady(server, nodeName);
    progress.step(`node "${nodeName}" is Ready`);

    if (f.bool('--write-kubeconfig')) {
      mergeKubeconfig(server.adminKubeconfigPath);
      progress.step('merged the admin credentials into ~/.kube/config (context "ketch")');
    }
    return { server, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export function register(program: Command): void {
  const cmd = program.command('up').description('run a one-node cluster in the foreground (control plane, runtime, agent); Ctrl-C stops it');
  addFlags(cmd, UP_FLAGS).action(async (_opts: unknown, c: Command) => {
    let cluster: RunningCluster;
    try {
      cluster = await runUp(givenFlags(c));
    } catch (err) {
      if (err instanceof PrerequisiteError) {
        console.error(`ketch up cannot start:\n${err.message}`);
        process.exitCode = 1;
        return;
      }
      throw err;
    }
    console.error(
      [
        '',
        'ketch is up.',
        `  export KUBECONFIG=${cluster.server.adminKubeconfigPath}`,
        '  kubectl get nodes          # or: npx ketch get nodes',
        '  kubectl create deployment web --image=busybox:1.36 -- sleep 3600',
        'Ctrl-C stops the cluster; `ketch up` with the same --data-dir brings it back.',
      ].join('\n'),
    );
    const sig = await untilSignal();
    console.error(`\n${sig}: stopping`);
    await cluster.stop();
  });
}
