// HorizontalPodAutoscaler between autoscaling/v2 (stored) and autoscaling/v1, as kube converts it
// (pkg/apis/autoscaling/v1/conversion.go): v1 has only the CPU utilization target; every other metric, the behavior,
// the current metrics and the conditions ride along in annotations, so that an object read and written back in v1
// loses nothing.
import type { LabelSelector } from './schemas/meta.js';
import {
  HPA_V1_ANNOTATIONS as A,
  type CrossVersionObjectReference,
  type HorizontalPodAutoscaler,
  type HorizontalPodAutoscalerBehavior,
  type HorizontalPodAutoscalerCondition,
  type HorizontalPodAutoscalerV1,
  type MetricSpec,
  type MetricStatus,
  type MetricTarget,
} from './schemas/autoscaling.js';
import type { Quantity } from './schemas/kit.js';

/** autoscaling/v1's MetricSpec (the v2beta1 shape), as the metrics annotation holds it. */
interface MetricSpecV1 {
  type: string;
  resource?: { name: string; targetAverageUtilization?: number; targetAverageValue?: Quantity };
  containerResource?: { name: string; container: string; targetAverageUtilization?: number; targetAverageValue?: Quantity };
  pods?: { metricName: string; targetAverageValue: Quantity; selector?: LabelSelector };
  object?: { target: CrossVersionObjectReference; metricName: string; targetValue: Quantity; selector?: LabelSelector; averageValue?: Quantity };
  external?: { metricName: string; metricSelector?: LabelSelector; targetValue?: Quantity; targetAverageValue?: Quantity };
}

/** autoscaling/v1's MetricStatus, as the current-metrics annotation holds it. */
interface MetricStatusV1 {
  type: string;
  resource?: { name: string; currentAverageUtilization?: number; currentAverageValue: Quantity };
  containerResource?: { name: string; container: string; currentAverageUtilization?: number; currentAverageValue: Quantity };
  pods?: { metricName: string; currentAverageValue: Quantity; selector?: LabelSelector };
  object?: { target: CrossVersionObjectReference; metricName: string; currentValue: Quantity; selector?: LabelSelector; averageValue?: Quantity };
  external?: { metricName: string; metricSelector?: LabelSelector; currentValue: Quantity; currentAverageValue?: Quantity };
}

const opt = <K extends string, V>(key: K, v: V | undefined): Partial<Record<K, V>> => (v === undefined ? {} : ({ [key]: v } as Record<K, V>));
const isCpuUtilization = (m: MetricSpec): boolean => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.averageUtilization !== undefined;

/** A Resource-like target in v1's words: a utilization or an average value. */
function resourceTargetToV1(t: MetricTarget): { targetAverageUtilization?: number; targetAverageValue?: Quantity } {
  return { ...opt('targetAverageUtilization', t.averageUtilization), ...opt('targetAverageValue', t.averageValue) };
}

function resourceTargetToV2(t: { targetAverageUtilization?: number; targetAverageValue?: Quantity }): MetricTarget {
  if (t.targetAverageUtilization !== undefined) return { type: 'Utilization', averageUtilization: t.targetAverageUtilization };
  return { type: 'AverageValue', ...opt('averageValue', t.targetAverageValue) };
}

function metricSpecToV1(m: MetricSpec): MetricSpecV1 {
  const out: MetricSpecV1 = { type: m.type };
  if (m.resource) out.resource = { name: m.resource.name, ...resourceTargetToV1(m.resource.target) };
  if (m.containerResource) out.containerResource = { name: m.containerResource.name, container: m.containerResource.container, ...resourceTargetToV1(m.containerResource.target) };
  if (m.pods) out.pods = { metricName: m.pods.metric.name, targetAverageValue: m.pods.target.averageValue ?? 0, ...opt('selector', m.pods.metric.selector) };
  if (m.object) {
    const o = m.object;
    out.object = { target: o.describedObject, metricName: o.metric.name, targetValue: o.target.value ?? 0, ...opt('selector', o.metric.selector), ...opt('averageValue', o.target.averageValue) };
  }
  if (m.external) {
    const e = m.external;
    out.external = { metricName: e.metric.name, ...opt('metricSelector', e.metric.selector), ...opt('targetValue', e.target.value), ...opt('targetAverageValue', e.target.averageValue) };
  }
  return out;
}

function metricSpecToV2(m: MetricSpecV1): MetricSpec {
  const out: MetricSpec = { type: m.type };
  if (m.resource) out.resource = { name: m.resource.name, target: resourceTargetToV2(m.resource) };
  if (m.containerResource) out.containerResource = { name: m.containerResource.name, container: m.containerResource.container, target: resourceTargetToV2(m.containerResource) };
  if (m.pods) out.pods = { metric: { name: m.pods.metricName, ...opt('selector', m.pods.selector) }, target: { type: 'AverageValue', averageValue: m.pods.targetAverageValue } };
  if (m.object) {
    const o = m.object;
    const type = o.averageValue === undefined ? 'Value' : 'AverageValue';
    out.object = { describedObject: o.target, metric: { name: o.metricName, ...opt('selector', o.selector) }, target: { type, value: o.targetValue, ...opt('averageValue', o.averageValue) } };
  }
  if (m.external) {
    const e = m.external;
    const type = e.targetValue !== undefined ? 'Value' : 'AverageValue';
    out.external = { metric: { name: e.metricName, ...opt('selector', e.metricSelector) }, target: { type, ...opt('value', e.targetValue), ...opt('averageValue', e.targetAverageValue) } };
  }
  return out;
}

function metricStatusToV1(m: MetricStatus): MetricStatusV1 {
  const out: MetricStatusV1 = { type: m.type };
  const avg = (c: { averageUtilization?: number; averageValue?: Quantity }) => ({ ...opt('currentAverageUtilization', c.averageUtilization), currentAverageValue: c.averageValue ?? 0 });
  if (m.resource) out.resource = { name: m.resource.name, ...avg(m.resource.current) };
  if (m.containerResource) out.containerResource = { name: m.containerResource.name, container: m.containerResource.container, ...avg(m.containerResource.current) };
  if (m.pods) out.pods = { metricName: m.pods.metric.name, currentAverageValue: m.pods.current.averageValue ?? 0, ...opt('selector', m.pods.metric.selector) };
  if (m.object) {
    const o = m.object;
    out.object = { target: o.describedObject, metricName: o.metric.name, currentValue: o.current.value ?? 0, ...opt('selector', o.metric.selector), ...opt('averageValue', o.current.averageValue) };
  }
  if (m.external) {
    const e = m.external;
    out.external = { metricName: e.metric.name, ...opt('metricSelector', e.metric.selector), currentValue: e.current.value ?? 0, ...opt('currentAverageValue', e.current.averageValue) };
  }
  return out;
}

function metricStatusToV2(m: MetricStatusV1): MetricStatus {
  const out: MetricStatus = { type: m.type };
  const cur = (c: { currentAverageUtilization?: number; currentAverageValue: Quantity }) => ({ ...opt('averageUtilization', c.currentAverageUtilization), averageValue: c.currentAverageValue });
  if (m.resource) out.resource = { name: m.resource.name, current: cur(m.resource) };
  if (m.containerResource) out.containerResource = { name: m.containerResource.name, container: m.containerResource.container, current: cur(m.containerResource) };
  if (m.pods) out.pods = { metric: { name: m.pods.metricName, ...opt('selector', m.pods.selector) }, current: { averageValue: m.pods.currentAverageValue } };
  if (m.object) {
    const o = m.object;
    out.object = { describedObject: o.target, metric: { name: o.metricName, ...opt('selector', o.selector) }, current: { value: o.currentValue, ...opt('averageValue', o.averageValue) } };
  }
  if (m.external) {
    const e = m.external;
    out.external = { metric: { name: e.metricName, ...opt('selector', e.metricSelector) }, current: { value: e.currentValue, ...opt('averageValue', e.currentAverageValue) } };
  }
  return out;
}

/** The annotations without the round-trip ones (a client's own copies must never override what conversion made). */
function withoutRoundTrip(annotations: Record<string, string> | undefined): Record<string, string> {
  const out = { ...(annotations ?? {}) };
  for (const k of Object.values(A)) delete out[k];
  return out;
}

/** autoscaling/v2 -> autoscaling/v1: the CPU utilization target in place, everything else in annotations. */
export function hpaToV1(hpa: HorizontalPodAutoscaler): HorizontalPodAutoscalerV1 {
  // Converted before validation: a hostile object may lack its spec.
  const spec = hpa.spec as HorizontalPodAutoscaler['spec'] | undefined;
  const status = hpa.status;
  const annotations = withoutRoundTrip(hpa.metadata?.annotations);
  const metrics = spec?.metrics ?? [];
  const others = metrics.filter((m) => !isCpuUtilization(m)).map(metricSpecToV1);
  if (others.length) annotations[A.metrics] = JSON.stringify(others);
  if (status?.currentMetrics?.length) annotations[A.currentMetrics] = JSON.stringify(status.currentMetrics.map(metricStatusToV1));
  if (spec?.behavior) annotations[A.behavior] = JSON.stringify(spec.behavior);
  if (status?.conditions?.length) annotations[A.conditions] = JSON.stringify(status.conditions);
  const cpu = metrics.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
  const cpuNow = status?.currentMetrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')?.resource?.current.averageUtilization;
  const { annotations: _a, ...meta } = hpa.metadata ?? {};
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { ...meta, ...(Object.keys(annotations).length ? { annotations } : {}) },
    ...(spec
      ? {
          spec: {
            scaleTargetRef: spec.scaleTargetRef,
            ...opt('minReplicas', spec.minReplicas),
            maxReplicas: spec.maxReplicas,
            ...opt('targetCPUUtilizationPercentage', cpu?.resource?.target.averageUtilization),
          },
        }
      : {}),
    ...(status
      ? {
          status: {
            ...opt('observedGeneration', status.observedGeneration),
            ...opt('lastScaleTime', status.lastScaleTime),
            currentReplicas: status.currentReplicas ?? 0,
            desiredReplicas: status.desiredReplicas,
            ...opt('currentCPUUtilizationPercentage', cpuNow),
          },
        }
      : {}),
  } as HorizontalPodAutoscalerV1;
}

/** JSON of a round-trip annotation; a value that does not parse is ignored, as if absent. */
function parsed<T>(annotations: Record<string, string> | undefined, key: string): T | undefined {
  const text = annotations?.[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined; // a client's garbage in our annotation: nothing to restore from it
  }
}

/** autoscaling/v1 -> autoscaling/v2: the CPU target as a metric, the annotations back into spec and status. */
export function hpaToV2(hpa: HorizontalPodAutoscalerV1): HorizontalPodAutoscaler {
  const src = hpa.metadata?.annotations;
  const spec = hpa.spec as HorizontalPodAutoscalerV1['spec'] | undefined;
  const status = hpa.status;
  const metrics: MetricSpec[] = (parsed<MetricSpecV1[]>(src, A.metrics) ?? []).map(metricSpecToV2);
  if (spec?.targetCPUUtilizationPercentage !== undefined) metrics.push({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: spec.targetCPUUtilizationPercentage } } });
  const behavior = parsed<HorizontalPodAutoscalerBehavior>(src, A.behavior);
  const currentMetrics = parsed<MetricStatusV1[]>(src, A.currentMetrics)?.map(metricStatusToV2) ??
    (status?.currentCPUUtilizationPercentage !== undefined ? [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: status.currentCPUUtilizationPercentage } } }] : undefined);
  const conditions = parsed<HorizontalPodAutoscalerCondition[]>(src, A.conditions);
  const annotations = withoutRoundTrip(src);
  const { annotations: _a, ...meta } = hpa.metadata ?? {};
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { ...meta, ...(Object.keys(annotations).length ? { annotations } : {}) },
    ...(spec
      ? { spec: { scaleTargetRef: spec.scaleTargetRef, ...opt('minReplicas', spec.minReplicas), maxReplicas: spec.maxReplicas, ...(metrics.length ? { metrics } : {}), ...opt('behavior', behavior) } }
      : {}),
    ...(status
      ? {
          status: {
            ...opt('observedGeneration', status.observedGeneration),
            ...opt('lastScaleTime', status.lastScaleTime),
            currentReplicas: status.currentReplicas,
            desiredReplicas: status.desiredReplicas,
            ...opt('currentMetrics', currentMetrics),
            ...opt('conditions', conditions),
          },
        }
      : {}),
  } as HorizontalPodAutoscaler;
}
