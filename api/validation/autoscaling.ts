// Rules for autoscaling/v2 HorizontalPodAutoscaler (pkg/apis/autoscaling/validation), with kube's field paths and
// wording. A v1 object is converted to v2 before it is validated, as kube validates the internal version.
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, HPAScalingRules, MetricSpec, MetricTarget } from '../schemas/autoscaling.js';
import { child, forbidden, index, invalid, nonNegative, notSupported, required, type Cause } from '../field.js';
import { isValidPathSegmentName, nameIsDNSSubdomain } from '../names.js';
import { compareQuantities } from '../quantity.js';
import { validateLabelSelector } from './meta.js';
import { rules } from './rules.js';

const SOURCE_TYPES = ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'] as const;
/** The field of MetricSpec that each source type fills. */
const SOURCE_FIELD: Record<string, keyof MetricSpec> = { Object: 'object', Pods: 'pods', Resource: 'resource', ContainerResource: 'containerResource', External: 'external' };
const SELECT_POLICIES = ['Disabled', 'Max', 'Min'] as const;
const POLICY_TYPES = ['Percent', 'Pods'] as const;
const MAX_PERIOD_SECONDS = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS = 3600;

/** kind and name: set, and path segment names. */
function validateReference(ref: { kind?: string; name?: string } | undefined, path: string): Cause[] {
  const causes: Cause[] = [];
  for (const f of ['kind', 'name'] as const) {
    const v = ref?.[f];
    if (!v) causes.push(required(child(path, f)));
    else causes.push(...isValidPathSegmentName(v).map((m) => invalid(child(path, f), v, m)));
  }
  return causes;
}

const sign = (q: string | number): number => {
  try {
    return compareQuantities(q, 0);
  } catch {
    return 0; // not a quantity: the schema already reports it
  }
};

function validateTarget(t: MetricTarget, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!t.type) causes.push(required(child(path, 'type'), 'must specify a metric target type'));
  if (!['Utilization', 'Value', 'AverageValue'].includes(t.type)) causes.push(invalid(child(path, 'type'), t.type, 'must be either Utilization, Value, or AverageValue'));
  if (t.value !== undefined && sign(t.value) !== 1) causes.push(invalid(child(path, 'value'), t.value, 'must be positive'));
  if (t.averageValue !== undefined && sign(t.averageValue) !== 1) causes.push(invalid(child(path, 'averageValue'), t.averageValue, 'must be positive'));
  if (t.averageUtilization !== undefined && t.averageUtilization < 1) causes.push(invalid(child(path, 'averageUtilization'), t.averageUtilization, 'must be greater than 0'));
  return causes;
}

/** A Resource or ContainerResource source: a name and a raw-value or utilization target, not both. */
function validateResourceSource(src: { name: string; target: MetricTarget; container?: string }, path: string, container: boolean): Cause[] {
  const causes: Cause[] = [];
  if (!src.name) causes.push(required(child(path, 'name'), 'must specify a resource name'));
  if (container && !src.container) causes.push(required(child(path, 'container'), 'must specify a container'));
  causes.push(...validateTarget(src.target, child(path, 'target')));
  if (src.target.averageUtilization === undefined && src.target.averageValue === undefined) {
    causes.push(required(child(path, 'target', 'averageUtilization'), 'must set either a target raw value or a target utilization'));
  }
  if (src.target.averageUtilization !== undefined && src.target.averageValue !== undefined) {
    causes.push(forbidden(child(path, 'target', 'averageValue'), 'may not set both a target raw value and a target utilization'));
  }
  return causes;
}

/** A Pods, Object or External source: a metric name and a value or average value target. */
function validateNamedMetricSource(src: { metric: { name: string; selector?: Parameters<typeof validateLabelSelector>[0] }; target: MetricTarget }, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!src.metric?.name) causes.push(required(child(path, 'metric', 'name'), 'must specify a metric name'));
  causes.push(...validateLabelSelector(src.metric?.selector, child(path, 'metric', 'selector')));
  causes.push(...validateTarget(src.target, child(path, 'target')));
  if (src.target.value === undefined && src.target.averageValue === undefined) causes.push(required(child(path, 'target', 'averageValue'), 'must set either a target value or averageValue'));
  return causes;
}

function validateMetricSpec(m: MetricSpec, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!m.type) causes.push(required(child(path, 'type'), 'must specify a metric source type'));
  const expected = SOURCE_FIELD[m.type];
  if (!expected) causes.push(notSupported(child(path, 'type'), m.type, SOURCE_TYPES));
  else if (m[expected] === undefined) causes.push(required(child(path, expected), 'must populate information for the given metric source'));
  const present = Object.values(SOURCE_FIELD).filter((f) => m[f] !== undefined);
  if (present.length !== 1) for (const f of present.filter((f) => f !== expected)) causes.push(forbidden(child(path, f), 'must populate the given metric source only'));
  if (m.resource) causes.push(...validateResourceSource(m.resource, child(path, 'resource'), false));
  if (m.containerResource) causes.push(...validateResourceSource(m.containerResource, child(path, 'containerResource'), true));
  if (m.pods) causes.push(...validateNamedMetricSource(m.pods, child(path, 'pods')));
  if (m.external) causes.push(...validateNamedMetricSource(m.external, child(path, 'external')));
  if (m.object) causes.push(...validateNamedMetricSource(m.object, child(path, 'object')), ...validateReference(m.object.describedObject, child(path, 'object', 'describedObject')));
  return causes;
}

function validateScalingRules(r: HPAScalingRules | undefined, path: string): Cause[] {
  if (!r) return [];
  const causes: Cause[] = [];
  const w = r.stabilizationWindowSeconds;
  if (w !== undefined && w < 0) causes.push(invalid(child(path, 'stabilizationWindowSeconds'), w, 'must be greater than or equal to zero'));
  if (w !== undefined && w > MAX_STABILIZATION_WINDOW_SECONDS) causes.push(invalid(child(path, 'stabilizationWindowSeconds'), w, `must be less than or equal to ${MAX_STABILIZATION_WINDOW_SECONDS}`));
  if (r.selectPolicy !== undefined && !(SELECT_POLICIES as readonly string[]).includes(r.selectPolicy)) causes.push(notSupported(child(path, 'selectPolicy'), r.selectPolicy, SELECT_POLICIES));
  const pp = child(path, 'policies');
  if (!r.policies?.length) causes.push(required(pp, 'must specify at least one Policy'));
  (r.policies ?? []).forEach((p, i) => {
    const ip = index(pp, i);
    if (!(POLICY_TYPES as readonly string[]).includes(p.type)) causes.push(notSupported(child(ip, 'type'), p.type, POLICY_TYPES));
    if (p.value <= 0) causes.push(invalid(child(ip, 'value'), p.value, 'must be greater than zero'));
    if (p.periodSeconds <= 0) causes.push(invalid(child(ip, 'periodSeconds'), p.periodSeconds, 'must be greater than zero'));
    if (p.periodSeconds > MAX_PERIOD_SECONDS) causes.push(invalid(child(ip, 'periodSeconds'), p.periodSeconds, `must be less than or equal to ${MAX_PERIOD_SECONDS}`));
  });
  return causes;
}

function validateBehavior(b: HorizontalPodAutoscalerBehavior | undefined, path: string): Cause[] {
  return b ? [...validateScalingRules(b.scaleUp, child(path, 'scaleUp')), ...validateScalingRules(b.scaleDown, child(path, 'scaleDown'))] : [];
}

export const horizontalPodAutoscaler = rules<HorizontalPodAutoscaler>({
  name: nameIsDNSSubdomain,
  validate: (hpa) => {
    const spec = hpa.spec;
    if (!spec) return [required('spec')];
    const causes: Cause[] = [];
    if (spec.minReplicas !== undefined && spec.minReplicas < 1) causes.push(invalid('spec.minReplicas', spec.minReplicas, 'must be greater than or equal to 1'));
    if (spec.maxReplicas < 1) causes.push(invalid('spec.maxReplicas', spec.maxReplicas, 'must be greater than 0'));
    if (spec.minReplicas !== undefined && spec.maxReplicas < spec.minReplicas) causes.push(invalid('spec.maxReplicas', spec.maxReplicas, 'must be greater than or equal to `minReplicas`'));
    // As kube: the metrics only once the target is sound, the behavior only once the metrics are.
    const ref = validateReference(spec.scaleTargetRef, 'spec.scaleTargetRef');
    if (ref.length) return [...causes, ...ref];
    const metrics = (spec.metrics ?? []).flatMap((m, i) => validateMetricSpec(m, index('spec.metrics', i)));
    if (metrics.length) return [...causes, ...metrics];
    return [...causes, ...validateBehavior(spec.behavior, 'spec.behavior')];
  },
  validateStatus: (hpa) => [...nonNegative(hpa.status?.currentReplicas, 'status.currentReplicas'), ...nonNegative(hpa.status?.desiredReplicas, 'status.desiredReplicas')],
});
