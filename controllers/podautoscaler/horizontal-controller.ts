// The horizontal pod autoscaler (pkg/controller/podautoscaler/horizontal.go): every sync period each HPA reads its
// target's /scale, computes a replica count per Resource (or ContainerResource) metric from metrics.k8s.io, takes the
// highest, normalizes it (stabilization, bounds, rate limits) and writes the scale, with kube's AbleToScale,
// ScalingActive and ScalingLimited conditions, its events and status. Pods, Object and External metrics need custom
// and external metrics APIs that this cluster does not serve: they are reported as invalid metrics, as kube does when
// those APIs are missing.
import { RESOURCES, type ResourceInfo } from '../../api/resources.js';
import { parseLabelSelector, matchesLabelSelector } from '../../api/selectors.js';
import { cpuMillis } from '../../api/quantity.js';
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, MetricSpec, MetricStatus, MetricTarget } from '../../api/schemas/autoscaling.js';
import type { Scale } from '../../api/schemas/subresources.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient, RestClient } from '../../client/rest.js';
import { HORIZONTALPODAUTOSCALERS } from '../../client/resources.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { rfc3339 } from '../framework/pods.js';
import { PODS, type Pod } from '../framework/types.js';
import { MetricsApiSource, type ResourceMetricsSource } from './metrics.js';
import { Normalizer } from './normalize.js';
import { DEFAULT_CALCULATOR_OPTIONS, resourceReplicas, type CalculatorOptions } from './replica-calculator.js';

export interface HorizontalOptions extends Partial<CalculatorOptions> {
  workers?: number;
  /** --horizontal-pod-autoscaler-sync-period (default 15 s). */
  syncPeriodMs?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (default 5 min). */
  downscaleStabilizationMs?: number;
  /** Where pod usage comes from; default metrics.k8s.io on this cluster. */
  metrics?: ResourceMetricsSource;
}

type Hpa = HorizontalPodAutoscaler;
type Status = NonNullable<Hpa['status']>;
type CondType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';

/** A metric failed: the condition it sets (kube's invalidMetricCondition) and its error. */
class MetricError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface MetricProposal {
  replicas: number;
  name: string;
}

/** milli-units as a canonical decimal Quantity (resource.NewMilliQuantity(v, DecimalSI).String()). */
export function milliQuantity(milli: number): string {
  const v = Math.trunc(milli);
  if (v % 1000 !== 0) return `${v}m`;
  let n = v / 1000;
  const suffixes = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  while (n !== 0 && n % 1000 === 0 && i < suffixes.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n}${suffixes[i]}`;
}

export class HorizontalController extends Controller {
  private readonly hpaInformer: Informer<Hpa>;
  private readonly podInformer: Informer<Pod>;
  private readonly hpas: ResourceClient<Hpa>;
  private readonly rest: RestClient;
  private readonly recorder: EventRecorder;
  private readonly metrics: ResourceMetricsSource;
  private readonly normalizer: Normalizer;
  private readonly calc: CalculatorOptions;
  private readonly syncPeriodMs: number;
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: HorizontalOptions = {}) {
    super({ name: 'horizontal-pod-autoscaler', clock: ctx.clock, workers: opts.workers ?? 5 });
    this.hpaInformer = ctx.informers.for<Hpa>(HORIZONTALPODAUTOSCALERS);
    this.podInformer = ctx.informers.for<Pod>(PODS);
    this.informers = [this.hpaInformer, this.podInformer];
    this.hpas = ctx.rest.resource<Hpa>(HORIZONTALPODAUTOSCALERS);
    this.rest = ctx.rest;
    this.recorder = ctx.recorder(this.name);
    this.metrics = opts.metrics ?? new MetricsApiSource(ctx.rest);
    this.normalizer = new Normalizer(opts.downscaleStabilizationMs ?? 5 * 60_000);
    this.calc = { ...DEFAULT_CALCULATOR_OPTIONS, ...Object.fromEntries(Object.entries(opts).filter(([k, v]) => k in DEFAULT_CALCULATOR_OPTIONS && v !== undefined)) };
    this.syncPeriodMs = opts.syncPeriodMs ?? 15_000;
    // As kube's fixed-interval queue: an HPA added or changed is reconciled a sync period later (an earlier pass
    // already waiting stays), so that its own status writes never make it run more often.
    const later = (hpa: Hpa): void => this.enqueueAfter(hpa, this.syncPeriodMs);
    this.hpaInformer.addEventHandler({ onAdd: later, onUpdate: (_old, hpa) => later(hpa), onDelete: (hpa) => this.normalizer.forget(keyOf(hpa)) });
  }

  protected async sync(key: string, { log }: SyncContext): Promise<SyncResult | void> {
    const cached = this.hpaInformer.indexer.get(key);
    if (!cached || cached.metadata.deletionTimestamp) return;
    const hpa: Hpa = structuredClone(cached);
    const original = JSON.stringify(cached.status ?? {});
    try {
      await this.reconcile(key, hpa);
    } catch (err) {
      log.info('hpa reconcile failed', { error: err instanceof Error ? err.message : String(err) });
    }
    if (JSON.stringify(hpa.status ?? {}) !== original) await this.hpas.updateStatus({ ...hpa, apiVersion: HORIZONTALPODAUTOSCALERS.apiVersion, kind: HORIZONTALPODAUTOSCALERS.kind });
    // Level-based and periodic, as kube's fixed-interval queue: the metrics move without any object changing.
    return { requeueAfterMs: this.syncPeriodMs };
  }

  private setCondition(hpa: Hpa, type: CondType, status: 'True' | 'False', reason: string, message: string): void {
    const st = (hpa.status ??= { desiredReplicas: 0 });
    const conds = st.conditions ?? [];
    const old = conds.find((c) => c.type === type);
    const now = rfc3339(this.clock.now());
    const next: HorizontalPodAutoscalerCondition = { type, status, lastTransitionTime: old && old.status === status ? (old.lastTransitionTime ?? now) : now, reason, message };
    st.conditions = old ? conds.map((c) => (c.type === type ? next : c)) : [...conds, next];
  }

  private setStatus(hpa: Hpa, current: number, desired: number, metrics: MetricStatus[] | undefined, rescaled: boolean): void {
    const st: Status = { ...(hpa.status ?? { desiredReplicas: 0 }), currentReplicas: current, desiredReplicas: desired, observedGeneration: hpa.metadata.generation ?? 0 };
    if (metrics?.length) st.currentMetrics = metrics;
    else delete st.currentMetrics;
    if (rescaled) st.lastScaleTime = rfc3339(this.clock.now());
    hpa.status = st;
  }

  /** The target's REST resource, from its apiVersion's group and kind (the version is the one served). */
  private targetOf(hpa: Hpa): ResourceInfo | undefined {
    const ref = hpa.spec.scaleTargetRef;
    const group = (ref.apiVersion ?? '').includes('/') ? (ref.apiVersion ?? '').split('/')[0] : '';
    return RESOURCES.find((r) => r.group === group && r.kind === ref.kind && r.subresources.includes('scale'));
  }

  private scalePath(info: ResourceInfo, namespace: string, name: string): string {
    const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${info.resource}/${encodeURIComponent(name)}/scale`;
  }

  private async reconcile(key: string, hpa: Hpa): Promise<void> {
    const ns = hpa.metadata.namespace ?? '';
    const ref = hpa.spec.scaleTargetRef;
    const reference = `${ref.kind}/${ref.name}`;
    const info = this.targetOf(hpa);
    let scale: Scale;
    try {
      if (!info) throw new Error(`no matches for kind "${ref.kind}" in group "${(ref.apiVersion ?? '').split('/')[0] ?? ''}"`);
      scale = await this.rest.request<Scale>('GET', this.scalePath(info, ns, ref.name));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.setCondition(hpa, 'AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${msg}`);
      void this.recorder.event(hpa, 'Warning', 'FailedGetScale', msg);
      this.setStatus(hpa, hpa.status?.currentReplicas ?? 0, hpa.status?.desiredReplicas ?? 0, hpa.status?.currentMetrics, false);
      throw new Error(`failed to query scale subresource for ${reference}: ${msg}`);
    }
    this.setCondition(hpa, 'AbleToScale', 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale");
    const current = scale.spec?.replicas ?? 0;
    const min = hpa.spec.minReplicas ?? 1;
    const max = hpa.spec.maxReplicas;
    let desired = 0;
    let reason = '';
    let statuses: MetricStatus[] | undefined;
    let rescale = true;
    if (current === 0 && min !== 0) {
      rescale = false;
      this.setCondition(hpa, 'ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
    } else if (current > max) [desired, reason] = [max, 'Current number of replicas above Spec.MaxReplicas'];
    else if (current < min) [desired, reason] = [min, 'Current number of replicas below Spec.MinReplicas'];
    else {
      const computed = await this.computeReplicas(hpa, scale, current);
      statuses = computed.statuses;
      if (computed.error && computed.replicas === -1) {
        this.setStatus(hpa, current, hpa.status?.desiredReplicas ?? 0, statuses, false);
        void this.recorder.event(hpa, 'Warning', 'FailedComputeMetricsReplicas', computed.error);
        throw new Error(`failed to compute desired number of replicas based on listed metrics for ${reference}: ${computed.error}`);
      }
      desired = computed.replicas;
      if (desired > current) reason = `${computed.name} above target`;
      if (desired < current) reason = 'All metrics below target';
      const bounds = { key, current, proposed: desired, min, max };
      const now = this.clock.now();
      const n = hpa.spec.behavior ? this.normalizer.normalizeWithBehavior(bounds, hpa.spec.behavior, now) : this.normalizer.normalize(bounds, now);
      this.setCondition(hpa, 'AbleToScale', 'True', n.stabilization.reason, n.stabilization.message);
      this.setCondition(hpa, 'ScalingLimited', n.limited ? 'True' : 'False', n.limit.reason, n.limit.message);
      desired = n.replicas;
      rescale = desired !== current;
    }
    if (rescale) await this.rescale(key, hpa, scale, info!, current, desired, reason, statuses);
    else this.setStatus(hpa, current, current === 0 && min !== 0 ? 0 : current, statuses, false);
  }

  private async rescale(key: string, hpa: Hpa, scale: Scale, info: ResourceInfo, current: number, desired: number, reason: string, statuses: MetricStatus[] | undefined): Promise<void> {
    const ns = hpa.metadata.namespace ?? '';
    try {
      await this.rest.request('PUT', this.scalePath(info, ns, hpa.spec.scaleTargetRef.name), { body: { ...scale, spec: { ...(scale.spec ?? {}), replicas: desired } } });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      void this.recorder.event(hpa, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${reason}; error: ${msg}`);
      this.setCondition(hpa, 'AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${msg}`);
      this.setStatus(hpa, current, hpa.status?.desiredReplicas ?? 0, statuses, false);
      throw new Error(`failed to rescale ${hpa.spec.scaleTargetRef.kind}/${hpa.spec.scaleTargetRef.name}: ${msg}`);
    }
    this.setCondition(hpa, 'AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
    void this.recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${reason}`);
    this.normalizer.recordScale(key, hpa.spec.behavior, current, desired, this.clock.now());
    this.setStatus(hpa, current, desired, statuses, true);
  }

  /** kube's computeReplicasForMetrics: the highest proposal; -1 with an error when all metrics fail, or some fail and the rest would scale down. */
  private async computeReplicas(hpa: Hpa, scale: Scale, current: number): Promise<{ replicas: number; name: string; statuses: MetricStatus[]; error?: string }> {
    const selector = scale.status?.selector ?? '';
    if (!selector) {
      void this.recorder.event(hpa, 'Warning', 'SelectorRequired', 'selector is required');
      this.setCondition(hpa, 'ScalingActive', 'False', 'InvalidSelector', "the HPA target's scale is missing a selector");
      return { replicas: -1, name: '', statuses: [], error: 'selector is required' };
    }
    const specs = hpa.spec.metrics ?? [];
    const statuses: MetricStatus[] = [];
    let best: MetricProposal = { replicas: 0, name: '' };
    let invalid = 0;
    let first: MetricError | undefined;
    for (const spec of specs) {
      try {
        const p = await this.computeMetric(hpa, spec, selector, current, statuses);
        if (best.replicas === 0 || p.replicas > best.replicas) best = p;
      } catch (err) {
        const e = err instanceof MetricError ? err : new MetricError('FailedGetResourceMetric', err instanceof Error ? err.message : String(err));
        first ??= e;
        invalid++;
        statuses.push({ type: '' });
      }
    }
    const error = first ? `invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${first.message}` : undefined;
    if (first && (invalid >= specs.length || best.replicas < current)) {
      this.setCondition(hpa, 'ScalingActive', 'False', first.reason, `the HPA was unable to compute the replica count: ${first.message}`);
      return { replicas: -1, name: '', statuses, ...(error ? { error } : {}) };
    }
    this.setCondition(hpa, 'ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${best.name}`);
    return { ...best, statuses, ...(error ? { error } : {}) };
  }

  /** One metric's proposal; its status appended to statuses. */
  private async computeMetric(hpa: Hpa, spec: MetricSpec, selector: string, current: number, statuses: MetricStatus[]): Promise<MetricProposal> {
    const src: { name: string; target: MetricTarget; container?: string } | undefined =
      spec.type === 'Resource' ? spec.resource : spec.type === 'ContainerResource' ? spec.containerResource : undefined;
    if (!src) {
      const reason = spec.type === 'Pods' ? 'FailedGetPodsMetric' : spec.type === 'Object' ? 'FailedGetObjectMetric' : spec.type === 'External' ? 'FailedGetExternalMetric' : 'InvalidMetricSourceType';
      const msg = reason === 'InvalidMetricSourceType' ? `unknown metric source type "${spec.type}"` : `unable to get metric: no ${spec.type === 'External' ? 'external' : 'custom'} metrics API (*.metrics.k8s.io) is served`;
      void this.recorder.event(hpa, 'Warning', reason, msg);
      throw new MetricError(reason, msg);
    }
    const container = src.container;
    const ns = hpa.metadata.namespace ?? '';
    const target = src.target;
    const utilization = target.averageUtilization;
    if (utilization === undefined && target.averageValue === undefined) throw new MetricError('FailedGetResourceMetric', 'invalid resource metric source: neither a utilization target nor a value target was set');
    const reasonFailed = container ? 'FailedGetContainerResourceMetric' : 'FailedGetResourceMetric';
    try {
      const sel = parseLabelSelector(selector);
      const pods = this.podInformer.indexer.byIndex('namespace', ns).filter((p) => matchesLabelSelector(sel, p.metadata.labels ?? {}));
      let metrics;
      try {
        metrics = await this.metrics.podMetrics(ns, selector, src.name, container);
      } catch (err) {
        throw new Error(`unable to get metrics for resource ${src.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const rt = { resource: src.name, ...(container ? { container } : {}), ...(utilization !== undefined ? { utilization } : { averageValue: cpuMillis(target.averageValue!) }) };
      const p = resourceReplicas(current, rt, pods, metrics, this.calc, this.clock.now());
      const currentValue = { averageValue: milliQuantity(p.rawAverage), ...(utilization !== undefined ? { averageUtilization: p.utilization ?? 0 } : {}) };
      statuses.push(container ? { type: 'ContainerResource', containerResource: { name: src.name, container, current: currentValue } } : { type: 'Resource', resource: { name: src.name, current: currentValue } });
      const what = container ? `${src.name} container resource` : `${src.name} resource`;
      return { replicas: p.replicas, name: utilization !== undefined ? `${what} utilization (percentage of request)` : what };
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      void this.recorder.event(hpa, 'Warning', reasonFailed, msg);
      throw new MetricError(reasonFailed, msg);
    }
  }
}
