// Component commands: each runs one part of the cluster alone (`ketch runtime`, ...), as `ketch server`/`ketch up` host them together.
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HOST_BUSYBOX_TAGS, importHostBusybox, loadImageArchive, startRuntimeService } from '../../agent/runtime/index.js';
import { registerImageVerbs } from './image.js';
import { startAgent, startHollowNodes } from '../../agent/index.js';
import { NODE_NETWORK_FLAGS, nodeNetworkFlags } from '../../agent/node-network.js';
import { bootstrapClientCertificate } from '../../agent/certificates/index.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { FlagError, readFlags, type Flags, type FlagTable } from '../../lib/flags.js';
import { logger } from '../../lib/logger.js';
import { invalidImageGcPolicy, type ImageGcPolicy } from '../../agent/image-gc.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { untilSignal } from '../signals.js';
import { parseDuration } from '../flags.js';
import { CliError } from '../errors.js';

export const DEFAULT_RUNTIME_ROOT = '/var/lib/ketch/runtime';
export const DEFAULT_RUNTIME_ENDPOINT = 'unix:///run/ketch/runtime.sock';

/** Parses repeated `--registry-mirror NAME=URL` flags. */
export function parseMirrors(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new Error(`--registry-mirror wants NAME=URL, got "${v}"`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

export const RUNTIME_FLAGS: FlagTable = [
  { name: '--root', kind: 'string', arg: 'dir', default: DEFAULT_RUNTIME_ROOT, description: 'state directory (images, containers, sandboxes)' },
  { name: '--listen', kind: 'string', arg: 'endpoint', default: DEFAULT_RUNTIME_ENDPOINT, description: 'gRPC endpoint' },
  { name: '--insecure-registry', kind: 'repeated', arg: 'host:port', description: 'registry reached over plain HTTP (repeatable)' },
  { name: '--registry-mirror', kind: 'repeated', arg: 'name=url', description: 'mirror for a registry, e.g. docker.io=http://127.0.0.1:5000 (repeatable)' },
];

/** The agent's image garbage collection (kubelet's flags), for `ketch agent` and `ketch up`. */
export const IMAGE_GC_FLAGS: FlagTable = [
  { name: '--image-gc-high-threshold', kind: 'int', arg: 'percent', default: '85', description: 'image filesystem usage at which unused images are collected' },
  { name: '--image-gc-low-threshold', kind: 'int', arg: 'percent', default: '80', description: 'usage the image collection frees down to' },
  { name: '--image-minimum-gc-age', kind: 'string', arg: 'duration', default: '2m', description: 'images first seen more recently than this are never collected' },
];

/** The image GC flags, checked as the kubelet checks them (before anything starts). */
export function imageGcOptions(f: Flags): ImageGcPolicy {
  const policy = {
    highThresholdPercent: f.int('--image-gc-high-threshold'),
    lowThresholdPercent: f.int('--image-gc-low-threshold'),
    minAgeMs: parseDuration(f.string('--image-minimum-gc-age'), '--image-minimum-gc-age'),
  };
  const bad = invalidImageGcPolicy(policy);
  if (bad) throw new CliError(bad);
  return policy;
}

export const AGENT_FLAGS: FlagTable = [
  { name: '--kubeconfig', kind: 'string', arg: 'file', description: 'kubeconfig of the API server (with --bootstrap-kubeconfig: where the node\'s own is written)' },
  { name: '--bootstrap-kubeconfig', kind: 'string', arg: 'file', description: 'kubeconfig with a bootstrap token: used to get the node\'s client certificate when --kubeconfig has none usable (TLS bootstrap)' },
  { name: '--rotate-certificates', kind: 'bool', description: 'renew the client certificate (from ROOT/pki, as a TLS bootstrap leaves it) before it expires' },
  { name: '--rotate-server-certificates', kind: 'bool', description: 'serve the agent API with a certificate from the cluster CA, asked for and renewed through CSRs' },
  { name: '--server', kind: 'string', arg: 'urls', description: "API servers, comma-separated (instead of the kubeconfig's); with several, the agent fails over between them" },
  { name: '--node-name', kind: 'string', arg: 'name', default: hostname().toLowerCase(), description: 'name of the Node object' },
  { name: '--container-runtime-endpoint', kind: 'string', arg: 'endpoint', description: 'CRI endpoint (e.g. unix:///run/containerd/containerd.sock); default: start the built-in runtime' },
  { name: '--root-dir', kind: 'string', arg: 'dir', default: '/var/lib/ketch/agent', description: 'state directory (volumes, logs, built-in runtime)' },
  { name: '--port', kind: 'int', arg: 'port', default: '10250', description: 'HTTPS port of the agent API (logs, exec, attach, port-forward)' },
  { name: '--address', kind: 'string', arg: 'ip', default: '0.0.0.0', description: 'bind address of the agent API' },
  { name: '--node-ip', kind: 'string', arg: 'ip', description: 'InternalIP reported for the node (default: first non-loopback IPv4)' },
  { name: '--node-labels', kind: 'string', arg: 'k=v,...', description: 'extra labels for the Node' },
  { name: '--max-pods', kind: 'int', arg: 'n', default: '110', description: 'pods capacity' },
  { name: '--insecure-registry', kind: 'repeated', arg: 'host:port', description: 'built-in runtime: registry reached over plain HTTP (repeatable)' },
  { name: '--registry-mirror', kind: 'repeated', arg: 'name=url', description: 'built-in runtime: mirror for a registry (repeatable)' },
  { name: '--tls-cert-file', kind: 'string', arg: 'file', description: 'serving certificate of the agent API (default: self-signed)' },
  { name: '--tls-private-key-file', kind: 'string', arg: 'file', description: 'key of --tls-cert-file' },
  { name: '--local-path-root', kind: 'repeated', arg: 'dir', description: 'directory local-path volumes may live in besides their StorageClass nodePath (repeatable; default /var/lib/ketch/storage)' },
  { name: '--no-pod-routes', kind: 'bool', description: "do not route the other nodes' pod CIDRs through their InternalIPs (host-gw); for another network plugin" },
  { name: '--no-seccomp-default', kind: 'bool', description: 'containers without a seccompProfile run Unconfined (kubelet --seccomp-default=false) instead of RuntimeDefault' },
  ...IMAGE_GC_FLAGS,
  ...NODE_NETWORK_FLAGS,
  { name: '--hollow', kind: 'bool', description: 'simulation (a fake, for scale tests): register --count nodes without a runtime' },
  { name: '--count', kind: 'int', arg: 'n', default: '1', description: 'with --hollow: number of nodes' },
  { name: '--prefix', kind: 'string', arg: 'p', default: 'hollow-node-', description: 'with --hollow: node name prefix' },
];

export const IMAGE_LOAD_FLAGS: FlagTable = [
  { name: '--root', kind: 'string', arg: 'dir', default: DEFAULT_RUNTIME_ROOT, description: 'runtime state directory' },
  { name: '--name', kind: 'string', arg: 'ref', description: 'tag the image with this name' },
];

export const IMAGE_IMPORT_HOST_FLAGS: FlagTable = [
  { name: '--root', kind: 'string', arg: 'dir', default: DEFAULT_RUNTIME_ROOT, description: 'runtime state directory (of `ketch up`: DATA-DIR/runtime; not while it runs)' },
  { name: '--tag', kind: 'repeated', arg: 'ref', description: `name of the image (repeatable; default ${HOST_BUSYBOX_TAGS.join(' and ')})` },
];

/** Parses `k=v,k2=v2`. */
export function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(',').filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`labels want k=v pairs, got "${pair}"`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

export function register(program: Command): void {
  const runtime = program.command('runtime').description('run the CRI runtime service over runc (what the node agent talks to)');
  addFlags(runtime, RUNTIME_FLAGS).action(async (_opts: unknown, cmd: Command) => {
    const f = readFlags(RUNTIME_FLAGS, givenFlags(cmd));
    const listen = f.string('--listen');
    const rt = await startRuntimeService({
      root: f.string('--root'),
      listen,
      insecureRegistries: f.repeated('--insecure-registry'),
      registryMirrors: parseMirrors(f.repeated('--registry-mirror')),
    });
    console.error(`ketch runtime listening on ${listen}`);
    await untilSignal();
    await rt.close();
  });

  const agent = program.command('agent').description('run the node agent: register this node and run the pods bound to it');
  addFlags(agent, AGENT_FLAGS).action((_opts: unknown, cmd: Command) => runAgent(cmd));

  const image = program.command('image').description("manage the nodes' images (load: this host's runtime store)");
  const load = image.command('load').argument('<file>', 'an OCI image-layout tar').description('import an OCI image-layout tar into the runtime image store');
  addFlags(load, IMAGE_LOAD_FLAGS).action(async (file: string, _opts: unknown, cmd: Command) => {
    const f = readFlags(IMAGE_LOAD_FLAGS, givenFlags(cmd));
    const name = f.optional('--name');
    const tags = await loadImageArchive(f.string('--root'), file, name ? { name } : {});
    for (const t of tags) console.log(`loaded ${t}`);
  });
  const importHost = image
    .command('import-host')
    .argument('<image>', 'what to make from this host: busybox (from busybox-static)')
    .description("make an image from the host's files and put it into the runtime image store (for a node without internet)");
  addFlags(importHost, IMAGE_IMPORT_HOST_FLAGS).action(async (what: string, _opts: unknown, cmd: Command) => {
    if (what !== 'busybox') throw new Error(`ketch image import-host: only busybox can be made from the host, not "${what}"`);
    const f = readFlags(IMAGE_IMPORT_HOST_FLAGS, givenFlags(cmd));
    const tags = f.repeated('--tag');
    for (const t of await importHostBusybox(f.string('--root'), tags.length ? tags : HOST_BUSYBOX_TAGS)) console.log(`imported ${t}`);
  });
  registerImageVerbs(image, DEFAULT_RUNTIME_ROOT);
}

/** `ketch agent`: hollow nodes (a simulation), or one real node with the built-in runtime or another CRI endpoint. */
function runAgent(cmd: Command): Promise<void> {
  return runAgentWith(readFlags(AGENT_FLAGS, givenFlags(cmd)));
}

/** Runs the agent from its flags (`ketch agent`, and `ketch join` once it has written the bootstrap kubeconfig). */
export async function runAgentWith(f: Flags): Promise<void> {
  const imageGc = imageGcOptions(f);
  const opt = (name: string): string | undefined => f.optional(name) || undefined;
  const kubeconfig = opt('--kubeconfig');
  const bootstrap = opt('--bootstrap-kubeconfig');
  if (bootstrap) {
    if (!kubeconfig) throw new FlagError('--bootstrap-kubeconfig needs --kubeconfig: the file the node\'s own kubeconfig is written to');
    const stop = new AbortController();
    const onSignal = (): void => stop.abort(new Error('interrupted while waiting for the client certificate'));
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    try {
      await bootstrapClientCertificate({ bootstrapKubeconfig: bootstrap, kubeconfig, certDir: join(f.string('--root-dir'), 'pki'), nodeName: f.string('--node-name'), signal: stop.signal, log: logger('agent') });
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
  }
  const server = opt('--server');
  const rest = new RestClient(loadClientConfig({ ...(kubeconfig ? { kubeconfig } : {}), ...(server ? { server } : {}) }), 'ketch-agent');
  if (f.bool('--hollow')) {
    const count = f.int('--count');
    const hollow = await startHollowNodes({ rest, count, prefix: f.string('--prefix') });
    console.error(`ketch agent: ${count} hollow nodes registered (simulation)`);
    await untilSignal();
    await hollow.stop();
    return;
  }
  const nodeName = f.string('--node-name');
  const runtimeEndpoint = opt('--container-runtime-endpoint');
  const nodeIP = opt('--node-ip');
  const labels = opt('--node-labels');
  const tlsCertFile = opt('--tls-cert-file');
  const tlsKeyFile = opt('--tls-private-key-file');
  const localPathRoots = f.repeated('--local-path-root');
  const agent = await startAgent({
    rest,
    nodeName,
    rootDir: f.string('--root-dir'),
    port: f.int('--port'),
    bindAddress: f.string('--address'),
    maxPods: f.int('--max-pods'),
    podRoutes: !f.bool('--no-pod-routes'),
    seccompDefault: !f.bool('--no-seccomp-default'),
    ...nodeNetworkFlags(f),
    imageGc,
    insecureRegistries: f.repeated('--insecure-registry'),
    registryMirrors: parseMirrors(f.repeated('--registry-mirror')),
    ...(runtimeEndpoint ? { runtimeEndpoint } : {}),
    ...(localPathRoots.length ? { localPathRoots } : {}),
    ...(nodeIP ? { nodeIP } : {}),
    ...(labels ? { labels: parseLabels(labels) } : {}),
    ...(tlsCertFile ? { tlsCertFile } : {}),
    ...(tlsKeyFile ? { tlsKeyFile } : {}),
    rotateCertificates: f.bool('--rotate-certificates'),
    rotateServerCertificates: f.bool('--rotate-server-certificates'),
  });
  console.error(`ketch agent: node ${nodeName} registered, agent API on port ${agent.port}`);
  await untilSignal();
  await agent.stop();
}
