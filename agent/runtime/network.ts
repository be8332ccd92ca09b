// Pod networking: one netns per sandbox (ip netns), and, given a pod CIDR, a bridge + veth with an IP from it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError, invalid } from '../cri/errors.js';
import { run } from './command-runner.js';
import { readJson, writeJson } from './files.js';
import { formatIPv4 } from '../../lib/ipv4.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export interface PodNetwork {
  netns: string;
  /** Path that containers join: /var/run/netns/<netns>. */
  netnsPath: string;
  ip?: string;
  cidr?: string;
  hostVeth?: string;
}

interface Cidr {
  base: number;
  prefix: number;
}

export function parseCidr(s: string): Cidr {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw invalid(`pod CIDR "${s}" is not an IPv4 CIDR`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < 8 || prefix > 30) throw invalid(`pod CIDR "${s}" is out of range (prefix /8../30)`);
  const ip = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}


const short = (s: string, n: number): string => createHash('sha1').update(s).digest('hex').slice(0, n);

export class NetworkManager {
  private readonly dir: string;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly bridgeReady = new Set<string>();

  constructor(
    root: string,
    /** Linux bridge shared by the pods of this runtime. */
    readonly bridge: string,
  ) {
    this.dir = join(root, 'network');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
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

  async setPodCidr(cidr: string): Promise<void> {
    if (cidr) parseCidr(cidr);
    await writeJson(join(this.dir, 'config.json'), { podCidr: cidr || undefined });
  }

  /**
   * Deletes the bridge once no pod uses it. A bridge left behind keeps its pod-CIDR route, which would shadow the
   * same route of the next runtime on this host and make its pods unreachable.
   */
  async removeBridge(): Promise<void> {
    await this.serial(async () => {
      await run('ip', ['link', 'del', this.bridge], { allowFailure: true });
      this.bridgeReady.clear();
    });
  }

  /** Creates the netns (loopback up) and, when `cidr` is given, the veth into the bridge. */
  async setUp(sandboxId: string, cidr: string | undefined): Promise<PodNetwork> {
    const netns = `ketch-${sandboxId.slice(0, 12)}`;
    const net: PodNetwork = { netns, netnsPath: `/var/run/netns/${netns}` };
    try {
      if (!cidr) {
        await run('ip', ['netns', 'add', netns]);
        await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
        return net;
      }
      const c = parseCidr(cidr);
      const gateway = formatIPv4(c.base + 1);
      const [, ip] = await Promise.all([this.ensureBridge(`${gateway}/${c.prefix}`), this.allocate(cidr, sandboxId)]);
      // Host-side names are derived from the sandbox id: `ip netns del` frees veths asynchronously.
      const hostVeth = `kv${sandboxId.slice(0, 12)}`;
      Object.assign(net, { ip, cidr, hostVeth });
      // Two processes in all (recipe §3): `-n` is not accepted inside a batch, hence the second one.
      await run('ip', ['-batch', '-'], { input: `netns add ${netns}\nlink add ${hostVeth} type veth peer name eth0 netns ${netns}\nlink set ${hostVeth} master ${this.bridge} up\n` });
      await run('ip', ['-n', netns, '-batch', '-'], {
        input: `link set lo up\naddr add ${ip}/${c.prefix} dev eth0\nlink set eth0 up\nroute add default via ${gateway}\n`,
      });
      log.debug('pod network up', { sandbox: sandboxId, netns, ip });
      return net;
    } catch (err) {
      await this.tearDown(sandboxId, net);
      throw err;
    }
  }

  /** Idempotent: removes veth, netns and the IP allocation. */
  async tearDown(sandboxId: string, net: PodNetwork): Promise<void> {
    if (net.hostVeth) await run('ip', ['link', 'del', net.hostVeth], { allowFailure: true });
    await run('ip', ['netns', 'del', net.netns], { allowFailure: true });
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

