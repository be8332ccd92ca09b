// The chaos run's real node: one `ketch agent` with its runtime over runc, in a network namespace joined to this host
// by a veth pair (a second machine's network; mounts and cgroups stay the host's, as in test/e2e/join.test.ts), pulling
// busybox from a mirror on the host's end of the veth. Its faults: SIGKILL of the agent, SIGKILL of the runtime child
// (the agent starts it again), and a cut of the link to the servers. After the run, its pods are deleted and the agent
// stopped, and what it made on the host is counted: sandboxes, runc containers, netns, mounts, cgroups, veths.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBusyboxMirror } from '../support/local-registry.js';
import { freePort, waitFor } from '../support/util.js';
import { Proc } from './processes.js';

const run = promisify(execFile);
const ENTRY = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));

export const REAL_NODE = 'chaos-real';
/** The host's end of the veth (the servers listen on it too) and the node's. */
export const HOST_IP = '198.18.9.1';
const NODE_IP = '198.18.9.2';
const NETNS = 'ketch-chaos-node';
const HOST_END = 'kchaos-host';
const NODE_END = 'kchaos-node';

const ip = async (...args: string[]): Promise<string> => (await run('ip', args, { timeout: 10_000 })).stdout;

export interface Leaks {
  sandboxes: string[];
  containers: string[];
  netns: string[];
  mounts: string[];
  cgroups: string[];
  veths: string[];
}

export class RealNode {
  private mirror: Awaited<ReturnType<typeof startBusyboxMirror>> | undefined;
  agent: Proc | undefined;
  /** Every sandbox id seen on the node (so that leftovers of one deleted early are still looked for). */
  readonly sandboxes = new Set<string>();
  private readonly root: string;

  constructor(dir: string) {
    this.root = join(dir, 'real-node');
  }

  private get runtimeRoot(): string {
    return join(this.root, 'runtime');
  }

  /** The network namespace and veth (before the servers start, so that their certificate names HOST_IP), and the mirror. */
  async createNetwork(): Promise<void> {
    await this.removeNetwork();
    await ip('netns', 'add', NETNS);
    await ip('link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', NODE_END);
    await ip('link', 'set', NODE_END, 'netns', NETNS);
    await ip('addr', 'add', `${HOST_IP}/30`, 'dev', HOST_END);
    await ip('link', 'set', HOST_END, 'up');
    await ip('-n', NETNS, 'addr', 'add', `${NODE_IP}/30`, 'dev', NODE_END);
    await ip('-n', NETNS, 'link', 'set', NODE_END, 'up');
    await ip('-n', NETNS, 'link', 'set', 'lo', 'up');
    this.mirror = await startBusyboxMirror(HOST_IP);
  }

  /** The agent, on `kubeconfig` (which lists the servers at HOST_IP). */
  async startAgent(kubeconfig: string): Promise<void> {
    const args = [
      `--net=/var/run/netns/${NETNS}`, process.execPath, '--import', 'tsx', ENTRY, 'agent', '--kubeconfig', kubeconfig,
      '--node-name', REAL_NODE, '--root-dir', this.root, '--node-ip', NODE_IP, '--port', String(await freePort()),
      '--registry-mirror', `docker.io=${this.mirror!.url}`,
    ];
    const agent: Proc = new Proc('real-agent', 'nsenter', args, async () => agent.output.includes('agent API on port'));
    this.agent = agent;
    await agent.start();
  }

  /** The runtime child of the agent (its process of `child-main`). */
  runtimeChildPid(): number | undefined {
    const parent = this.agent?.pid;
    if (!parent) return undefined;
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === parent && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('child-main')) return Number(pid);
      } catch {
        continue; // the process ended while the list was read
      }
    }
    return undefined;
  }

  /** SIGKILL of the runtime child; resolves when the agent has started a new one. */
  async killRuntimeChild(): Promise<void> {
    const pid = await waitFor(() => this.runtimeChildPid(), { timeoutMs: 30_000, what: 'the runtime child' });
    process.kill(pid, 'SIGKILL');
    await waitFor(() => (this.runtimeChildPid() ?? pid) !== pid, { timeoutMs: 60_000, intervalMs: 200, what: 'the agent to start its runtime child again' });
  }

  /** The node's link to the servers goes down for ms, then up again. */
  async cutNetwork(ms: number): Promise<void> {
    await ip('-n', NETNS, 'link', 'set', NODE_END, 'down');
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      await ip('-n', NETNS, 'link', 'set', NODE_END, 'up');
    }
  }

  noteSandboxes(): void {
    const dir = join(this.runtimeRoot, 'sandboxes');
    if (existsSync(dir)) for (const id of readdirSync(dir)) this.sandboxes.add(id);
  }

  /** What the node leaves on the host now: to be called once its pods are gone and the agent stopped. */
  async leaks(): Promise<Leaks> {
    this.noteSandboxes();
    const ids = [...this.sandboxes].map((id) => id.slice(0, 12));
    const sandboxDir = join(this.runtimeRoot, 'sandboxes');
    const runcRoot = join(this.runtimeRoot, 'runc');
    const containers = existsSync(runcRoot) ? readdirSync(runcRoot) : [];
    const netns = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => ids.some((id) => n === `ketch-${id}`));
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(this.root));
    const cgroupRoots = ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c))];
    const cgroups = cgroupRoots.flatMap((r) => ids.map((id) => join(r, 'ketch', id))).filter((p) => existsSync(p));
    const veths = (await ip('-n', NETNS, '-o', 'link', 'show', 'type', 'veth')).split('\n').map((l) => /^\d+: ([^@:]+)/.exec(l)?.[1]).filter((v): v is string => v !== undefined && v !== NODE_END);
    return { sandboxes: existsSync(sandboxDir) ? readdirSync(sandboxDir) : [], containers, netns, mounts, cgroups, veths };
  }

  /** The namespace (its bridge, routes and tables go with it), the host's veth end and the mirror. */
  async removeNetwork(): Promise<void> {
    await this.mirror?.stop();
    this.mirror = undefined;
    await ip('link', 'del', HOST_END).catch(() => undefined); // absent: nothing to remove
    await ip('netns', 'del', NETNS).catch(() => undefined); // absent: nothing to remove
  }
}

export const leakCount = (l: Leaks): number => Object.values(l).reduce((n, xs: string[]) => n + xs.length, 0);

export const formatLeaks = (l: Leaks): string =>
  `${leakCount(l)} (${Object.entries(l).map(([k, xs]: [string, string[]]) => `${k} ${xs.length}${xs.length ? ` [${xs.slice(0, 3).join(', ')}]` : ''}`).join(', ')})`;
