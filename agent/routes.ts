// Pod routes between nodes (what flannel's host-gw backend does): every other node's pod CIDR is routed through that
// node's InternalIP, so pods on different machines on one L2 network reach each other by pod IP, unencapsulated.
// The agent watches Node objects; a route is added when a node gets its pod CIDR, changed when its address changes,
// and removed when the node goes away or the agent stops.
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import type { Node } from '../api/index.js';
import type { Informer } from '../client/informer.js';
import { parseIPv4 } from '../lib/ipv4.js';
import type { Logger } from '../lib/logger.js';

const execFileAsync = promisify(execFile);

export interface Route {
  cidr: string;
  via: string;
}

/** Runs `ip ARGS...`; the seam tests and other hosts' tools replace. */
export type IpCommand = (args: string[]) => Promise<void>;

export const ipCommand: IpCommand = async (args) => {
  await execFileAsync('ip', args, { timeout: 10_000 });
};

/** "a.b.c.d/n" as network number and prefix length; undefined for anything else (or host bits set). */
export function parseCIDR(s: string): { net: number; bits: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(s);
  if (!m?.[1] || !m[2]) return undefined;
  const bits = Number(m[2]);
  if (bits > 32) return undefined;
  let net: number;
  try {
    net = parseIPv4(m[1]);
  } catch {
    // Not a dotted quad: no CIDR.
    return undefined;
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((net & mask) >>> 0) === net ? { net, bits } : undefined;
}

/** Whether `inner` lies inside `outer`. */
export function cidrWithin(inner: string, outer: string): boolean {
  const i = parseCIDR(inner);
  const o = parseCIDR(outer);
  if (!i || !o || i.bits < o.bits) return false;
  const mask = o.bits === 0 ? 0 : (0xffffffff << (32 - o.bits)) >>> 0;
  return ((i.net & mask) >>> 0) === o.net;
}

/** A next hop no node may name: loopback, link-local, unspecified, multicast, broadcast. */
function unroutable(addr: string): boolean {
  const [a = 0, b = 0] = addr.split('.').map(Number);
  return a === 127 || a === 0 || a >= 224 || (a === 169 && b === 254);
}

/**
 * The route a node needs on the other nodes, or undefined: no pod CIDR yet, this node, no IPv4 InternalIP, or a Node
 * object that would steer this host's routing (a pod CIDR outside the cluster CIDR, a next hop that is loopback,
 * link-local or this host's own address). Whether the next hop is on a connected network is checked when routing.
 */
export function routeFor(node: Node, self: { name: string; ip: string; clusterCIDR: string }): Route | undefined {
  if (node.metadata?.name === self.name) return undefined;
  const cidr = node.spec?.podCIDR || node.spec?.podCIDRs?.[0];
  const via = node.status?.addresses?.find((a) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address))?.address;
  if (!cidr || !via || via === self.ip || unroutable(via)) return undefined;
  if (!cidrWithin(cidr, self.clusterCIDR)) return undefined;
  return { cidr, via };
}

export interface NodeRoutesOptions {
  nodes: Informer<Node>;
  nodeName: string;
  hostIP: string;
  /** The cluster's pod network: a pod CIDR outside it is never routed. */
  clusterCIDR: string;
  log: Logger;
  ip?: IpCommand;
}

/** Whether addr is on a directly connected IPv4 network of this host (a next hop the kernel accepts). */
export function onLink(addr: string, interfaces = networkInterfaces()): boolean {
  const a = parseIPv4(addr);
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) {
      if (i.family !== 'IPv4' || i.internal) continue;
      const mask = parseIPv4(i.netmask);
      if (mask !== 0 && ((a & mask) >>> 0) === ((parseIPv4(i.address) & mask) >>> 0)) return true;
    }
  }
  return false;
}

/** Keeps `ip route` in step with the other nodes' pod CIDRs. */
export class NodeRoutes {
  /** Node name -> the route this agent installed for it. */
  private readonly installed = new Map<string, Route>();
  private chain: Promise<void> = Promise.resolve();
  private readonly ip: IpCommand;
  private stopped = false;

  constructor(private readonly o: NodeRoutesOptions) {
    this.ip = o.ip ?? ipCommand;
  }

  start(): void {
    this.o.nodes.addEventHandler({
      onAdd: (n) => this.enqueue(n.metadata?.name ?? '', n),
      onUpdate: (_old, n) => this.enqueue(n.metadata?.name ?? '', n),
      onDelete: (n) => this.enqueue(n.metadata?.name ?? '', undefined),
    });
  }

  /** The routes in place now (node name -> route). */
  routes(): ReadonlyMap<string, Route> {
    return this.installed;
  }

  /** Waits for the changes queued so far. */
  async settled(): Promise<void> {
    await this.chain;
  }

  /** Removes every route this agent added. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
    for (const [name, r] of [...this.installed]) await this.remove(name, r);
  }

  private enqueue(name: string, node: Node | undefined): void {
    if (!name || this.stopped) return;
    this.chain = this.chain.then(() => this.sync(name, node));
  }

  private async sync(name: string, node: Node | undefined): Promise<void> {
    if (this.stopped) return;
    const want = node ? routeFor(node, { name: this.o.nodeName, ip: this.o.hostIP, clusterCIDR: this.o.clusterCIDR }) : undefined;
    if (node && !want && (node.spec?.podCIDR || node.spec?.podCIDRs?.length) && name !== this.o.nodeName) {
      this.o.log.debug('pod route refused for node', { node: name, podCIDR: node.spec?.podCIDR, clusterCIDR: this.o.clusterCIDR });
    }
    const have = this.installed.get(name);
    if (have && want && have.cidr === want.cidr && have.via === want.via) return;
    if (have && (!want || have.cidr !== want.cidr)) await this.remove(name, have);
    if (!want) return;
    if (!onLink(want.via)) {
      // Not a neighbour (a node on another network, or a simulated one): nothing host-gw can do.
      this.o.log.debug('pod route skipped: node not on a connected network', { node: name, podCIDR: want.cidr, via: want.via });
      return;
    }
    try {
      await this.ip(['route', 'replace', want.cidr, 'via', want.via]);
      this.installed.set(name, want);
      this.o.log.info('pod route added', { node: name, podCIDR: want.cidr, via: want.via });
    } catch (err) {
      // Typically "Nexthop has invalid gateway": the node is not on a directly connected network.
      this.o.log.warn('pod route not added', { node: name, podCIDR: want.cidr, via: want.via, error: errorText(err) });
    }
  }

  private async remove(name: string, r: Route): Promise<void> {
    this.installed.delete(name);
    try {
      await this.ip(['route', 'del', r.cidr, 'via', r.via]);
      this.o.log.info('pod route removed', { node: name, podCIDR: r.cidr, via: r.via });
    } catch (err) {
      this.o.log.warn('pod route not removed', { node: name, podCIDR: r.cidr, error: errorText(err) });
    }
  }
}

function errorText(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
