// resolv.conf: the host's (parsed as the kubelet parses it), the upstreams the cluster DNS forwards to, and each pod's
// (pkg/kubelet/network/dns/dns.go: dnsPolicy, dnsConfig merged, the search and nameserver limits).
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Pod } from '../../api/index.js';
import type { Upstream } from './forward.js';

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/** systemd-resolved's list of the real upstreams, when /etc/resolv.conf names only its 127.0.0.53 stub. */
export const SYSTEMD_RESOLV_CONF = '/run/systemd/resolve/resolv.conf';
const MAX_RESOLV_CONF_BYTES = 10 << 20;

// The limits of kube's validation (ExpandedDNSConfig, on since 1.28).
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;
const MAX_SEARCH_DOMAIN_CHARS = 253;

/** nameserver lines add up, the last search and options lines win, # starts a comment (kubelet's parseResolvConf). */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const line of text.slice(0, MAX_RESOLV_CONF_BYTES).split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) continue;
    const fields = trimmed.split(/\s+/).filter(Boolean);
    const [key, ...rest] = fields;
    if (key === 'nameserver' && rest[0] !== undefined) conf.nameservers.push(rest[0]);
    else if (key === 'search') conf.searches = rest.map((s) => s.replace(/\.$/, ''));
    else if (key === 'options') conf.options = rest;
  }
  return conf;
}

/** The file as containerd writes a pod's: search, nameserver lines, options. */
export function formatResolvConf(conf: ResolvConf): string {
  let out = '';
  if (conf.searches.length) out += `search ${conf.searches.join(' ')}\n`;
  for (const ns of conf.nameservers) out += `nameserver ${ns}\n`;
  if (conf.options.length) out += `options ${conf.options.join(' ')}\n`;
  return out;
}

const isLoopback = (ip: string): boolean => (isIP(ip) === 4 ? ip.startsWith('127.') : ip === '::1');

/**
 * The host's resolv.conf for the node: path, unless every nameserver there is a loopback stub (systemd-resolved's
 * 127.0.0.53, which no pod can reach and which would loop back here), then systemd-resolved's list of real upstreams
 * when it exists: the file the kubelet's --resolv-conf guidance (and kubeadm) picks.
 */
export async function readHostResolvConf(path = '/etc/resolv.conf', fallback = SYSTEMD_RESOLV_CONF): Promise<ResolvConf> {
  const conf = parseResolvConf(await readFile(path, 'utf8'));
  if (conf.nameservers.length && !conf.nameservers.every(isLoopback)) return conf;
  try {
    return parseResolvConf(await readFile(fallback, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return conf; // no systemd-resolved: the stub is all there is
    throw err;
  }
}

/** The upstreams to forward to: the nameservers on port 53, without loopback stubs and without this server itself. */
export function upstreamsFrom(conf: ResolvConf, self: Upstream[] = []): Upstream[] {
  return conf.nameservers
    .map((ns) => ns.replace(/%.*$/, '')) // a zone index (fe80::1%eth0) is not kept
    .filter((ns) => isIP(ns) !== 0 && !isLoopback(ns))
    .map((host) => ({ host, port: 53 }))
    .filter((u) => !self.some((s) => s.host === u.host && s.port === u.port));
}

export interface PodDnsOptions {
  /** The kubelet's --cluster-dns addresses. */
  clusterDNS: string[];
  /** The kubelet's --cluster-domain. */
  clusterDomain: string;
  /** The host's resolv.conf (--resolv-conf); undefined when that flag is empty. */
  host: ResolvConf | undefined;
}

export interface PodDns {
  conf: ResolvConf;
  /** Warning events the kubelet would record (reason DNSConfigForming or MissingClusterDNS) with their message. */
  warnings: Array<{ reason: string; message: string }>;
}

const omitDuplicates = (xs: string[]): string[] => [...new Set(xs)];

/** Which base a pod's DNS starts from: ClusterFirst falls back to Default for host-network pods, as kube does. */
function dnsType(pod: Pod): 'cluster' | 'host' | 'none' {
  switch (pod.spec.dnsPolicy ?? 'ClusterFirst') {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    case 'Default':
      return 'host';
    default:
      return pod.spec.hostNetwork ? 'host' : 'cluster';
  }
}

/** dnsConfig options override those of the base by name (kubelet's mergeDNSOptions; the order here is stable). */
function mergeOptions(base: string[], extra: Array<{ name?: string; value?: string }>): string[] {
  const m = new Map<string, string>();
  for (const op of base) {
    const i = op.indexOf(':');
    if (i >= 0) m.set(op.slice(0, i), op.slice(i + 1));
    else m.set(op, '');
  }
  for (const op of extra) m.set(op.name ?? '', op.value ?? '');
  return [...m].map(([k, v]) => (v ? `${k}:${v}` : k));
}

/** The search list cut to the limits: 32 domains, none over 253 characters, 2048 characters joined. */
function fitSearches(searches: string[], warnings: PodDns['warnings']): string[] {
  let out = searches.slice(0, MAX_DNS_SEARCH_PATHS);
  let exceeded = searches.length > out.length;
  const short = out.filter((s) => s.length <= MAX_SEARCH_DOMAIN_CHARS);
  exceeded ||= short.length !== out.length;
  out = short;
  while (out.join(' ').length > MAX_DNS_SEARCH_LIST_CHARS) {
    out = out.slice(0, -1);
    exceeded = true;
  }
  if (exceeded) warnings.push({ reason: 'DNSConfigForming', message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${out.join(' ')}` });
  return out;
}

/** A pod's resolv.conf, as the kubelet's GetPodDNS forms it. */
export function podDnsConfig(pod: Pod, opts: PodDnsOptions): PodDns {
  const warnings: PodDns['warnings'] = [];
  const host: ResolvConf = opts.host ? { nameservers: [...opts.host.nameservers], searches: [...opts.host.searches], options: [...opts.host.options] } : { nameservers: [], searches: [], options: [] };
  let conf = host;
  let type = dnsType(pod);
  if (type === 'cluster' && !opts.clusterDNS.length) {
    warnings.push({ reason: 'MissingClusterDNS', message: `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.` });
    type = 'host';
  }
  if (type === 'none') conf = { nameservers: [], searches: [], options: [] };
  else if (type === 'cluster') {
    const domain = opts.clusterDomain;
    const searches = domain ? omitDuplicates([`${pod.metadata.namespace ?? ''}.svc.${domain}`, `svc.${domain}`, domain, ...host.searches]) : host.searches;
    conf = { nameservers: [...opts.clusterDNS], searches, options: ['ndots:5'] };
  } else if (!opts.host) {
    // No --resolv-conf: the local machine's resolver, and no search (kubelet's podDNSHost with ResolverConfig "").
    conf = { nameservers: ['127.0.0.1'], searches: ['.'], options: [] };
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    conf = {
      nameservers: omitDuplicates([...conf.nameservers, ...(extra.nameservers ?? [])]),
      searches: omitDuplicates([...conf.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(conf.options, extra.options ?? []),
    };
  }
  if (conf.nameservers.length > MAX_DNS_NAMESERVERS) {
    conf.nameservers = conf.nameservers.slice(0, MAX_DNS_NAMESERVERS);
    warnings.push({ reason: 'DNSConfigForming', message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${conf.nameservers.join(' ')}` });
  }
  conf.searches = fitSearches(conf.searches, warnings);
  return { conf, warnings };
}
