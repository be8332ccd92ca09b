// The Endpoints controller (pkg/controller/endpoint): writes a core/v1 Endpoints object, named as the service, for
// each Service with a selector (clients that predate EndpointSlices still read it). A pod change enqueues only the
// services that select it; an Endpoints that would not change is not written.
import { HEADLESS_SERVICE_LABEL, LAST_CHANGE_TRIGGER_TIME_ANNOTATION, OVER_CAPACITY_ANNOTATION } from '../../api/annotations.js';
import { isNotFound } from '../../api/errors.js';
import { splitKey, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, isNamespaceTerminating, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { enqueueServicesOfPods, indexServicesAndPods, isServiceIPSet, podsForService, TriggerTimeTracker } from '../framework/service-pods.js';
import { ENDPOINTS, PODS, SERVICES, type Endpoints, type Pod, type Service } from '../framework/types.js';
import { endpointSubsets, subsetsEqual } from './subsets.js';

export interface EndpointsControllerOptions {
  /** --concurrent-endpoint-syncs (default 5). */
  workers?: number;
}

const sameMap = (a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean =>
  JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b ?? {}).sort());

export class EndpointsController extends Controller {
  private readonly triggerTimes = new TriggerTimeTracker();
  private readonly services: Informer<Service>;
  private readonly pods: Informer<Pod>;
  private readonly endpoints: Informer<Endpoints>;
  private readonly client: ResourceClient<Endpoints>;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: EndpointsControllerOptions = {}) {
    super({ name: 'endpoint-controller', clock: ctx.clock, workers: opts.workers ?? 5 });
    this.services = ctx.informers.for<Service>(SERVICES);
    this.pods = ctx.informers.for<Pod>(PODS);
    this.endpoints = ctx.informers.for<Endpoints>(ENDPOINTS);
    this.informers = [this.services, this.pods, this.endpoints];
    this.client = ctx.rest.resource<Endpoints>(ENDPOINTS);
    indexServicesAndPods(this.services, this.pods);
    this.services.addEventHandler({
      onAdd: (s) => this.enqueue(s),
      onUpdate: (_o, s) => this.enqueue(s),
      onDelete: (s) => this.enqueue(s),
    });
    enqueueServicesOfPods(this.services, this.pods, (s) => this.enqueue(s));
    // An Endpoints deleted by someone else is put back.
    this.endpoints.addEventHandler({ onDelete: (ep) => this.enqueue(ep) });
  }

  protected async sync(key: string, { log }: SyncContext): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.indexer.get(key);
    if (!svc) {
      this.triggerTimes.delete(key);
      // Endpoints of a service that is gone go with it (they carry no owner reference).
      if (this.endpoints.indexer.get(key)) await this.client.delete(namespace, name).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      return;
    }
    if (svc.spec?.type === 'ExternalName' || !svc.spec?.selector) return;
    const pods = podsForService(this.pods, svc);
    const { subsets, truncated } = endpointSubsets(svc, pods);
    const trigger = this.triggerTimes.compute(svc, pods);
    const triggerTime = trigger.time;
    const current = this.endpoints.indexer.get(key);
    const labels = { ...(svc.metadata.labels ?? {}) };
    if (isServiceIPSet(svc)) delete labels[HEADLESS_SERVICE_LABEL];
    else labels[HEADLESS_SERVICE_LABEL] = '';
    const wasTruncated = current?.metadata.annotations?.[OVER_CAPACITY_ANNOTATION] === 'truncated';
    if (current && subsetsEqual(current.subsets, subsets) && sameMap(current.metadata.labels, labels) && wasTruncated === truncated) return trigger.commit();

    const annotations = { ...(current?.metadata.annotations ?? {}) };
    if (triggerTime) annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = triggerTime;
    else delete annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION];
    if (truncated) annotations[OVER_CAPACITY_ANNOTATION] = 'truncated';
    else delete annotations[OVER_CAPACITY_ANNOTATION];
    const next: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { ...(current?.metadata ?? { name, namespace }), labels, annotations },
      subsets,
    };
    if (current) await this.client.update(next);
    else {
      try {
        await this.client.create(namespace, next);
      } catch (err) {
        if (isNamespaceTerminating(err)) return;
        throw err;
      }
    }
    trigger.commit();
    log.debug('endpoints written', { service: key, subsets: subsets.length, created: !current });
  }
}
