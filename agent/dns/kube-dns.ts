// How pods reach the cluster DNS: the kube-dns Service in kube-system at the --cluster-dns address, with
// internalTrafficPolicy Local and no selector, and one EndpointSlice per node that the node's agent writes with its
// own DNS address. Each node's service proxy so sends a pod's query to the server on the pod's own node (what
// NodeLocal DNSCache achieves with a link-local address), and a node whose agent stops takes its endpoint away.
import type { OwnerReference } from '../../api/index.js';
import { isAlreadyExists, isNotFound } from '../../api/errors.js';
import type { Logger } from '../../lib/logger.js';
import { logger } from '../../lib/logger.js';
import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME, type EndpointSlice, type Service } from './types.js';

export const KUBE_DNS_NAMESPACE = 'kube-system';
export const KUBE_DNS_NAME = 'kube-dns';
/** The managed-by value of the slices agents write (the EndpointSlice controller leaves slices it does not manage). */
export const KUBE_DNS_MANAGER = 'ketch-agent';
const MAX_NAME = 253;
const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

/** The kube-dns Service: port 53 over UDP and TCP to each node's own DNS server. */
export function kubeDnsService(clusterIP: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: KUBE_DNS_NAME,
      namespace: KUBE_DNS_NAMESPACE,
      labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'ketch-dns' },
    },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      internalTrafficPolicy: 'Local',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
    },
  };
}

/** The slice name for a node: kube-dns-NODE, cut to the 253 characters a name may have. */
export const kubeDnsSliceName = (nodeName: string): string => `${KUBE_DNS_NAME}-${nodeName}`.slice(0, MAX_NAME).replace(/[.-]+$/, '');

/** One node's endpoint of kube-dns: the address and port its DNS server listens on. */
export function kubeDnsEndpointSlice(nodeName: string, address: string, port: number, owner?: OwnerReference): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: kubeDnsSliceName(nodeName),
      namespace: KUBE_DNS_NAMESPACE,
      labels: { [LABEL_SERVICE_NAME]: KUBE_DNS_NAME, [LABEL_MANAGED_BY]: KUBE_DNS_MANAGER },
      ...(owner ? { ownerReferences: [owner] } : {}),
    },
    addressType: address.includes(':') ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true, serving: true, terminating: false }, nodeName }],
    ports: [
      { name: 'dns', port, protocol: 'UDP' },
      { name: 'dns-tcp', port, protocol: 'TCP' },
    ],
  };
}

/** The calls the publisher makes; a ResourceClient is one. */
export interface ObjectWriter<T> {
  get(namespace: string, name: string): Promise<T>;
  create(namespace: string, obj: T): Promise<T>;
  update(obj: T): Promise<T>;
  delete(namespace: string, name: string): Promise<unknown>;
}

export interface KubeDnsPublisherOptions {
  services: ObjectWriter<Service>;
  slices: ObjectWriter<EndpointSlice>;
  nodeName: string;
  /** Where this node's DNS server listens. */
  address: string;
  port: number;
  /** The kube-dns cluster IP (--cluster-dns). */
  clusterIP: string;
  /** The Node, so that deleting it deletes its slice (garbage collection). */
  nodeUID?: string;
  log?: Logger;
}

/** Keeps the kube-dns Service (created when missing) and this node's EndpointSlice in place; withdraws the slice. */
export class KubeDnsPublisher {
  private readonly log: Logger;

  constructor(private readonly opts: KubeDnsPublisherOptions) {
    this.log = opts.log ?? logger('kube-dns', { node: opts.nodeName });
  }

  /** Idempotent: call at start and whenever the address may have changed. */
  async publish(): Promise<void> {
    await this.ensureService();
    if (isLoopback(this.opts.address)) {
      // No endpoint may be loopback (and no pod could reach it): the node serves DNS to itself only.
      this.log.info('node address is loopback: no kube-dns endpoint for this node', { address: this.opts.address });
      return;
    }
    await this.ensureSlice();
  }

  /** Removes this node's endpoint (the agent is stopping: pods on the node lose cluster DNS, none elsewhere do). */
  async withdraw(): Promise<void> {
    try {
      await this.opts.slices.delete(KUBE_DNS_NAMESPACE, kubeDnsSliceName(this.opts.nodeName));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async ensureService(): Promise<void> {
    const want = kubeDnsService(this.opts.clusterIP);
    try {
      await this.opts.services.create(KUBE_DNS_NAMESPACE, want);
      this.log.info('kube-dns service created', { clusterIP: this.opts.clusterIP });
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const have = await this.opts.services.get(KUBE_DNS_NAMESPACE, KUBE_DNS_NAME);
    if (have.spec.clusterIP !== this.opts.clusterIP) {
      // Pods get --cluster-dns in their resolv.conf; a Service elsewhere means they cannot reach DNS. Left for the admin.
      this.log.warn('kube-dns service has another cluster IP than --cluster-dns', { clusterIP: have.spec.clusterIP, clusterDNS: this.opts.clusterIP });
    }
  }

  private async ensureSlice(): Promise<void> {
    const owner: OwnerReference | undefined = this.opts.nodeUID ? { apiVersion: 'v1', kind: 'Node', name: this.opts.nodeName, uid: this.opts.nodeUID } : undefined;
    const want = kubeDnsEndpointSlice(this.opts.nodeName, this.opts.address, this.opts.port, owner);
    const name = want.metadata.name ?? '';
    let have: EndpointSlice | undefined;
    try {
      have = await this.opts.slices.get(KUBE_DNS_NAMESPACE, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!have) {
      await this.opts.slices.create(KUBE_DNS_NAMESPACE, want);
      this.log.info('kube-dns endpoint published', { address: this.opts.address, port: this.opts.port });
      return;
    }
    if (JSON.stringify([have.endpoints, have.ports, have.addressType]) === JSON.stringify([want.endpoints, want.ports, want.addressType])) return;
    await this.opts.slices.update({ ...want, metadata: { ...have.metadata, labels: { ...have.metadata.labels, ...want.metadata.labels } } });
    this.log.info('kube-dns endpoint updated', { address: this.opts.address, port: this.opts.port });
  }
}
