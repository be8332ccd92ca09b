// The service proxy (what kube-proxy does, in its nftables mode): Services and EndpointSlices from informers become the
// `ip ketch-proxy` nftables table, so the kernel load-balances virtual IPs to endpoints (never a user-space copy loop).
// The first sync replaces the whole table (what a killed earlier run left goes in the same transaction); after that a
// change rewrites only the changed services' chains, sets and map elements, in one `nft -f -` transaction per sync.
// Syncs are serial and at most one per minSyncIntervalMs; a failed one is retried as a full sync. UDP conntrack entries
// that point at endpoints that went away are deleted after the rules change. stop() deletes the table.
import { DEFAULT_CLUSTER_CIDR, DEFAULT_SERVICE_CIDR, type EndpointSlice, type Service } from '../../api/index.js';
import { LABEL_SERVICE_NAME } from '../../api/schemas/discovery.js';
import type { EventHandlers } from '../../client/informer.js';
import { realClock, type Clock, type TimerHandle } from '../../lib/clock.js';
import { logger, type Logger } from '../../lib/logger.js';
import { hostCommands, type HostCommands } from './commands.js';
import { conntrackCleanup, type ConntrackCleanup } from './conntrack.js';
import { portEndpoints, servicePorts, type EndpointInfo, type ServicePortInfo } from './model.js';
import { diffPortRules, EMPTY_RULES, renderServicePort, Transaction, type PortRules, type ProxyNetwork } from './rules.js';

/** What the proxy needs of an informer (client/informer.ts's Informer has it). */
export interface ProxyInformer<T> {
  addEventHandler(h: EventHandlers<T>): void;
  waitForSync(signal?: AbortSignal): Promise<void>;
}

export interface ServiceProxyOptions {
  services: ProxyInformer<Service>;
  endpointSlices: ProxyInformer<EndpointSlice>;
  /** This node's name: endpoints on it are local (traffic policy Local). */
  nodeName: string;
  /** The cluster's pod network (default 10.42.0.0/16). */
  clusterCidr?: string;
  /** The service network (default 10.96.0.0/16). */
  serviceCidr?: string;
  /** Masquerade pod traffic leaving the cluster network (default true). */
  podEgressMasquerade?: boolean;
  /** SNAT all traffic to services (kube-proxy's --masquerade-all): for nodes whose bridge skips netfilter. */
  masqueradeAll?: boolean;
  /** kube-proxy's --masquerade-bit (default 14: mark 0x4000). */
  masqueradeBit?: number;
  /** kube-proxy's --min-sync-period (default 100 ms). */
  minSyncIntervalMs?: number;
  commands?: HostCommands;
  clock?: Clock;
  log?: Logger;
}

interface Programmed {
  info: ServicePortInfo;
  rules: PortRules;
  reachable: EndpointInfo[];
}

/** How long a flushed chain waits before it is deleted (kernels before 6.2 drop map references lazily). */
const STALE_CHAIN_DELAY_MS = 1000;
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];

export class ServiceProxy {
  /** The text of the last (non-empty) transaction applied (for tests and debugging). */
  lastTransaction = '';
  /** Syncs applied, and how many of them were full. */
  readonly stats = { syncs: 0, fullSyncs: 0, failures: 0, lastSyncMs: 0 };

  private readonly o: Required<Pick<ServiceProxyOptions, 'nodeName' | 'minSyncIntervalMs'>> & ServiceProxyOptions;
  private readonly net: ProxyNetwork;
  private readonly commands: HostCommands;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly services = new Map<string, Service>();
  /** service key -> slice key -> slice. */
  private readonly slices = new Map<string, Map<string, EndpointSlice>>();
  /** service key -> service port name -> what is in the kernel. */
  private programmed = new Map<string, Map<string, Programmed>>();
  /** "map|key" -> the service port that owns the element (two services claiming one external IP and port: first wins). */
  private owners = new Map<string, string>();
  /** chain -> when it was flushed. */
  private readonly staleChains = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private needFullSync = true;
  private started = false;
  private stopped = false;
  private timer: TimerHandle | undefined;
  private timerDue = 0;
  private running: Promise<void> | undefined;
  private lastSyncStart = 0;
  private failures = 0;
  private waiters: Array<() => void> = [];

  constructor(opts: ServiceProxyOptions) {
    this.o = { minSyncIntervalMs: 100, ...opts };
    const bit = opts.masqueradeBit ?? 14;
    this.net = {
      clusterCidr: opts.clusterCidr ?? DEFAULT_CLUSTER_CIDR,
      serviceCidr: opts.serviceCidr ?? DEFAULT_SERVICE_CIDR,
      masqueradeMark: `0x${(2 ** bit).toString(16).padStart(8, '0')}`,
      podEgressMasquerade: opts.podEgressMasquerade ?? true,
      masqueradeAll: opts.masqueradeAll ?? false,
    };
    this.commands = opts.commands ?? hostCommands();
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? logger('service-proxy', { node: opts.nodeName });
    opts.services.addEventHandler({
      onAdd: (s) => this.serviceChanged(s, false),
      onUpdate: (_o, s) => this.serviceChanged(s, false),
      onDelete: (s) => this.serviceChanged(s, true),
    });
    opts.endpointSlices.addEventHandler({
      onAdd: (s) => this.sliceChanged(undefined, s),
      onUpdate: (old, s) => this.sliceChanged(old, s),
      onDelete: (s) => this.sliceChanged(s, undefined),
    });
  }

  /** Waits for both informers, then writes the whole table; rejects when nft refuses it (no nftables, no privilege). */
  async start(signal?: AbortSignal): Promise<void> {
    await Promise.all([this.o.services.waitForSync(signal), this.o.endpointSlices.waitForSync(signal)]);
    this.started = true;
    this.running = this.sync();
    await this.running;
    this.running = undefined;
    if (this.needFullSync) throw new Error('the service proxy could not write its nftables table (see the log)');
    this.kick();
    this.wake();
  }

  /** Stops syncing and removes the table (every rule, map and set the proxy made). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
    await this.commands.nft(`add table ip ketch-proxy\ndelete table ip ketch-proxy\n`);
    this.programmed.clear();
    this.owners.clear();
    this.log.info('service proxy stopped, table removed');
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once every change seen so far is in the kernel (or the proxy stopped); stale chains may remain. */
  settled(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private idle(): boolean {
    return this.stopped || (this.started && !this.running && !this.dirty.size && !this.needFullSync);
  }

  private serviceChanged(svc: Service, deleted: boolean): void {
    const key = `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}`;
    if (deleted) this.services.delete(key);
    else this.services.set(key, svc);
    this.markDirty(key);
  }

  private sliceChanged(old: EndpointSlice | undefined, cur: EndpointSlice | undefined): void {
    const serviceOf = (s: EndpointSlice): string | undefined => {
      const name = s.metadata.labels?.[LABEL_SERVICE_NAME];
      return name ? `${s.metadata.namespace ?? ''}/${name}` : undefined;
    };
    const sliceKey = (s: EndpointSlice): string => `${s.metadata.namespace ?? ''}/${s.metadata.name ?? ''}`;
    const before = old && serviceOf(old);
    if (old && before) {
      this.slices.get(before)?.delete(sliceKey(old));
      this.markDirty(before);
    }
    const after = cur && serviceOf(cur);
    if (cur && after) {
      let m = this.slices.get(after);
      if (!m) this.slices.set(after, (m = new Map()));
      m.set(sliceKey(cur), cur);
      this.markDirty(after);
    }
  }

  private markDirty(serviceKey: string): void {
    this.dirty.add(serviceKey);
    this.kick();
  }

  /** Schedules a sync: at once when idle, else after the running one, at most one per minSyncIntervalMs. */
  private kick(delayMs?: number): void {
    if (!this.started || this.stopped || this.running) return;
    const pending = this.dirty.size > 0 || this.needFullSync;
    const staleDue = this.nextStaleDeletion();
    if (!pending && staleDue === undefined && delayMs === undefined) return;
    const now = this.clock.now();
    let wait = delayMs ?? Math.max(0, this.lastSyncStart + this.o.minSyncIntervalMs - now);
    if (!pending && delayMs === undefined && staleDue !== undefined) wait = Math.max(wait, staleDue - now);
    // A timer already set for sooner stands; one set later (a stale-chain deletion) gives way to a change.
    if (this.timer) {
      if (this.timerDue <= now + wait) return;
      this.timer.cancel();
    }
    this.timerDue = now + wait;
    this.timer = this.clock.setTimer(wait, () => {
      this.timer = undefined;
      this.running = this.sync().finally(() => {
        this.running = undefined;
        this.kick(this.needFullSync ? RETRY_MS[Math.min(this.failures - 1, RETRY_MS.length - 1)] : undefined);
        this.wake();
      });
    });
  }

  private wake(): void {
    if (this.idle()) for (const w of this.waiters.splice(0)) w();
  }

  private nextStaleDeletion(): number | undefined {
    let first: number | undefined;
    for (const at of this.staleChains.values()) if (first === undefined || at < first) first = at;
    return first === undefined ? undefined : first + STALE_CHAIN_DELAY_MS;
  }

  /** The rules of one service's ports as the caches say now. */
  private render(key: string): Map<string, Programmed> {
    const out = new Map<string, Programmed>();
    const svc = this.services.get(key);
    if (!svc) return out;
    const slices = [...(this.slices.get(key)?.values() ?? [])];
    for (const info of servicePorts(svc)) {
      const { rules, reachable } = renderServicePort(info, portEndpoints(slices, info, this.o.nodeName), this.net);
      out.set(info.name, { info, rules, reachable });
    }
    return out;
  }

  /** Drops the elements another service port already owns (and says so), and records this port's. */
  private claimElements(port: Programmed, owners: Map<string, string>): void {
    for (const key of [...port.rules.elements.keys()]) {
      const owner = owners.get(key);
      if (owner === undefined || owner === port.info.name) {
        owners.set(key, port.info.name);
        continue;
      }
      port.rules.elements.delete(key);
      this.log.warn('address and port already used by another service, skipped', { service: port.info.name, owner, element: key });
    }
  }

  private async sync(): Promise<void> {
    const full = this.needFullSync;
    const keys = full ? new Set([...this.services.keys(), ...this.programmed.keys()]) : new Set(this.dirty);
    this.dirty.clear();
    this.lastSyncStart = this.clock.now();
    const tx = new Transaction();
    if (full) tx.recreateTable(this.net);
    const next = full ? new Map<string, Map<string, Programmed>>() : new Map(this.programmed);
    const owners = full ? new Map<string, string>() : new Map(this.owners);
    const stale: string[] = [];
    const cleanup: ConntrackCleanup[] = [];
    for (const key of keys) {
      const before = this.programmed.get(key) ?? new Map<string, Programmed>();
      const after = this.render(key);
      for (const [name, old] of before) {
        if (full) continue;
        for (const k of old.rules.elements.keys()) if (owners.get(k) === name) owners.delete(k);
      }
      for (const port of after.values()) this.claimElements(port, owners);
      for (const name of new Set([...before.keys(), ...after.keys()])) {
        const old = before.get(name);
        const cur = after.get(name);
        stale.push(...diffPortRules(tx, full ? EMPTY_RULES : (old?.rules ?? EMPTY_RULES), cur?.rules ?? EMPTY_RULES));
        cleanup.push(...conntrackCleanup(old, cur));
      }
      if (after.size) next.set(key, after);
      else next.delete(key);
    }
    const deleting = full ? [] : this.dueStaleChains(tx);
    const text = tx.text();
    try {
      if (text) await this.commands.nft(text);
    } catch (err) {
      this.failures++;
      this.stats.failures++;
      this.needFullSync = true;
      this.log.error('nftables sync failed, retrying with a full sync', { full, error: err instanceof Error ? err.message : String(err), services: keys.size });
      return;
    }
    this.commit(next, owners, full, stale, deleting, text, tx);
    await this.clearConntrack(cleanup);
  }

  /** Stale chains flushed long enough ago (and not used again) are deleted in this transaction. */
  private dueStaleChains(tx: Transaction): string[] {
    const due: string[] = [];
    const limit = this.clock.now() - STALE_CHAIN_DELAY_MS;
    for (const [chain, at] of this.staleChains) {
      if (at > limit || tx.addsChain(chain)) continue;
      tx.deleteChain(chain);
      due.push(chain);
    }
    return due;
  }

  private commit(next: Map<string, Map<string, Programmed>>, owners: Map<string, string>, full: boolean, stale: string[], deleted: string[], text: string, tx: Transaction): void {
    this.programmed = next;
    this.owners = owners;
    if (full) this.staleChains.clear();
    for (const c of deleted) this.staleChains.delete(c);
    // A chain flushed earlier and used again in this transaction is no longer stale.
    for (const c of this.staleChains.keys()) if (tx.addsChain(c)) this.staleChains.delete(c);
    const now = this.clock.now();
    for (const c of stale) this.staleChains.set(c, now);
    this.needFullSync = false;
    this.failures = 0;
    if (text) this.lastTransaction = text;
    this.stats.syncs++;
    if (full) this.stats.fullSyncs++;
    this.stats.lastSyncMs = now - this.lastSyncStart;
    this.log.debug('nftables synced', { full, ms: this.stats.lastSyncMs, bytes: text.length, staleChains: this.staleChains.size });
  }

  private async clearConntrack(work: ConntrackCleanup[]): Promise<void> {
    for (const w of work) {
      try {
        await this.commands.conntrackDelete(w.args);
      } catch (err) {
        this.log.warn('clearing stale conntrack entries failed', { entries: w.args.join(' '), error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
}
