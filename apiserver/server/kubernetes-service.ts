// Post-start hook: the `kubernetes` Service in `default` and its endpoints, every live API server, so that in-cluster
// clients find the API at https://kubernetes.default.svc. As kube's lease endpoint reconciler
// (pkg/controlplane/reconcilers/lease.go), each server keeps a lease and writes the addresses of the servers whose
// leases are live; the leases are kube-apiserver's identity leases (kube-system, `apiserver-<hash>`, label
// apiserver.kubernetes.io/identity=kube-apiserver) with the address and port a server serves on in an annotation,
// renewed every 5 s and live for 15 s (the master-lease TTL). Leases expired for an hour are deleted, as kube does.
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ApiError } from '../../api/errors.js';
import { realClock, type Clock } from '../../lib/clock.js';
import { isLoopbackIPv4, nthIPv4 } from '../../lib/ipv4.js';
import type { Logger } from '../../lib/logger.js';
import type { Obj } from '../registry/object.js';
import type { Store } from '../registry/store.js';

export const KUBERNETES_SERVICE = 'kubernetes';
export const KUBERNETES_NAMESPACE = 'default';
export const IDENTITY_LABEL = 'apiserver.kubernetes.io/identity';
export const IDENTITY_VALUE = 'kube-apiserver';
/** Where a server's lease says the address and port it serves on (IP:PORT). */
export const ENDPOINT_ANNOTATION = 'ketch.io/apiserver-endpoint';
const LEASE_NAMESPACE = 'kube-system';
const FIELD_MANAGER = 'ketch-apiserver';
const GC_AFTER_MS = 3600_000;

export interface KubernetesServiceStores {
  services: Store;
  endpoints: Store;
  endpointSlices: Store;
  leases: Store;
}

export interface KubernetesServiceOptions {
  stores: KubernetesServiceStores;
  /** The address other machines (and pods, through the Service) reach this server at. */
  advertiseAddress: string;
  securePort: number;
  /** The service range: the Service's cluster IP is its first address. */
  serviceCidr: string;
  log: Logger;
  clock?: Clock;
  intervalMs?: number;
  leaseDurationSeconds?: number;
}

interface LeaseObj extends Obj {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string };
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** The lease of a server: named by a hash of its host name, address and port (two servers on one host differ). */
export function leaseName(host: string, endpoint: string): string {
  return `apiserver-${createHash('sha256').update(`${host}/${endpoint}`).digest('hex').slice(0, 26)}`;
}

/** The Service: 443 to the servers' secure port, no selector (its endpoints are written here). */
export function kubernetesService(clusterIP: string, port: number): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: KUBERNETES_SERVICE, namespace: KUBERNETES_NAMESPACE, labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], sessionAffinity: 'None', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }] },
  };
}

export class KubernetesServiceReconciler {
  private readonly clock: Clock;
  private readonly endpoint: string;
  private readonly lease: string;
  private readonly holder: string;
  private readonly host = hostname();
  private timer: ReturnType<Clock['setTimer']> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: KubernetesServiceOptions) {
    this.clock = o.clock ?? realClock;
    this.endpoint = `${o.advertiseAddress}:${o.securePort}`;
    this.lease = leaseName(this.host, this.endpoint);
    this.holder = `${this.lease}_${randomUUID()}`;
    if (isLoopbackIPv4(o.advertiseAddress)) {
      // No endpoint may be loopback (and no pod could reach it): the Service is kept, with no endpoints from here.
      o.log.info('advertise address is loopback: the kubernetes service gets no endpoint from this server', { advertiseAddress: o.advertiseAddress });
    }
  }

  /** The first pass (the Service, this server's lease, the endpoints), then one every intervalMs. */
  async start(): Promise<void> {
    await this.pass();
    this.schedule();
  }

  /** Stops renewing, deletes this server's lease and takes its address out of the endpoints (kube's RemoveEndpoints). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
    try {
      await this.o.stores.leases.delete(LEASE_NAMESPACE, this.lease);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
    await this.writeEndpoints(await this.liveEndpoints());
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(this.o.intervalMs ?? 5000, () => {
      this.running = this.pass()
        .catch((err: unknown) => void this.o.log.warn('kubernetes service endpoints not reconciled', { error: String(err) }))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    });
  }

  /** One reconcile: the Service as it must be, this server's lease renewed, the endpoints from the live leases. */
  async pass(): Promise<void> {
    await this.ensureService();
    await this.renewLease();
    await this.writeEndpoints(await this.liveEndpoints());
  }

  private async ensureService(): Promise<void> {
    const want = kubernetesService(nthIPv4(this.o.serviceCidr, 1), this.o.securePort);
    await this.o.stores.services.update(
      KUBERNETES_NAMESPACE,
      KUBERNETES_SERVICE,
      (cur) => {
        if (!cur) return want;
        // Only the port is ours to correct (kube's reconciler updates the ports and type); the rest is the user's.
        const spec = { ...(cur.spec as Record<string, unknown>) };
        spec.ports = (want.spec as { ports: unknown }).ports;
        spec.type = 'ClusterIP';
        return { ...cur, spec };
      },
      { allowCreate: true, fieldManager: FIELD_MANAGER },
    );
  }

  private async renewLease(): Promise<void> {
    const now = microTime(this.clock.now());
    const lease = (current: Obj | undefined): Obj => {
      const cur = current as LeaseObj | undefined;
      return {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          ...(cur?.metadata ?? { name: this.lease, namespace: LEASE_NAMESPACE }),
          labels: { ...cur?.metadata.labels, [IDENTITY_LABEL]: IDENTITY_VALUE, 'kubernetes.io/hostname': this.host },
          annotations: { ...cur?.metadata.annotations, [ENDPOINT_ANNOTATION]: this.endpoint },
        },
        spec: {
          holderIdentity: this.holder,
          leaseDurationSeconds: this.o.leaseDurationSeconds ?? 15,
          renewTime: now,
          acquireTime: cur?.spec?.holderIdentity === this.holder ? (cur.spec.acquireTime ?? now) : now,
        },
      };
    };
    await this.o.stores.leases.update(LEASE_NAMESPACE, this.lease, lease, { allowCreate: true, fieldManager: FIELD_MANAGER });
  }

  /** The IP:PORT of every server whose lease is live (this one's unless stopping); leases dead an hour are deleted. */
  private async liveEndpoints(): Promise<string[]> {
    const now = this.clock.now();
    const live = new Set<string>();
    const { items } = await this.o.stores.leases.list(LEASE_NAMESPACE, { labelSelector: `${IDENTITY_LABEL}=${IDENTITY_VALUE}` });
    for (const l of items as LeaseObj[]) {
      const renewed = Date.parse(l.spec?.renewTime ?? '');
      const expires = renewed + (l.spec?.leaseDurationSeconds ?? 0) * 1000;
      const endpoint = l.metadata.annotations?.[ENDPOINT_ANNOTATION];
      if (this.stopped && l.metadata.name === this.lease) continue;
      if (Number.isFinite(renewed) && expires > now) {
        if (endpoint) live.add(endpoint);
      } else if (!Number.isFinite(renewed) || now - expires > GC_AFTER_MS) {
        await this.o.stores.leases.delete(LEASE_NAMESPACE, l.metadata.name ?? '').catch((err: unknown) => {
          // Another server deleted it first: what this wanted.
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        });
      }
    }
    return [...live].sort();
  }

  /**
   * Endpoints and the EndpointSlice `kubernetes`: the live servers that serve on this server's port (kube assumes one
   * port for all servers), loopback addresses left out.
   */
  private async writeEndpoints(live: string[]): Promise<void> {
    const port = this.o.securePort;
    const ips = live
      .map((e) => ({ ip: e.slice(0, e.lastIndexOf(':')), port: Number(e.slice(e.lastIndexOf(':') + 1)) }))
      .filter((e) => e.port === port && !isLoopbackIPv4(e.ip))
      .map((e) => e.ip);
    const ports = [{ name: 'https', port, protocol: 'TCP' }];
    const endpoints: Obj = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: KUBERNETES_SERVICE, namespace: KUBERNETES_NAMESPACE, labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      ...(ips.length ? { subsets: [{ addresses: ips.map((ip) => ({ ip })), ports }] } : {}),
    };
    const slice: Obj = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: KUBERNETES_SERVICE, namespace: KUBERNETES_NAMESPACE, labels: { 'kubernetes.io/service-name': KUBERNETES_SERVICE } },
      addressType: 'IPv4',
      endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false } })),
      ports,
    };
    for (const [store, want] of [[this.o.stores.endpoints, endpoints], [this.o.stores.endpointSlices, slice]] as const) {
      await store.update(KUBERNETES_NAMESPACE, KUBERNETES_SERVICE, (cur) => (cur ? { ...want, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, ...want.metadata.labels } } } : want), {
        allowCreate: true,
        fieldManager: FIELD_MANAGER,
      });
    }
  }
}
