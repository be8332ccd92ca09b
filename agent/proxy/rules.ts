// The nftables rules of the service proxy, pure (modelled on kube-proxy's nftables mode, pkg/proxy/nftables/proxier.go):
// one table, base chains on the netfilter hooks, verdict maps keyed by `ip . proto . port` that send a packet to its
// service's chain, per-service-port and per-endpoint chains (numgen random mod N picks the endpoint), and per-endpoint
// sets with timeouts for ClientIP affinity. Each service port's rules are kept as data (chains, sets, map elements), so
// a change is the difference between two of them: only that service's chains and elements are written.
import { createHash } from 'node:crypto';
import {
  categorize, endpointString, externallyAccessible, usesClusterEndpoints, usesLocalEndpoints,
  type EndpointInfo, type ServicePortInfo,
} from './model.js';

export const TABLE = 'ketch-proxy';
const FAMILY = 'ip';

// The service dispatch maps and their key types.
export const SERVICE_IPS = 'service-ips';
export const SERVICE_NODEPORTS = 'service-nodeports';
export const NO_ENDPOINT_SERVICES = 'no-endpoint-services';
export const NO_ENDPOINT_NODEPORTS = 'no-endpoint-nodeports';
const MARK_MASQ = 'mark-for-masquerade';
const REJECT_CHAIN = 'reject-chain';

export interface ProxyNetwork {
  /** The pod network of the cluster (traffic from outside it to a service is masqueraded). */
  clusterCidr: string;
  serviceCidr: string;
  /** e.g. "0x00004000": the mark that asks the masquerading chain to SNAT a packet. */
  masqueradeMark: string;
  /** Masquerade pod traffic that leaves the cluster network (a chain in this table). */
  podEgressMasquerade: boolean;
  /** Masquerade every packet to a service, pods' too (kube-proxy's masqueradeAll); default false. */
  masqueradeAll?: boolean;
}

/** One service port's share of the ruleset. Keys of `elements` are "map|key", values the verdicts. */
export interface PortRules {
  chains: Map<string, string[]>;
  sets: Map<string, string>;
  elements: Map<string, string>;
}

export const EMPTY_RULES: PortRules = { chains: new Map(), sets: new Map(), elements: new Map() };

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** kube-proxy's hashAndTruncate: 8 base32 characters of the name's SHA-256, a dash, the name (cut to fit). */
export function hashName(name: string): string {
  const digest = createHash('sha256').update(name).digest();
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 8) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 8) break;
  }
  const full = `${out}-${name}`;
  return full.length > 240 ? `${full.slice(0, 237)}...` : full;
}

/** The chain and set names of a service port (names hold [a-z0-9-./_], which nft accepts unquoted). */
export function chainNames(p: Pick<ServicePortInfo, 'namespace' | 'service' | 'portName' | 'protocol'>): {
  cluster: string;
  local: string;
  external: string;
  endpoint(ep: Pick<EndpointInfo, 'ip' | 'port'>): string;
  affinity(ep: Pick<EndpointInfo, 'ip' | 'port'>): string;
} {
  const base = `${p.namespace}/${p.service}/${p.protocol.toLowerCase()}/${p.portName}`;
  const hashed = hashName(base);
  const ep = (e: Pick<EndpointInfo, 'ip' | 'port'>): string => hashName(`${base}__${e.ip}/${e.port}`);
  return {
    cluster: `service-${hashed}`,
    local: `local-${hashed}`,
    external: `external-${hashed}`,
    endpoint: (e) => `endpoint-${ep(e)}`,
    affinity: (e) => `affinity-${ep(e)}`,
  };
}

/** Whether a chain is one of the per-service ones (the rest are the base chains). */
export const isServiceChain = (name: string): boolean => /^(service|local|external|endpoint)-/.test(name);

export interface RenderedPort {
  rules: PortRules;
  /** The endpoints some rule sends traffic to (for stale UDP conntrack entries). */
  reachable: EndpointInfo[];
}

/** The rules of one service port (syncProxyRules' loop body). */
export function renderServicePort(p: ServicePortInfo, endpoints: EndpointInfo[], net: ProxyNetwork): RenderedPort {
  const proto = p.protocol.toLowerCase();
  const c = categorize(endpoints, p);
  const n = chainNames(p);
  const rules: PortRules = { chains: new Map(), sets: new Map(), elements: new Map() };
  const rule = (chain: string, text: string): void => {
    const list = rules.chains.get(chain);
    if (list) list.push(text);
    else rules.chains.set(chain, [text]);
  };
  const element = (map: string, key: string, verdict: string): void => void rules.elements.set(`${map}|${key}`, verdict);
  const ipKey = (ip: string): string => `${ip} . ${proto} . ${p.port}`;

  const usesClusterChain = c.cluster.length > 0 && usesClusterEndpoints(p);
  const usesLocalChain = c.local.length > 0 && usesLocalEndpoints(p);
  const internalChain = p.internalPolicyLocal ? n.local : n.cluster;
  const hasInternal = c.hasAny && (!p.internalPolicyLocal || c.local.length > 0);
  const externalPolicyChain = p.externalPolicyLocal ? n.local : n.cluster;
  const hasExternal = c.hasAny && (!p.externalPolicyLocal || c.local.length > 0);
  const usesExternalChain = c.hasAny && externallyAccessible(p);
  // No endpoints at all: reject; endpoints, but none this traffic policy may use: drop.
  const internalVerdict = c.hasAny ? 'drop' : `goto ${REJECT_CHAIN}`;
  const externalVerdict = internalVerdict;

  if (hasInternal) element(SERVICE_IPS, ipKey(p.clusterIP), `goto ${internalChain}`);
  else element(NO_ENDPOINT_SERVICES, ipKey(p.clusterIP), internalVerdict);
  for (const ip of [...p.externalIPs, ...p.loadBalancerIPs]) {
    if (c.hasAny) element(SERVICE_IPS, ipKey(ip), `goto ${n.external}`);
    if (!hasExternal) element(NO_ENDPOINT_SERVICES, ipKey(ip), externalVerdict);
  }
  if (p.nodePort) {
    if (c.hasAny) element(SERVICE_NODEPORTS, `${proto} . ${p.nodePort}`, `goto ${n.external}`);
    if (!hasExternal) element(NO_ENDPOINT_NODEPORTS, `${proto} . ${p.nodePort}`, externalVerdict);
  }

  // Traffic to the cluster IP from outside the pod network is masqueraded (it may be answered from another node).
  if (hasInternal) rule(internalChain, `ip daddr ${p.clusterIP} ${proto} dport ${p.port}${net.masqueradeAll ? '' : ` ip saddr != ${net.clusterCidr}`} jump ${MARK_MASQ}`);
  if (usesExternalChain) {
    if (!p.externalPolicyLocal) {
      rule(n.external, `jump ${MARK_MASQ}`);
    } else {
      // Pods and the node itself reach an external address as if from outside and back: any endpoint will do.
      rule(n.external, `ip saddr ${net.clusterCidr} goto ${n.cluster}`);
      rule(n.external, `fib saddr type local jump ${MARK_MASQ}`);
      rule(n.external, `fib saddr type local goto ${n.cluster}`);
    }
    if (hasExternal) rule(n.external, `goto ${externalPolicyChain}`);
  }
  if (p.affinitySeconds > 0) {
    for (const ep of c.reachable) rules.sets.set(n.affinity(ep), `{ type ipv4_addr ; flags dynamic,timeout ; timeout ${p.affinitySeconds}s ; }`);
  }
  const dispatch = (chain: string, eps: EndpointInfo[]): void => {
    if (p.affinitySeconds > 0) for (const ep of eps) rule(chain, `ip saddr @${n.affinity(ep)} goto ${n.endpoint(ep)}`);
    rule(chain, `numgen random mod ${eps.length} vmap { ${eps.map((ep, i) => `${i} : goto ${n.endpoint(ep)}`).join(' , ')} }`);
  };
  if (usesClusterChain) dispatch(n.cluster, c.cluster);
  if (usesLocalChain) dispatch(n.local, c.local);
  for (const ep of c.reachable) {
    const chain = n.endpoint(ep);
    // Hairpin: a pod reaching itself through its service is masqueraded, or it would drop its own source address.
    rule(chain, `ip saddr ${ep.ip} jump ${MARK_MASQ}`);
    if (p.affinitySeconds > 0) rule(chain, `update @${n.affinity(ep)} { ip saddr }`);
    rule(chain, `meta l4proto ${proto} dnat to ${endpointString(ep)}`);
  }
  return { rules, reachable: c.reachable };
}

/** The table, its base chains, maps and fixed rules: what a full sync writes before the services. */
export function baseRules(net: ProxyNetwork): string[] {
  const t = `${FAMILY} ${TABLE}`;
  const lines = [
    `add table ${t} { comment "service proxy of the ketch agent" ; }`,
    // Filter chains run before DNAT (priority dstnat - 10) on the hooks where reject is allowed.
    `add chain ${t} filter-input { type filter hook input priority -110 ; }`,
    `add chain ${t} filter-forward { type filter hook forward priority -110 ; }`,
    `add chain ${t} filter-output { type filter hook output priority -110 ; }`,
    `add chain ${t} nat-prerouting { type nat hook prerouting priority -100 ; }`,
    `add chain ${t} nat-output { type nat hook output priority -100 ; }`,
    `add chain ${t} nat-postrouting { type nat hook postrouting priority 100 ; }`,
    `add chain ${t} services`,
    `add chain ${t} endpoints-check`,
    `add chain ${t} ${MARK_MASQ}`,
    `add chain ${t} masquerading`,
    `add chain ${t} ${REJECT_CHAIN}`,
    `add map ${t} ${SERVICE_IPS} { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }`,
    `add map ${t} ${SERVICE_NODEPORTS} { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }`,
    `add map ${t} ${NO_ENDPOINT_SERVICES} { type ipv4_addr . inet_proto . inet_service : verdict ; comment "services with no endpoints" ; }`,
    `add map ${t} ${NO_ENDPOINT_NODEPORTS} { type inet_proto . inet_service : verdict ; comment "node ports with no endpoints" ; }`,
    `add rule ${t} filter-input ct state new jump endpoints-check`,
    `add rule ${t} filter-forward ct state new jump endpoints-check`,
    `add rule ${t} filter-output ct state new jump endpoints-check`,
    `add rule ${t} nat-prerouting jump services`,
    `add rule ${t} nat-output jump services`,
    `add rule ${t} nat-postrouting jump masquerading`,
    `add rule ${t} ${MARK_MASQ} mark set mark or ${net.masqueradeMark}`,
    `add rule ${t} masquerading mark and ${net.masqueradeMark} == 0 return`,
    `add rule ${t} masquerading mark set mark xor ${net.masqueradeMark}`,
    `add rule ${t} masquerading masquerade fully-random`,
    `add rule ${t} ${REJECT_CHAIN} reject`,
    `add rule ${t} endpoints-check ip daddr . meta l4proto . th dport vmap @${NO_ENDPOINT_SERVICES}`,
    // NodePorts answer on every local address but loopback (kube's nodePortAddresses unset).
    `add rule ${t} endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @${NO_ENDPOINT_NODEPORTS}`,
    `add rule ${t} services ip daddr . meta l4proto . th dport vmap @${SERVICE_IPS}`,
    `add rule ${t} services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @${SERVICE_NODEPORTS}`,
  ];
  if (net.podEgressMasquerade) {
    // Pod traffic leaving the cluster network (not to pods, services or multicast) gets the node's address.
    lines.push(
      `add chain ${t} pod-egress`,
      `add rule ${t} nat-postrouting jump pod-egress`,
      `add rule ${t} pod-egress ip saddr ${net.clusterCidr} ip daddr != { ${net.clusterCidr}, ${net.serviceCidr}, 224.0.0.0/4 } masquerade fully-random`,
    );
  }
  return lines;
}

/**
 * A transaction for `nft -f -`, collected in sections so that it applies in a valid order: new chains, flushes,
 * element and set deletions, set and element additions, rules, then chain deletions.
 */
export class Transaction {
  private readonly head: string[] = [];
  private readonly addChains = new Set<string>();
  private readonly flushChains = new Set<string>();
  private readonly delElements = new Map<string, string[]>();
  private readonly delSets = new Set<string>();
  private readonly addSets = new Map<string, string>();
  private readonly addElements = new Map<string, string[]>();
  private readonly rules: string[] = [];
  private readonly delChains = new Set<string>();

  /** Replaces the whole table (a full sync): whatever an earlier run left is gone in the same transaction. */
  recreateTable(net: ProxyNetwork): void {
    this.head.push(`add table ${FAMILY} ${TABLE}`, `delete table ${FAMILY} ${TABLE}`, ...baseRules(net));
  }

  addChain(name: string): void {
    this.addChains.add(name);
  }
  addsChain(name: string): boolean {
    return this.addChains.has(name);
  }
  flushChain(name: string): void {
    this.flushChains.add(name);
  }
  deleteChain(name: string): void {
    this.delChains.add(name);
  }
  addRule(chain: string, rule: string): void {
    this.rules.push(`add rule ${FAMILY} ${TABLE} ${chain} ${rule}`);
  }
  deleteSet(name: string): void {
    this.delSets.add(name);
  }
  addSet(name: string, decl: string): void {
    this.addSets.set(name, decl);
  }
  deleteElement(mapKey: string): void {
    const [map, key] = splitElement(mapKey);
    push(this.delElements, map, key);
  }
  addElement(mapKey: string, verdict: string): void {
    const [map, key] = splitElement(mapKey);
    push(this.addElements, map, `${key} : ${verdict}`);
  }

  get empty(): boolean {
    return (
      !this.head.length && !this.addChains.size && !this.flushChains.size && !this.delElements.size && !this.delSets.size &&
      !this.addSets.size && !this.addElements.size && !this.rules.length && !this.delChains.size
    );
  }

  text(): string {
    const t = `${FAMILY} ${TABLE}`;
    const out = [...this.head];
    for (const c of this.addChains) out.push(`add chain ${t} ${c}`);
    for (const c of this.flushChains) out.push(`flush chain ${t} ${c}`);
    for (const [map, keys] of this.delElements) for (const chunk of chunks(keys)) out.push(`delete element ${t} ${map} { ${chunk.join(', ')} }`);
    for (const s of this.delSets) out.push(`delete set ${t} ${s}`);
    for (const [s, decl] of this.addSets) out.push(`add set ${t} ${s} ${decl}`);
    for (const [map, items] of this.addElements) for (const chunk of chunks(items)) out.push(`add element ${t} ${map} { ${chunk.join(', ')} }`);
    out.push(...this.rules);
    for (const c of this.delChains) out.push(`delete chain ${t} ${c}`);
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

function splitElement(mapKey: string): [string, string] {
  const i = mapKey.indexOf('|');
  return [mapKey.slice(0, i), mapKey.slice(i + 1)];
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function* chunks<T>(items: T[], size = 500): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

const sameList = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Adds to tx what turns one service port's rules into another's (either may be EMPTY_RULES). Chains that go are
 * flushed and returned: the caller deletes them in a later transaction, once the kernel has dropped their references.
 */
export function diffPortRules(tx: Transaction, old: PortRules, next: PortRules): string[] {
  // A set declared anew must lose its references first: every chain of the port is rewritten then.
  const setsRedeclared = [...next.sets].some(([name, decl]) => old.sets.has(name) && old.sets.get(name) !== decl);
  for (const [name, rules] of next.chains) {
    const prev = old.chains.get(name);
    if (!prev) tx.addChain(name);
    else if (setsRedeclared || !sameList(prev, rules)) tx.flushChain(name);
    else continue;
    for (const r of rules) tx.addRule(name, r);
  }
  const stale: string[] = [];
  for (const name of old.chains.keys()) {
    if (next.chains.has(name)) continue;
    tx.flushChain(name);
    stale.push(name);
  }
  // A set or element whose declaration or verdict changes is deleted and added again (nft cannot replace either).
  diffEntries(old.sets, next.sets, (n) => tx.deleteSet(n), (n, decl) => tx.addSet(n, decl));
  diffEntries(old.elements, next.elements, (k) => tx.deleteElement(k), (k, verdict) => tx.addElement(k, verdict));
  return stale;
}

function diffEntries(old: Map<string, string>, next: Map<string, string>, remove: (key: string) => void, add: (key: string, value: string) => void): void {
  for (const [key, value] of next) {
    const prev = old.get(key);
    if (prev === value) continue;
    if (prev !== undefined) remove(key);
    add(key, value);
  }
  for (const key of old.keys()) if (!next.has(key)) remove(key);
}
