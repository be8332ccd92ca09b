// Pod networking: one netns per sandbox (made as ip netns does, by command-runner.ts's helper), and, given a pod CIDR, a bridge + veth with an IP from it, in
// hairpin mode (a pod reaching itself through a Service); hostPorts (hostports.ts). The node provides what the service
// proxy needs: IPv4 forwarding and br_netfilter (bridged traffic through conntrack), turned on at start.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { RuntimeError } from '../cri/errors.js';
import type { PortMapping } from '../cri/index.js';
import { isNotExist } from '../../lib/errno.js';
import { HostPorts, hostPortMappings, type HostPortMapping } from './hostports.js';
import { parseCidr } from './cidr.js';
import { addNetns, deleteNetns, run } from './command-runner.js';
import { readJson, writeJson } from './files.js';
import { ensurePodCidrFree, releaseBridge } from './host-claims.js';
import { formatIPv4 } from '../../lib/ipv4.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export { parseCidr };

export interface PodNetwork {
  netns: string;
  /** Path that containers join: /var/run/netns/<netns>. */
  netnsPath: string;
  ip?: string;
  cidr?: string;
  hostVeth?: string;
  /** The pod's hostPorts, DNATed to it while the sandbox is up. */
  hostPorts?: HostPortMapping[];
}

const short = (s: string, n: number): string => createHash('sha1').update(s).digest('hex').slice(0, n);

export class NetworkManager {
  private readonly dir: string;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly bridgeReady = new Set<string>();
  private readonly hostPorts: HostPorts;

  constructor(
    root: string,
    /** Linux bridge shared by the pods of this runtime. */
    readonly bridge: string,
  ) {
    this.dir = join(root, 'network');
    this.hostPorts = new HostPorts(bridge);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await prepareHost();
  }

  /** The hostPort rules of the sandboxes that are up, replacing what an earlier run (maybe killed) left. */
  async restoreHostPorts(networks: ReadonlyMap<string, PodNetwork>): Promise<void> {
    const entries = new Map([...networks].filter(([, n]) => n.ip && n.cidr && n.hostPorts?.length).map(([id, n]) => [id, { podIP: n.ip!, podCidr: n.cidr!, mappings: n.hostPorts! }]));
    await this.serial(() => this.hostPorts.restore(entries)).catch((err: unknown) => {
      // No nft on this host: no hostPort rules were left either; pods with hostPorts fail to start with the reason.
      if (entries.size) log.warn('hostPort rules not restored', { error: String(err) });
      else log.debug('no hostPort table to clear', { error: String(err) });
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    // The chain only orders the calls: each caller gets its own outcome from `next`.
    this.lock = next.catch(() => undefined);
    return next;
  }

  /** The node's pod CIDR, set through UpdateRuntimeConfig and kept on disk. */
  async podCidr(): Promise<string | undefined> {
    return (await readJson<{ podCidr?: string }>(join(this.dir, 'config.json'), {})).podCidr;
  }

  /** Why pods cannot be networked (another live cluster routes the pod CIDR), reported as NetworkReady=false. */
  conflict: string | undefined;

  async setPodCidr(cidr: string): Promise<void> {
    if (cidr) await this.checkPodCidr(cidr);
    await writeJson(join(this.dir, 'config.json'), { podCidr: cidr || undefined });
  }

  /** Refuses (and remembers why) a pod CIDR that another live cluster on this host routes; clears a past refusal. */
  async checkPodCidr(cidr: string): Promise<void> {
    parseCidr(cidr);
    try {
      await ensurePodCidrFree(cidr, this.bridge);
      this.conflict = undefined;
    } catch (err) {
      this.conflict = err instanceof Error ? err.message : String(err);
      log.error('pod CIDR refused', { podCIDR: cidr, reason: this.conflict });
      throw err;
    }
  }

  /**
   * Deletes the bridge once no pod uses it. A bridge left behind keeps its pod-CIDR route, which would shadow the
   * same route of the next runtime on this host and make its pods unreachable.
   */
  async removeBridge(): Promise<void> {
    await this.serial(async () => {
      await this.hostPorts.removeAll();
      await run('ip', ['link', 'del', this.bridge], { allowFailure: true });
      this.bridgeReady.clear();
      await releaseBridge(this.bridge);
    });
  }

  /** Creates the netns (loopback up) and, when `cidr` is given, the veth into the bridge and the pod's hostPorts. */
  async setUp(sandboxId: string, cidr: string | undefined, portMappings?: readonly Partial<PortMapping>[]): Promise<PodNetwork> {
    const netns = `ketch-${sandboxId.slice(0, 12)}`;
    const net: PodNetwork = { netns, netnsPath: `/var/run/netns/${netns}` };
    try {
      if (!cidr) {
        await addNetns(netns);
        return net;
      }
      const c = parseCidr(cidr);
      const gateway = formatIPv4(c.base + 1);
      const [, ip] = await Promise.all([this.ensureBridge(`${gateway}/${c.prefix}`), this.allocate(cidr, sandboxId)]);
      // Host-side names are derived from the sandbox id: `ip netns del` frees veths asynchronously.
      const hostVeth = `kv${sandboxId.slice(0, 12)}`;
      Object.assign(net, { ip, cidr, hostVeth });
      await addNetns(netns, { hostVeth, bridge: this.bridge, address: `${ip}/${c.prefix}`, gateway });
      const hostPorts = hostPortMappings(portMappings);
      if (hostPorts.length) {
        net.hostPorts = hostPorts;
        await this.serial(() => this.hostPorts.add(sandboxId, { podIP: ip, podCidr: cidr, mappings: hostPorts }));
      }
      log.debug('pod network up', { sandbox: sandboxId, netns, ip });
      return net;
    } catch (err) {
      await this.tearDown(sandboxId, net);
      throw err;
    }
  }

  /** Idempotent: removes veth, netns and the IP allocation. */
  async tearDown(sandboxId: string, net: PodNetwork): Promise<void> {
    if (net.hostPorts?.length) await this.serial(() => this.hostPorts.remove(sandboxId));
    await deleteNetns(net.netns, net.hostVeth, { allowFailure: true });
    if (net.cidr) await this.release(net.cidr, sandboxId);
  }

  /** The bridge with `address` on it, up. Checked with ip once per address, then only for its existence. */
  private ensureBridge(address: string): Promise<void> {
    if (this.bridgeReady.has(address) && existsSync(`/sys/class/net/${this.bridge}`)) return Promise.resolve();
    return this.serial(async () => {
      const show = await run('ip', ['-o', 'addr', 'show', 'dev', this.bridge], { allowFailure: true });
      if (show.code !== 0) {
        await run('ip', ['link', 'add', this.bridge, 'type', 'bridge'], { allowFailure: true });
      }
      if (!show.stdout.includes(` ${address} `)) {
        const added = await run('ip', ['addr', 'add', address, 'dev', this.bridge], { allowFailure: true });
        if (added.code !== 0 && !added.stderr.includes('File exists')) throw new RuntimeError('Internal', `bridge ${this.bridge}: ${added.stderr.trim()}`, false);
      }
      await run('ip', ['link', 'set', this.bridge, 'up']);
      this.bridgeReady.add(address);
    });
  }

  private ipamFile(cidr: string): string {
    return join(this.dir, `ipam-${short(cidr, 8)}.json`);
  }

  private allocate(cidr: string, sandboxId: string): Promise<string> {
    return this.serial(async () => {
      const c = parseCidr(cidr);
      const file = this.ipamFile(cidr);
      const table = await readJson<Record<string, string>>(file, {});
      const size = 2 ** (32 - c.prefix);
      // .0 is the network, .1 the gateway, the last the broadcast address.
      for (let i = 2; i < size - 1; i++) {
        const ip = formatIPv4(c.base + i);
        if (!table[ip]) {
          table[ip] = sandboxId;
          await writeJson(file, table);
          return ip;
        }
      }
      throw new RuntimeError('Unavailable', `pod CIDR ${cidr} has no free address`, false);
    });
  }

  private release(cidr: string, sandboxId: string): Promise<void> {
    return this.serial(async () => {
      const file = this.ipamFile(cidr);
      const table = await readJson<Record<string, string>>(file, {});
      for (const [ip, owner] of Object.entries(table)) if (owner === sandboxId) delete table[ip];
      await writeJson(file, table);
    });
  }
}

/**
 * What the service proxy needs of the node: IPv4 forwarding, and br_netfilter with bridge-nf-call-iptables (a reply
 * from a pod to a pod on the same bridge must pass conntrack to be un-DNATed). The module is loaded when missing; a
 * kernel without it is logged, and the agent's proxy then masquerades service traffic instead.
 */
export async function prepareHost(procSys = '/proc/sys'): Promise<void> {
  await writeFile(join(procSys, 'net/ipv4/ip_forward'), '1').catch((err: unknown) => {
    // A read-only /proc/sys (a container): the host may forward already; pods reach only their own node otherwise.
    log.warn('IPv4 forwarding not turned on: pods may not reach other nodes or services', { error: String(err) });
  });
  const nfCall = join(procSys, 'net/bridge/bridge-nf-call-iptables');
  if (!existsSync(nfCall)) {
    const loaded = await run('modprobe', ['br_netfilter'], { allowFailure: true }).catch((err: unknown) => ({ code: -1, stderr: String(err) }));
    if (loaded.code !== 0) log.debug('modprobe br_netfilter failed', { stderr: loaded.stderr.trim() });
  }
  try {
    await writeFile(nfCall, '1');
  } catch (err) {
    if (!isNotExist(err)) throw err;
    log.warn('br_netfilter is not available: replies between pods on one bridge skip conntrack; the service proxy masquerades service traffic instead', { sysctl: nfCall });
  }
}
