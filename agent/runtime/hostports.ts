// hostPort for ketch's runtime, what CNI's portmap plugin does for containerd, in one nftables table of the runtime
// (named after its bridge): traffic to a local address on a pod's hostPort (its hostIP, or any local address) is
// DNATed to the pod's IP and containerPort. Each mapping is a chain reached through a verdict map keyed by
// `proto . port` (or `address . proto . port`), so adding or removing a pod writes only its elements and chains.
// Traffic from the host's loopback and from the pod network itself (hairpin) is masqueraded, as portmap's SNAT does;
// loopback needs route_localnet on the bridge, which is on only while the table exists, with kube-proxy's guard
// against packets to 127/8 from elsewhere (CVE-2020-8558). The table goes when the last mapping goes.
import { writeFile } from 'node:fs/promises';
import { RuntimeError } from '../cri/errors.js';
import type { PortMapping } from '../cri/index.js';
import { logger } from '../../lib/logger.js';
import { run } from './command-runner.js';

const log = logger('runtime');

/** The packet mark that asks this table's postrouting chain to masquerade (kube-proxy uses 0x4000). */
const MASQ_MARK = '0x00002000';

export interface HostPortMapping {
  protocol: 'tcp' | 'udp' | 'sctp';
  hostPort: number;
  /** '' for every local address. */
  hostIP: string;
  containerPort: number;
}

/** The CRI's port mappings that need a rule (a hostPort given), in nft's terms. */
export function hostPortMappings(mappings: readonly Partial<PortMapping>[] | undefined): HostPortMapping[] {
  const out: HostPortMapping[] = [];
  for (const m of mappings ?? []) {
    if (!m.hostPort || !m.containerPort) continue;
    const protocol = (m.protocol ?? 'TCP').toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') continue;
    const hostIP = m.hostIp && m.hostIp !== '0.0.0.0' ? m.hostIp : '';
    // IPv6 host addresses have no place in this ip-family table: ketch's pod network is IPv4.
    if (hostIP.includes(':')) continue;
    out.push({ protocol, hostPort: m.hostPort, hostIP, containerPort: m.containerPort });
  }
  return out;
}

export interface HostPortEntry {
  podIP: string;
  podCidr: string;
  mappings: HostPortMapping[];
}

const chainOf = (sandboxId: string, m: HostPortMapping): string => `hp-${sandboxId.slice(0, 12)}-${m.protocol}-${m.hostPort}${m.hostIP ? `-${m.hostIP}` : ''}`;
const elementOf = (m: HostPortMapping): { map: string; key: string } =>
  m.hostIP ? { map: 'address-ports', key: `${m.hostIP} . ${m.protocol} . ${m.hostPort}` } : { map: 'ports', key: `${m.protocol} . ${m.hostPort}` };

export class HostPorts {
  private readonly table: string;
  /** The sandboxes with mappings: the table exists exactly while this is not empty. */
  private readonly entries = new Map<string, HostPortEntry>();
  private localnet = false;

  constructor(private readonly bridge: string) {
    this.table = `ip ${bridge}-hostports`;
  }

  /** Replaces whatever an earlier run left with these sandboxes' mappings, in one transaction (or deletes the table). */
  async restore(sandboxes: ReadonlyMap<string, HostPortEntry>): Promise<void> {
    this.entries.clear();
    for (const [id, e] of sandboxes) if (e.mappings.length) this.entries.set(id, e);
    const lines = [`add table ${this.table}`, `delete table ${this.table}`];
    if (this.entries.size) {
      lines.push(...this.base());
      for (const [id, e] of this.entries) lines.push(...this.addLines(id, e));
    }
    await this.nft(lines);
    await this.setLocalnet(this.entries.size > 0);
  }

  /** Adds a sandbox's mappings; fails (nothing added) when another pod holds one of the ports. */
  async add(sandboxId: string, e: HostPortEntry): Promise<void> {
    if (!e.mappings.length) return;
    const lines = this.entries.size ? [] : [`add table ${this.table}`, `delete table ${this.table}`, ...this.base()];
    lines.push(...this.addLines(sandboxId, e));
    try {
      await this.nft(lines);
    } catch (err) {
      throw new RuntimeError('FailedPrecondition', `hostPort ${e.mappings.map((m) => `${m.hostIP || '*'}:${m.hostPort}/${m.protocol}`).join(', ')}: ${err instanceof Error ? err.message : String(err)}`, false);
    }
    this.entries.set(sandboxId, e);
    await this.setLocalnet(true);
  }

  /** Removes a sandbox's mappings (none: nothing to do); the table goes with the last. */
  async remove(sandboxId: string): Promise<void> {
    const e = this.entries.get(sandboxId);
    if (!e) return;
    this.entries.delete(sandboxId);
    if (!this.entries.size) return this.removeAll();
    const lines: string[] = [];
    for (const m of e.mappings) {
      const { map, key } = elementOf(m);
      lines.push(`delete element ${this.table} ${map} { ${key} }`, `flush chain ${this.table} ${chainOf(sandboxId, m)}`);
    }
    await this.nft(lines);
    // Kernels before 6.2 drop a map element's reference to its chain after the transaction: delete the chains next.
    const deletes = e.mappings.map((m) => `delete chain ${this.table} ${chainOf(sandboxId, m)}`);
    await this.nft(deletes).catch((err: unknown) => log.debug('flushed hostPort chains left for the table to take', { sandbox: sandboxId, error: String(err) }));
  }

  /** Deletes the table (every mapping) and turns route_localnet off again. */
  async removeAll(): Promise<void> {
    this.entries.clear();
    await this.nft([`add table ${this.table}`, `delete table ${this.table}`]);
    await this.setLocalnet(false);
  }

  private base(): string[] {
    const t = this.table;
    return [
      `add table ${t}`,
      `add map ${t} ports { type inet_proto . inet_service : verdict ; }`,
      `add map ${t} address-ports { type ipv4_addr . inet_proto . inet_service : verdict ; }`,
      `add chain ${t} prerouting { type nat hook prerouting priority -100 ; }`,
      `add chain ${t} output { type nat hook output priority -100 ; }`,
      `add chain ${t} postrouting { type nat hook postrouting priority 100 ; }`,
      `add chain ${t} input-guard { type filter hook input priority 0 ; }`,
      `add chain ${t} hostports`,
      `add rule ${t} prerouting fib daddr type local jump hostports`,
      `add rule ${t} output fib daddr type local jump hostports`,
      `add rule ${t} hostports ip daddr . meta l4proto . th dport vmap @address-ports`,
      `add rule ${t} hostports meta l4proto . th dport vmap @ports`,
      `add rule ${t} postrouting meta mark and ${MASQ_MARK} == ${MASQ_MARK} meta mark set meta mark xor ${MASQ_MARK} masquerade`,
      // route_localnet lets 127/8 traffic leave for the bridge; nothing but replies and DNATed traffic may come back in.
      `add rule ${t} input-guard ip saddr != 127.0.0.0/8 ip daddr 127.0.0.0/8 ct state != { established, related } ct status ! dnat drop`,
    ];
  }

  private addLines(sandboxId: string, e: HostPortEntry): string[] {
    const t = this.table;
    const lines: string[] = [];
    for (const m of e.mappings) {
      const chain = chainOf(sandboxId, m);
      const { map, key } = elementOf(m);
      lines.push(
        `add chain ${t} ${chain}`,
        `add rule ${t} ${chain} ip saddr { 127.0.0.0/8, ${e.podCidr} } meta mark set meta mark or ${MASQ_MARK}`,
        `add rule ${t} ${chain} meta l4proto ${m.protocol} dnat to ${e.podIP}:${m.containerPort}`,
        `add element ${t} ${map} { ${key} : goto ${chain} }`,
      );
    }
    return lines;
  }

  private async nft(lines: string[]): Promise<void> {
    await run('nft', ['-f', '-'], { input: `${lines.join('\n')}\n` });
  }

  private async setLocalnet(on: boolean): Promise<void> {
    if (this.localnet === on) return;
    try {
      await writeFile(`/proc/sys/net/ipv4/conf/${this.bridge}/route_localnet`, on ? '1' : '0');
      this.localnet = on;
    } catch (err) {
      // No bridge yet (mappings restored before it is made) or gone: the next add tries again.
      log.debug('route_localnet not set on the pod bridge', { bridge: this.bridge, error: String(err) });
    }
  }
}
