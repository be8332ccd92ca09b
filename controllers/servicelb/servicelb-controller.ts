// LoadBalancer Services without a cloud (what k3s's ServiceLB does): a LoadBalancer Service with no
// spec.loadBalancerClass gets the InternalIP of every Ready node in status.loadBalancer.ingress, and the node agents'
// service proxy answers on those addresses at the service port. A Service with a class is left to its controller; one
// that is no longer a LoadBalancer has its addresses taken back (as kube's service controller does).
import type { Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { NODES, SERVICES, type Node, type Service } from '../framework/types.js';

export interface ServiceLbControllerOptions {
  workers?: number;
}

const isReady = (n: Node): boolean => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The addresses a LoadBalancer Service is given: each Ready node's InternalIP, sorted. */
export function ingressAddresses(nodes: Node[]): string[] {
  const ips = new Set<string>();
  for (const n of nodes) {
    if (!isReady(n) || n.metadata.deletionTimestamp) continue;
    const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (ip) ips.add(ip);
  }
  return [...ips].sort();
}

/** Whether this controller serves the service: type LoadBalancer and no loadBalancerClass. */
export const servedByServiceLb = (svc: Service): boolean => svc.spec?.type === 'LoadBalancer' && !svc.spec.loadBalancerClass;

export class ServiceLbController extends Controller {
  private readonly services: Informer<Service>;
  private readonly nodes: Informer<Node>;
  private readonly client: ResourceClient<Service>;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: ServiceLbControllerOptions = {}) {
    super({ name: 'servicelb-controller', clock: ctx.clock, workers: opts.workers ?? 1 });
    this.services = ctx.informers.for<Service>(SERVICES);
    this.nodes = ctx.informers.for<Node>(NODES);
    this.informers = [this.services, this.nodes];
    this.client = ctx.rest.resource<Service>(SERVICES);
    this.services.addEventHandler({
      onAdd: (s) => this.serviceChanged(s),
      onUpdate: (_o, s) => this.serviceChanged(s),
    });
    // Node changes are rare: every served service is looked at again.
    const nodesChanged = (): void => {
      for (const s of this.services.indexer.list()) if (servedByServiceLb(s)) this.enqueue(s);
    };
    this.nodes.addEventHandler({
      onAdd: nodesChanged,
      onUpdate: (old, cur) => {
        if (JSON.stringify(ingressAddresses([old])) !== JSON.stringify(ingressAddresses([cur]))) nodesChanged();
      },
      onDelete: nodesChanged,
    });
  }

  private serviceChanged(svc: Service): void {
    const stale = svc.spec?.type !== 'LoadBalancer' && (svc.status?.loadBalancer?.ingress ?? []).length > 0;
    if (servedByServiceLb(svc) || stale) this.enqueue(svc);
  }

  protected async sync(key: string, { log }: SyncContext): Promise<void> {
    const svc = this.services.indexer.get(key);
    if (!svc) return;
    const serve = servedByServiceLb(svc);
    // A LoadBalancer with a class is served by its own controller.
    if (!serve && svc.spec?.type === 'LoadBalancer') return;
    const want = serve ? ingressAddresses(this.nodes.indexer.list()) : [];
    const have = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '');
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      const status = { ...(svc.status ?? {}), loadBalancer: want.length ? { ingress: want.map((ip) => ({ ip })) } : {} };
      await this.client.updateStatus({ ...svc, status });
      log.info('load balancer addresses written', { service: key, ingress: want });
    }
  }
}
