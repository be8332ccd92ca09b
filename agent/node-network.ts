// The node's share of Services, as kube-proxy, NodeLocal DNS and the kubelet's DNS and env code do it: one informer
// factory for Services and EndpointSlices (and Namespaces for DNS), the service proxy (nftables), this node's cluster
// DNS server, and what pods read from them: their resolv.conf by dnsPolicy and the service environment variables.
// Hollow nodes run none of it.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { DEFAULT_CLUSTER_CIDR, DEFAULT_CLUSTER_DOMAIN, DEFAULT_SERVICE_CIDR, type Pod, type Service } from '../api/index.js';
import { InformerFactory, type Informer, type RestClient } from '../client/index.js';
import { SERVICES } from '../client/resources.js';
import { isNotExist } from '../lib/errno.js';
import { FlagError, type Flags, type FlagTable } from '../lib/flags.js';
import { nthIPv4 } from '../lib/ipv4.js';
import type { Logger } from '../lib/logger.js';
import { CLUSTER_DNS_FLAGS, podDnsConfig, readHostResolvConf, startNodeDns, type NodeDns, type PodDns, type ResolvConf } from './dns/index.js';
import { ContainerConfigError } from './pod-config.js';
import { startServiceProxy, type RunningServiceProxy } from './proxy/index.js';
import { MASTER_SERVICE_NAMESPACE, serviceEnvVars } from './service-env/service-env.js';

/** br_netfilter's switch: off (or absent), replies between pods on one bridge skip conntrack and the proxy must SNAT. */
export const BRIDGE_NF_CALL_IPTABLES = '/proc/sys/net/bridge/bridge-nf-call-iptables';
const SERVICES_SYNC_WAIT_MS = 10_000;

export interface NodeNetworkOptions extends NodeNetworkSettings {
  rest: RestClient;
  nodeName: string;
  /** The node's address: the DNS server listens there. */
  nodeIP: string;
  /** The Node's UID: its kube-dns EndpointSlice is owned by it. */
  nodeUID?: string;
  log: Logger;
}

/** What a node's network is configured by (NODE_NETWORK_FLAGS; the agent's options too). */
export interface NodeNetworkSettings {
  /** The cluster's pod network (kube-proxy's --cluster-cidr; default 10.42.0.0/16). */
  clusterCidr?: string;
  /** The service network (--service-cluster-ip-range; default 10.96.0.0/16); kube-dns defaults to its tenth address. */
  serviceCidr?: string;
  /** Run the service proxy (nftables; default true). */
  serviceProxy?: boolean;
  /** kube-dns's cluster IP, ClusterFirst pods' nameserver. */
  clusterDNS?: string;
  clusterDomain?: string;
  /** Port of this node's DNS server on the node address (53; 0: none). */
  clusterDnsPort?: number;
  /** The host's resolv.conf: Default pods and the DNS upstreams (default /etc/resolv.conf; '': none, as the kubelet's --resolv-conf ""). */
  resolvConf?: string;
}

export interface NodeNetwork {
  /** The kube-dns address ClusterFirst pods get. */
  readonly clusterDNS: string;
  /** A pod's resolv.conf by its dnsPolicy and dnsConfig, with the warnings the kubelet records. */
  podDns(pod: Pod): Promise<PodDns>;
  /** WEB_SERVICE_HOST and friends for a container of a pod in `namespace` (its own env wins over them). */
  serviceEnv(pod: Pod): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

/** The agent's flags for the node network: kube-proxy's and the kubelet's names where they have them. */
export const NODE_NETWORK_FLAGS: FlagTable = [
  { name: '--cluster-cidr', kind: 'string', arg: 'cidr', default: DEFAULT_CLUSTER_CIDR, description: "the cluster's pod network (the controller manager's --cluster-cidr): other nodes' pod CIDRs are routed only inside it; the service proxy masquerades service traffic from outside it, and pods' traffic leaving it" },
  { name: '--service-cluster-ip-range', kind: 'string', arg: 'cidr', default: DEFAULT_SERVICE_CIDR, description: "the service network (as the API server's); kube-dns defaults to its tenth address" },
  { name: '--no-service-proxy', kind: 'bool', description: 'do not run the service proxy (nftables); for a node whose Services another proxy programs' },
  ...CLUSTER_DNS_FLAGS,
];

/** The node network options from NODE_NETWORK_FLAGS' values (the flags a table lacks stay at their defaults). */
export function nodeNetworkFlags(f: Flags): NodeNetworkSettings {
  const dns = f.optional('--cluster-dns');
  if (dns && isIP(dns) !== 4) throw new FlagError(`invalid argument "${dns}" for "--cluster-dns" flag: want an IPv4 address`);
  return {
    clusterCidr: f.cidr('--cluster-cidr', 8, 30),
    serviceCidr: f.cidr('--service-cluster-ip-range', 8, 28),
    serviceProxy: !f.bool('--no-service-proxy'),
    ...(dns ? { clusterDNS: dns } : {}),
    clusterDomain: f.string('--cluster-domain'),
    clusterDnsPort: f.int('--cluster-dns-port'),
    resolvConf: f.optional('--resolv-conf') ?? '',
  };
}

/** Whether the node's bridge hands bridged IPv4 to netfilter (br_netfilter loaded, bridge-nf-call-iptables=1). */
export async function bridgeNetfilterOn(path = BRIDGE_NF_CALL_IPTABLES): Promise<boolean> {
  try {
    return (await readFile(path, 'utf8')).trim() === '1';
  } catch (err) {
    if (isNotExist(err)) return false;
    throw err;
  }
}

/** Starts the proxy and the DNS server over shared informers; rejects (with everything stopped) if either cannot start. */
export async function startNodeNetwork(o: NodeNetworkOptions): Promise<NodeNetwork> {
  const log = o.log;
  const serviceCidr = o.serviceCidr ?? DEFAULT_SERVICE_CIDR;
  const clusterDNS = o.clusterDNS || nthIPv4(serviceCidr, 10);
  const clusterDomain = o.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  const resolvConf = o.resolvConf ?? '/etc/resolv.conf';
  const factory = new InformerFactory(o.rest, { log });
  const services: Informer<Service> = factory.for<Service>(SERVICES);
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log.warn('node network shutdown step failed', { error: String(err) }));
    await factory.stop();
  };
  try {
    if (o.serviceProxy !== false) {
      const masqueradeAll = !(await bridgeNetfilterOn());
      // Without br_netfilter a reply from a pod to a pod on the same bridge skips conntrack (never un-DNATed): the
      // proxy then SNATs all service traffic, so that replies come back through the node (kube-proxy's masqueradeAll).
      if (masqueradeAll) log.warn('br_netfilter is off: the service proxy masquerades all service traffic (pods see the node, not the client)', { sysctl: BRIDGE_NF_CALL_IPTABLES });
      const proxy: RunningServiceProxy = await startServiceProxy({ factory, nodeName: o.nodeName, clusterCidr: o.clusterCidr ?? DEFAULT_CLUSTER_CIDR, serviceCidr, masqueradeAll, log: log.child({ component: 'service-proxy' }) });
      stops.push(() => proxy.stop());
    }
    let dns: NodeDns | undefined;
    const port = o.clusterDnsPort ?? 53;
    if (port > 0) {
      dns = await startNodeDns({
        rest: o.rest,
        factory,
        nodeName: o.nodeName,
        nodeIP: o.nodeIP,
        port,
        clusterDNS,
        clusterDomain,
        ...(resolvConf ? { resolvConf } : {}),
        ...(o.nodeUID ? { nodeUID: o.nodeUID } : {}),
        log: log.child({ component: 'cluster-dns' }),
      });
      stops.push(() => dns!.stop());
    }
    factory.start();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    clusterDNS,
    async podDns(pod) {
      return podDnsConfig(pod, { clusterDNS: [clusterDNS], clusterDomain, host: await hostResolvConf(resolvConf, log) });
    },
    async serviceEnv(pod) {
      if (!services.hasSynced) {
        // kubelet refuses to start a container before it has read the services once (its variables would be missing).
        await services.waitForSync(AbortSignal.timeout(SERVICES_SYNC_WAIT_MS)).catch(() => {
          throw new ContainerConfigError('services have not yet been read at least once, cannot construct envvars');
        });
      }
      const ns = pod.metadata.namespace ?? '';
      const candidates = [...services.indexer.byIndex('namespace', ns), ...(ns === MASTER_SERVICE_NAMESPACE ? [] : services.indexer.byIndex('namespace', MASTER_SERVICE_NAMESPACE))];
      return serviceEnvVars(candidates, ns, pod.spec.enableServiceLinks);
    },
    stop,
  };
}

/** The host's resolv.conf as pods with dnsPolicy Default get it; undefined when --resolv-conf is "" or the file is gone. */
async function hostResolvConf(path: string, log: Logger): Promise<ResolvConf | undefined> {
  if (!path) return undefined;
  try {
    return await readHostResolvConf(path);
  } catch (err) {
    if (!isNotExist(err)) throw err;
    log.warn('the host resolv.conf is missing: Default pods get the local resolver', { resolvConf: path });
    return undefined;
  }
}
