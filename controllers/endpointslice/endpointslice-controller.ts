// The EndpointSlice controller (pkg/controller/endpointslice): keeps each selector Service's EndpointSlices in step
// with the pods it selects. A pod change enqueues only the services whose selectors match it (label indexes), and a
// sync reads only that service's pods and slices; slices that do not change are not written.
import { isNotFound } from '../../api/errors.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, ensureIndex, isNamespaceTerminating, type ControllerContext, type SyncContext } from '../framework/controller.js';
import { enqueueServicesOfPods, indexServicesAndPods, podsForService, TriggerTimeTracker } from '../framework/service-pods.js';
import { ENDPOINTSLICES, NODES, PODS, SERVICES, type EndpointSlice, type Node, type Pod, type Service } from '../framework/types.js';
import { LABEL_MANAGED_BY } from '../../api/schemas/discovery.js';
import { CONTROLLER_NAME, DEFAULT_MAX_ENDPOINTS_PER_SLICE, reconcileSlices } from './reconciler.js';
import { EndpointSliceTracker, serviceKeyOf } from './tracker.js';

export interface EndpointSliceControllerOptions {
  /** --concurrent-service-endpoint-syncs (default 5). */
  workers?: number;
  /** --max-endpoints-per-slice (default 100). */
  maxEndpointsPerSlice?: number;
}

const SLICE_SERVICE_INDEX = 'endpointslice-service';

const managedByUs = (s: EndpointSlice): boolean => s.metadata.labels?.[LABEL_MANAGED_BY] === CONTROLLER_NAME;


export class EndpointSliceController extends Controller {
  readonly tracker = new EndpointSliceTracker();
  private readonly triggerTimes = new TriggerTimeTracker();
  private readonly services: Informer<Service>;
  private readonly pods: Informer<Pod>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly nodes: Informer<Node>;
  private readonly client: ResourceClient<EndpointSlice>;
  private readonly recorder: EventRecorder;
  private readonly maxEndpointsPerSlice: number;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: EndpointSliceControllerOptions = {}) {
    super({ name: 'endpointslice-controller', clock: ctx.clock, workers: opts.workers ?? 5 });
    this.maxEndpointsPerSlice = opts.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE;
    this.services = ctx.informers.for<Service>(SERVICES);
    this.pods = ctx.informers.for<Pod>(PODS);
    this.slices = ctx.informers.for<EndpointSlice>(ENDPOINTSLICES);
    this.nodes = ctx.informers.for<Node>(NODES);
    this.informers = [this.services, this.pods, this.slices, this.nodes];
    this.client = ctx.rest.resource<EndpointSlice>(ENDPOINTSLICES);
    this.recorder = ctx.recorder(this.name);
    indexServicesAndPods(this.services, this.pods);
    ensureIndex(
      this.slices,
      SLICE_SERVICE_INDEX,
      (s) => {
        const key = serviceKeyOf(s);
        return key ? [key] : [];
      },
      (a, b) => a.metadata.labels === b.metadata.labels,
    );

    this.services.addEventHandler({
      onAdd: (s) => this.enqueue(s),
      onUpdate: (_o, s) => this.enqueue(s),
      onDelete: (s) => this.enqueue(s),
    });
    enqueueServicesOfPods(this.services, this.pods, (s) => this.enqueue(s));
    this.slices.addEventHandler({
      onAdd: (s) => this.sliceChanged(s, managedByUs(s) && this.tracker.shouldSync(s)),
      onUpdate: (old, s) => this.sliceChanged(s, managedByUs(old) !== managedByUs(s) || (managedByUs(s) && this.tracker.shouldSync(s))),
      onDelete: (s) => this.sliceChanged(s, managedByUs(s) && this.tracker.handleDeletion(s)),
    });
  }

  private sliceChanged(slice: EndpointSlice, sync: boolean): void {
    const key = serviceKeyOf(slice);
    if (sync && key) this.queue.add(key);
  }

  protected async sync(key: string, { log }: SyncContext): Promise<void> {
    const svc = this.services.indexer.get(key);
    if (!svc) {
      // Its slices are owned by it: the garbage collector removes them.
      this.tracker.deleteService(key);
      this.triggerTimes.delete(key);
      return;
    }
    if (svc.spec?.type === 'ExternalName' || !svc.spec?.selector) return;
    const existing = this.slices.indexer.byIndex(SLICE_SERVICE_INDEX, key).filter(managedByUs);
    if (this.tracker.stale(key, existing)) throw new Error('EndpointSlice informer cache is out of date');
    const pods = podsForService(this.pods, svc);
    const trigger = this.triggerTimes.compute(svc, pods);
    const plan = reconcileSlices({
      service: svc,
      pods,
      node: (name) => this.nodes.indexer.get(name),
      existing,
      maxEndpointsPerSlice: this.maxEndpointsPerSlice,
      ...(trigger.time ? { triggerTime: trigger.time } : {}),
    });
    await this.write(svc, plan, log);
    trigger.commit();
    if (plan.skippedPods.length) {
      void this.recorder.event(svc, 'Warning', 'FailedToUpdateEndpointSlices', `Error updating Endpoint Slices for Service ${key}: skipping Pods ${plan.skippedPods.join(', ')}: Node not found`);
      throw new Error(`pods on unknown nodes left out: ${plan.skippedPods.join(', ')}`);
    }
  }

  private async write(svc: Service, plan: ReturnType<typeof reconcileSlices>, log: SyncContext['log']): Promise<void> {
    const ns = svc.metadata.namespace;
    for (const s of plan.create) {
      try {
        this.tracker.update(await this.client.create(ns, s));
      } catch (err) {
        if (isNamespaceTerminating(err)) return;
        throw err;
      }
    }
    for (const s of plan.update) this.tracker.update(await this.client.update(s));
    for (const s of plan.delete) {
      // Expected before the call: the watch may deliver the deletion before the call returns.
      this.tracker.expectDeletion(s);
      try {
        await this.client.delete(ns, s.metadata.name ?? '', { preconditions: { uid: s.metadata.uid ?? '' } });
      } catch (err) {
        if (isNotFound(err)) continue;
        this.tracker.update(s);
        throw err;
      }
    }
    const changed = plan.create.length + plan.update.length + plan.delete.length;
    if (changed) log.debug('endpoint slices written', { service: keyOf(svc), created: plan.create.length, updated: plan.update.length, deleted: plan.delete.length });
  }
}
