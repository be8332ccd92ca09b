// The agent's cluster DNS in one call: the server on the node's address (host network, like NodeLocal DNSCache), fed
// by the agent's informers, and this node's endpoint of the kube-dns Service published (retried until the API accepts
// it) and withdrawn on stop. Also the kubelet-style flags the agent takes for it.
import type { InformerFactory, RestClient } from '../../client/index.js';
import { realClock, type Clock } from '../../lib/clock.js';
import type { FlagTable } from '../../lib/flags.js';
import { logger, type Logger } from '../../lib/logger.js';
import { dnsSourcesFrom } from './sources.js';
import { KubeDnsPublisher } from './kube-dns.js';
import type { PodMode } from './kubernetes-zone.js';
import { ClusterDnsServer } from './server.js';
import { DEFAULT_CLUSTER_DNS, DEFAULT_CLUSTER_DOMAIN, ENDPOINTSLICES_REF, SERVICES_REF, type EndpointSlice, type Service } from './types.js';

/** Flags of `ketch agent` for DNS (the kubelet's names where the kubelet has them). */
export const CLUSTER_DNS_FLAGS: FlagTable = [
  { name: '--cluster-dns', kind: 'string', arg: 'ip', description: `the kube-dns Service's cluster IP, the nameserver of ClusterFirst pods (default: the tenth address of --service-cluster-ip-range, ${DEFAULT_CLUSTER_DNS})` },
  { name: '--cluster-domain', kind: 'string', arg: 'domain', default: DEFAULT_CLUSTER_DOMAIN, description: 'the cluster domain: searched by pods, answered by the node DNS server' },
  { name: '--cluster-dns-port', kind: 'int', arg: 'port', default: '53', description: "port of this node's DNS server on the node address (0: no DNS server on this node)" },
  { name: '--resolv-conf', kind: 'string', arg: 'file', default: '/etc/resolv.conf', description: 'resolver configuration of the host: Default pods and the DNS upstreams ("": none)' },
];

export interface NodeDnsOptions {
  rest: RestClient;
  /** The agent's informer factory; the DNS informers are added to it and started. */
  factory: InformerFactory;
  nodeName: string;
  /** The node's address: the server listens there and publishes it as its kube-dns endpoint. */
  nodeIP: string;
  port?: number;
  clusterDNS?: string;
  clusterDomain?: string;
  resolvConf?: string;
  /** Watch every pod for pod PTR records and `pods verified` (off: a watch of every pod on every node). */
  podRecords?: boolean;
  podMode?: PodMode;
  /** The Node's UID, so that its kube-dns slice is garbage-collected with it. */
  nodeUID?: string;
  clock?: Clock;
  log?: Logger;
}

export interface NodeDns {
  server: ClusterDnsServer;
  port: number;
  stop(): Promise<void>;
}

const MAX_RETRY_MS = 30_000;

export async function startNodeDns(opts: NodeDnsOptions): Promise<NodeDns> {
  const log = opts.log ?? logger('cluster-dns', { node: opts.nodeName });
  const clock = opts.clock ?? realClock;
  const clusterDNS = opts.clusterDNS ?? DEFAULT_CLUSTER_DNS;
  const sources = dnsSourcesFrom(opts.factory, { pods: opts.podRecords ?? false });
  opts.factory.start();
  const server = new ClusterDnsServer({
    sources,
    address: opts.nodeIP,
    port: opts.port ?? 53,
    clusterDomain: opts.clusterDomain,
    clusterDNS: [clusterDNS],
    resolvConf: opts.resolvConf,
    podMode: opts.podMode,
    clock,
    log,
  });
  const { port } = await server.start();
  const publisher = new KubeDnsPublisher({
    services: opts.rest.resource<Service>(SERVICES_REF),
    slices: opts.rest.resource<EndpointSlice>(ENDPOINTSLICES_REF),
    nodeName: opts.nodeName,
    address: opts.nodeIP,
    port,
    clusterIP: clusterDNS,
    nodeUID: opts.nodeUID,
    log,
  });
  const abort = new AbortController();
  const publishing = (async () => {
    for (let delay = 1000; !abort.signal.aborted; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
      try {
        return await publisher.publish();
      } catch (err) {
        log.warn('kube-dns endpoint not published, retrying', { error: String(err), retryMs: delay });
        await clock.sleep(delay, abort.signal).catch(() => undefined); // aborted: the loop ends
      }
    }
  })();
  return {
    server,
    port,
    async stop() {
      abort.abort(new Error('node DNS stopping'));
      await publishing;
      try {
        await publisher.withdraw();
      } catch (err) {
        log.warn('kube-dns endpoint not withdrawn', { error: String(err) });
      }
      await server.stop();
    },
  };
}
