// The node agent end to end (issue 7) on containerd's CRI: the scenarios of agent.test.ts, unchanged, with
// `ketch agent --container-runtime-endpoint` on Debian's containerd 1.6 in private dirs. containerd pulls busybox
// through a mirror config from the loopback registry, and its sandbox ("pause") image is built here and served
// from there too; its CNI bridge takes the node's pod CIDR from the agent's UpdateRuntimeConfig (a conf_template).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectRuntime } from '../../agent/cri/index.js';
import { startContainerd } from '../support/runtime/containerd.js';
import { buildBusyboxImage, pushImage } from '../support/runtime/oci-image.js';
import { agentScenarios } from '../support/agent-scenarios.js';
import { mountsUnder } from './cluster.js';

const BRIDGE = 'ketche2ectrd0';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

function checkPrerequisites(): void {
  const missing = [
    ...(spawnSync('containerd', ['--version']).error ? ['containerd'] : []),
    ...(['bridge', 'host-local', 'loopback'].some((p) => !existsSync(join('/usr/lib/cni', p))) ? ['containernetworking-plugins'] : []),
  ];
  if (missing.length) throw new Error(`this suite runs containerd with its CNI plugins: apt-get install ${missing.join(' ')}`);
}

const netnsOf = (info: Record<string, string>): string | undefined => {
  const spec = JSON.parse(info.info ?? '{}') as { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } };
  const path = spec.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  return path?.split('/').pop();
};

describe('node agent on containerd 1.6 (e2e: ketch server + ketch agent --container-runtime-endpoint, kubectl)', function () {
  this.timeout(180_000);
  agentScenarios({
    node: 'e2e-agent-containerd',
    clusterCidr: '10.72.0.0/16',
    startRuntime: async ({ agentRoot, mirror }) => {
      checkPrerequisites();
      // The CNI bridge plugin (isGateway) turns on IPv4 forwarding for the whole host; stop() puts it back.
      const ipForward = readFileSync(IP_FORWARD, 'utf8');
      const pause = await buildBusyboxImage({ cmd: ['sleep', '2147483647'] });
      try {
        await pushImage(mirror.url, 'test/pause', '1.0', pause);
      } finally {
        await pause.dispose();
      }
      const containerd = await startContainerd({
        sandboxImage: `${mirror.host}/test/pause:1.0`,
        insecureRegistries: [mirror.host],
        registryMirrors: { 'docker.io': mirror.url },
        podCidrFromRuntimeConfig: true,
        bridge: BRIDGE,
      });
      const client = connectRuntime(containerd.endpoint, { timeoutMs: 30_000 });
      // The netns of each sandbox seen, by id: containerd names them cni-<uuid>.
      const netns = new Map<string, string>();
      const sandboxes = async (): Promise<string[]> => {
        const { items } = await client.runtime.listPodSandbox({});
        for (const s of items) {
          if (netns.has(s.id)) continue;
          const name = netnsOf((await client.runtime.podSandboxStatus({ podSandboxId: s.id, verbose: true })).info);
          if (name) netns.set(s.id, name);
        }
        return items.map((s) => s.id);
      };
      return {
        agentArgs: ['--container-runtime-endpoint', containerd.endpoint],
        sandboxes,
        leftovers: async (ids) => {
          const brif = join('/sys/class/net', BRIDGE, 'brif');
          const have = new Set(await sandboxes());
          return {
            mounts: [...mountsUnder(containerd.dir), ...mountsUnder(agentRoot)],
            sandboxes: ids.filter((id) => have.has(id)),
            netns: ids.map((id) => netns.get(id) ?? '').filter((n) => n && existsSync(join('/var/run/netns', n))),
            veths: existsSync(brif) ? readdirSync(brif) : [],
          };
        },
        stop: async () => {
          client.close();
          await containerd.stop();
          if (readFileSync(IP_FORWARD, 'utf8') !== ipForward) writeFileSync(IP_FORWARD, ipForward);
        },
      };
    },
  });
});
