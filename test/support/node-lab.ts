// Machines for multi-node e2e tests on one host: two network namespaces are nodes 1 and 2, a third is "the internet";
// all three and this host (the control plane's machine: API server, registry) on one L2 segment, a bridge of this
// host (198.51.100.32/28, a documentation range the lab refuses to take if this host uses it). Each node runs its
// agent (and the agent's runtime) in its namespace through `nsenter --net`, which changes the network namespace only:
// mounts and cgroups stay the host's, as on a machine. So whatever a node programs (nftables, routes, its pod bridge)
// lives and dies with its namespace and the host's own network is never touched; the host routes the service network
// to node 1, as a router in front of a bare-metal cluster would. destroy() removes the namespaces (their links, tables
// and routes go with them) and the bridge (with the host's route).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const HOST_IP = '198.51.100.33';
export const NODE1_IP = '198.51.100.34';
export const NODE2_IP = '198.51.100.35';
export const INTERNET_IP = '198.51.100.36';
const PREFIX = 28;

const OUTSIDE_WORLD = fileURLToPath(new URL('./outside-world.ts', import.meta.url));

export class NodeLab {
  readonly id = randomBytes(2).toString('hex');
  readonly bridge = `ksvc${this.id}`;
  readonly node1 = `ksvc-n1-${this.id}`;
  readonly node2 = `ksvc-n2-${this.id}`;
  readonly internet = `ksvc-inet-${this.id}`;
  private outside: ChildProcess | undefined;
  private readonly namespaces: string[] = [];

  async ip(args: string[]): Promise<string> {
    return (await execFileAsync('ip', args, { timeout: 10_000 })).stdout;
  }

  /** What runs a command in a namespace's network (only): `[...nsenterIn(ns), cmd, ...args]`. */
  nsenter(ns: string): string[] {
    return ['nsenter', `--net=/var/run/netns/${ns}`];
  }

  async exec(ns: string, argv: string[]): Promise<string> {
    return (await execFileAsync(this.nsenter(ns)[0]!, [...this.nsenter(ns).slice(1), ...argv], { timeout: 30_000 })).stdout;
  }

  /** `serviceCidr`: the host routes it to node 1 (so that the test reaches ClusterIPs from outside the nodes). */
  async create(serviceCidr: string): Promise<void> {
    await this.removeStale();
    const used = ((await this.ip(['-4', 'addr'])) + (await this.ip(['-4', 'route']))).split('\n').filter((l) => /\b198\.51\.100\.(3[2-9]|4[0-7])\b/.test(l));
    if (used.length) throw new Error(`this host already uses 198.51.100.32/28, which this test needs: ${used.join('; ')}`);
    await this.ip(['link', 'add', this.bridge, 'type', 'bridge']);
    await this.ip(['addr', 'add', `${HOST_IP}/${PREFIX}`, 'dev', this.bridge]);
    await this.ip(['link', 'set', this.bridge, 'up']);
    await this.attach(this.node1, NODE1_IP, '1');
    await this.attach(this.node2, NODE2_IP, '2');
    await this.attach(this.internet, INTERNET_IP, 'i');
    // The nodes need a default route to have a "primary" address; everything they talk to is on the segment anyway.
    for (const ns of [this.node1, this.node2]) await this.ip(['-n', ns, 'route', 'add', 'default', 'via', HOST_IP]);
    await this.ip(['route', 'add', serviceCidr, 'via', NODE1_IP, 'dev', this.bridge]);
  }

  /**
   * A lab a killed run left (its namespaces, its bridge): removed, since the tests that use a lab hold the host-wide
   * e2e lock and so no other lab is live. Its nodes' tables and routes go with their namespaces.
   */
  private async removeStale(): Promise<void> {
    const netns = (await this.ip(['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => /^ksvc-(n1|n2|inet)-[0-9a-f]{4}$/.test(n));
    for (const ns of netns) await this.ip(['netns', 'del', ns]);
    const bridges = (await this.ip(['-o', 'link', 'show', 'type', 'bridge'])).split('\n').map((l) => /^\d+: (ksvc[0-9a-f]{4}):/.exec(l)?.[1]).filter((b) => b !== undefined);
    for (const b of bridges) await this.ip(['link', 'del', b]);
  }

  private async attach(ns: string, address: string, tag: string): Promise<void> {
    const hostEnd = `ksv${this.id}${tag}`;
    await this.ip(['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await this.ip(['link', 'set', hostEnd, 'master', this.bridge, 'up']);
    await this.ip(['-n', ns, 'addr', 'add', `${address}/${PREFIX}`, 'dev', 'eth0']);
    await this.ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** Starts the internet's DNS (port 53, knows outside.test) and HTTP (port 80, echoes the source address). */
  async startOutsideWorld(): Promise<void> {
    const [cmd, ...args] = this.nsenter(this.internet);
    const child = spawn(cmd!, [...args, process.execPath, '--import', 'tsx', OUTSIDE_WORLD, INTERNET_IP], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.outside = child;
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the outside world exited (${String(code)})`)));
      child.stdout!.once('data', () => resolve());
    });
  }

  async destroy(): Promise<void> {
    const outside = this.outside;
    if (outside && outside.exitCode === null && outside.signalCode === null) {
      const exited = new Promise((r) => outside.once('exit', r));
      outside.kill('SIGKILL');
      await exited;
    }
    // Each is removed even if another fails; the test checks afterwards that none is left (netnsNamed).
    for (const ns of this.namespaces.reverse()) await this.ip(['netns', 'del', ns]).catch(() => undefined);
    await this.ip(['link', 'del', this.bridge]).catch(() => undefined);
  }
}
