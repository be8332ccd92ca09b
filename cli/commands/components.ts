// Component commands: each runs one part of the cluster alone (`ketch runtime`, ...), as `ketch server`/`ketch up` host them together.
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { loadImageArchive, startRuntimeService } from '../../agent/runtime/index.js';
import { startAgent, startHollowNodes } from '../../agent/index.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { untilSignal } from './server.js';

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

/** Commander accumulator for repeatable flags. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface AgentFlags {
  kubeconfig?: string;
  nodeName: string;
  containerRuntimeEndpoint?: string;
  rootDir: string;
  port: string;
  address: string;
  nodeIp?: string;
  nodeLabels?: string;
  maxPods: string;
  insecureRegistry: string[];
  registryMirror: string[];
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  tokenAuthFile?: string;
  podRoutes: boolean;
  hollow?: boolean;
  count: string;
  prefix: string;
}

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
  program
    .command('runtime')
    .description('run the CRI runtime service over runc (what the node agent talks to)')
    .option('--root <dir>', 'state directory (images, containers, sandboxes)', DEFAULT_RUNTIME_ROOT)
    .option('--listen <endpoint>', 'gRPC endpoint', DEFAULT_RUNTIME_ENDPOINT)
    .option('--insecure-registry <host:port>', 'registry reached over plain HTTP (repeatable)', collect, [])
    .option('--registry-mirror <name=url>', 'mirror for a registry, e.g. docker.io=http://127.0.0.1:5000 (repeatable)', collect, [])
    .action(async (flags: { root: string; listen: string; insecureRegistry: string[]; registryMirror: string[] }) => {
      const rt = await startRuntimeService({
        root: flags.root,
        listen: flags.listen,
        insecureRegistries: flags.insecureRegistry,
        registryMirrors: parseMirrors(flags.registryMirror),
      });
      console.error(`ketch runtime listening on ${flags.listen}`);
      await untilSignal();
      await rt.close();
    });

  program
    .command('agent')
    .description('run the node agent: register this node and run the pods bound to it')
    .option('--kubeconfig <file>', 'kubeconfig of the API server')
    .option('--node-name <name>', 'name of the Node object', hostname().toLowerCase())
    .option('--container-runtime-endpoint <endpoint>', 'CRI endpoint (e.g. unix:///run/containerd/containerd.sock); default: start the built-in runtime')
    .option('--root-dir <dir>', 'state directory (volumes, logs, built-in runtime)', '/var/lib/ketch/agent')
    .option('--port <port>', 'HTTPS port of the agent API (logs, exec, attach, port-forward)', '10250')
    .option('--address <ip>', 'bind address of the agent API', '0.0.0.0')
    .option('--node-ip <ip>', 'InternalIP reported for the node (default: first non-loopback IPv4)')
    .option('--node-labels <k=v,...>', 'extra labels for the Node')
    .option('--max-pods <n>', 'pods capacity', '110')
    .option('--insecure-registry <host:port>', 'built-in runtime: registry reached over plain HTTP (repeatable)', collect, [])
    .option('--registry-mirror <name=url>', 'built-in runtime: mirror for a registry (repeatable)', collect, [])
    .option('--tls-cert-file <file>', 'serving certificate of the agent API (default: self-signed)')
    .option('--tls-private-key-file <file>', 'key of --tls-cert-file')
    .option('--token-auth-file <file>', 'bearer tokens (one a line) accepted by the agent API')
    .option('--no-pod-routes', "do not route the other nodes' pod CIDRs through their InternalIPs (host-gw); for another network plugin")
    .option('--hollow', 'simulation (a fake, for scale tests): register --count nodes without a runtime')
    .option('--count <n>', 'with --hollow: number of nodes', '1')
    .option('--prefix <p>', 'with --hollow: node name prefix', 'hollow-node-')
    .action(async (f: AgentFlags) => {
      const rest = new RestClient(loadClientConfig(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}), 'ketch-agent');
      if (f.hollow) {
        const hollow = await startHollowNodes({ rest, count: Number(f.count), prefix: f.prefix });
        console.error(`ketch agent: ${f.count} hollow nodes registered (simulation)`);
        await untilSignal();
        await hollow.stop();
        return;
      }
      const agent = await startAgent({
        rest,
        nodeName: f.nodeName,
        rootDir: f.rootDir,
        port: Number(f.port),
        bindAddress: f.address,
        maxPods: Number(f.maxPods),
        podRoutes: f.podRoutes,
        insecureRegistries: f.insecureRegistry,
        registryMirrors: parseMirrors(f.registryMirror),
        ...(f.containerRuntimeEndpoint ? { runtimeEndpoint: f.containerRuntimeEndpoint } : {}),
        ...(f.nodeIp ? { nodeIP: f.nodeIp } : {}),
        ...(f.nodeLabels ? { labels: parseLabels(f.nodeLabels) } : {}),
        ...(f.tlsCertFile ? { tlsCertFile: f.tlsCertFile } : {}),
        ...(f.tlsPrivateKeyFile ? { tlsKeyFile: f.tlsPrivateKeyFile } : {}),
        ...(f.tokenAuthFile ? { authTokens: readFileSync(f.tokenAuthFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) } : {}),
      });
      console.error(`ketch agent: node ${f.nodeName} registered, agent API on port ${agent.port}`);
      await untilSignal();
      await agent.stop();
    });

  const image = program.command('image').description('manage the node image store');
  image
    .command('load')
    .argument('<file>', 'an OCI image-layout tar')
    .description('import an OCI image-layout tar into the runtime image store')
    .option('--root <dir>', 'runtime state directory', DEFAULT_RUNTIME_ROOT)
    .option('--name <ref>', 'tag the image with this name')
    .action(async (file: string, flags: { root: string; name?: string }) => {
      const tags = await loadImageArchive(flags.root, file, flags.name ? { name: flags.name } : {});
      for (const t of tags) console.log(`loaded ${t}`);
    });
}
