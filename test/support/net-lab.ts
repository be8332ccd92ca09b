// A small network in namespaces for service-proxy tests and benchmarks: a "node" namespace with a bridge for the pod
// network (br_netfilter on, hairpin on every port, as the runtime network must be), "pod" namespaces on the bridge, and
// an "internet" namespace wired to the node's second interface (it has no route to the pod network). Servers and
// clients are small Node programs run in the namespaces with `ip netns exec`. Everything is removed by destroy().
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const NODE_IP = '192.168.77.1';
export const INET_IP = '192.168.77.2';
export const GATEWAY = '10.42.0.1';

/** Answers HTTP on 8080 and UDP on 5353 with its name (and, over HTTP, the address it saw). */
const SERVER = String.raw`
const http = require('node:http'), dgram = require('node:dgram');
const [name, httpPort, udpPort] = JSON.parse(process.argv[1]);
let up = 0;
const ready = () => { if (++up === 2) process.stdout.write('ready\n'); };
http.createServer((req, res) => res.end(JSON.stringify({ name, from: req.socket.remoteAddress }))).listen(httpPort, '0.0.0.0', ready);
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(name, r.port, r.address));
u.bind(udpPort, '0.0.0.0', ready);
`;

/** N HTTP GETs, each on a new connection; prints a JSON array of {name, from} or {error}. */
const HTTP_CLIENT = String.raw`
const http = require('node:http');
const [url, count, timeoutMs] = JSON.parse(process.argv[1]);
const one = () => new Promise((resolve) => {
  const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => { try { resolve(JSON.parse(body)); } catch { resolve({ error: 'bad body ' + body }); } });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => resolve({ error: e.code || e.message }));
});
(async () => { const out = []; for (let i = 0; i < count; i++) out.push(await one()); process.stdout.write(JSON.stringify(out)); })();
`;

/** One UDP datagram from a fixed local port; prints the answer or "timeout". */
const UDP_CLIENT = String.raw`
const dgram = require('node:dgram');
const [ip, port, localPort, timeoutMs] = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
const t = setTimeout(() => { process.stdout.write('timeout'); s.close(); }, timeoutMs);
s.on('message', (m) => { clearTimeout(t); process.stdout.write(m.toString()); s.close(); });
s.bind(localPort, () => s.send('ping', port, ip));
`;

export interface HttpAnswer {
  name?: string;
  from?: string;
  error?: string;
}

export class NetLab {
  readonly id = randomBytes(2).toString('hex');
  readonly node = `kpx-node-${this.id}`;
  readonly inet = `kpx-inet-${this.id}`;
  private readonly pods = new Map<string, { ns: string; ip: string }>();
  private readonly servers: ChildProcess[] = [];
  private readonly namespaces: string[] = [];

  async ip(args: string[]): Promise<void> {
    await execFileAsync('ip', args, { timeout: 10_000 });
  }

  async exec(ns: string, argv: string[]): Promise<string> {
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', ns, ...argv], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  private async addNamespace(ns: string): Promise<void> {
    await this.ip(['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** The node (bridge kpxbr0 at 10.42.0.1/24, eth1 at NODE_IP, default route to the internet namespace). */
  async create(): Promise<void> {
    await this.addNamespace(this.node);
    await this.addNamespace(this.inet);
    const n = ['-n', this.node];
    await this.ip([...n, 'link', 'add', 'kpxbr0', 'type', 'bridge']);
    await this.ip([...n, 'addr', 'add', `${GATEWAY}/24`, 'dev', 'kpxbr0']);
    await this.ip([...n, 'link', 'set', 'kpxbr0', 'up']);
    await this.ip([...n, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.inet]);
    await this.ip([...n, 'addr', 'add', `${NODE_IP}/24`, 'dev', 'eth1']);
    await this.ip([...n, 'link', 'set', 'eth1', 'up']);
    await this.ip([...n, 'route', 'add', 'default', 'via', INET_IP]);
    await this.ip(['-n', this.inet, 'addr', 'add', `${INET_IP}/24`, 'dev', 'eth0']);
    await this.ip(['-n', this.inet, 'link', 'set', 'eth0', 'up']);
    await this.exec(this.node, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1']);
  }

  /** A pod namespace on the bridge at 10.42.0.<n>. */
  async addPod(name: string, n: number): Promise<{ ns: string; ip: string }> {
    const ns = `kpx-${name}-${this.id}`;
    const ip = `10.42.0.${n}`;
    const veth = `v${name}`.slice(0, 15);
    await this.addNamespace(ns);
    await this.ip(['-n', this.node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await this.ip(['-n', this.node, 'link', 'set', veth, 'master', 'kpxbr0', 'up']);
    // A pod reaching itself through a service comes back out of its own bridge port.
    await this.ip(['-n', this.node, 'link', 'set', veth, 'type', 'bridge_slave', 'hairpin', 'on']);
    await this.ip(['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await this.ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    await this.ip(['-n', ns, 'route', 'add', 'default', 'via', GATEWAY]);
    const pod = { ns, ip };
    this.pods.set(name, pod);
    return pod;
  }

  pod(name: string): { ns: string; ip: string } {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  /** Starts the answering server in a namespace; resolves once it listens. */
  async serve(ns: string, name: string, httpPort = 8080, udpPort = 5353): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, JSON.stringify([name, httpPort, udpPort])], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`server ${name} exited (${String(code)})`)));
      child.stdout!.once('data', () => resolve());
    });
  }

  async http(ns: string, url: string, count = 1, timeoutMs = 2000): Promise<HttpAnswer[]> {
    return JSON.parse(await this.exec(ns, [process.execPath, '-e', HTTP_CLIENT, JSON.stringify([url, count, timeoutMs])])) as HttpAnswer[];
  }

  async udp(ns: string, ip: string, port: number, localPort: number, timeoutMs = 2000): Promise<string> {
    return this.exec(ns, [process.execPath, '-e', UDP_CLIENT, JSON.stringify([ip, port, localPort, timeoutMs])]);
  }

  /** Stops the servers and deletes every namespace (with them their links, bridge, rules and conntrack entries). */
  async destroy(): Promise<void> {
    for (const s of this.servers) s.kill('SIGKILL');
    await Promise.all(this.servers.map((s) => (s.exitCode !== null || s.signalCode !== null ? undefined : new Promise((r) => s.once('exit', r)))));
    // Each namespace is deleted even if another one fails; the caller checks that none is left (namespacesNamed).
    for (const ns of this.namespaces.reverse()) await this.ip(['netns', 'del', ns]).catch(() => undefined);
  }
}

/** The network namespaces whose names start with prefix (to check that nothing is left). */
export async function namespacesNamed(prefix: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ip', ['netns', 'list']);
  return stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(prefix));
}
