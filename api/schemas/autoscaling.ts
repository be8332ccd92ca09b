// autoscaling schemas: HorizontalPodAutoscaler in v2 (stored) and v1 (served too, converted: apiserver/registry/conversion).
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Int32, Int64, Enum, Arr, MergeList, Quantity, Time } from './kit.js';
import { ConditionStatus, LabelSelector, kindSchema } from './meta.js';

const v2 = (name: string) => `io.k8s.api.autoscaling.v2.${name}`;
const v1 = (name: string) => `io.k8s.api.autoscaling.v1.${name}`;

function crossVersionObjectReference(definition: string) {
  return named(
    definition,
    Type.Object({
      kind: Str({ description: 'Kind of the referent, e.g. Deployment.' }),
      name: Str(),
      apiVersion: Opt(Str()),
    }),
  );
}

// ---- autoscaling/v2 ----

export const CrossVersionObjectReference = crossVersionObjectReference(v2('CrossVersionObjectReference'));
export type CrossVersionObjectReference = Static<typeof CrossVersionObjectReference>;

export const MetricTarget = named(
  v2('MetricTarget'),
  Type.Object({
    type: Str({ description: 'Utilization, Value or AverageValue.' }),
    value: Opt(Quantity),
    averageValue: Opt(Quantity),
    averageUtilization: Opt(Int32({ description: 'Percent of the pods\' requests, averaged over them (Resource metrics).' })),
  }),
);
export type MetricTarget = Static<typeof MetricTarget>;

export const MetricValueStatus = named(
  v2('MetricValueStatus'),
  Type.Object({ value: Opt(Quantity), averageValue: Opt(Quantity), averageUtilization: Opt(Int32()) }),
);
export type MetricValueStatus = Static<typeof MetricValueStatus>;

export const MetricIdentifier = named(v2('MetricIdentifier'), Type.Object({ name: Str(), selector: Opt(LabelSelector) }));

export const ResourceMetricSource = named(v2('ResourceMetricSource'), Type.Object({ name: Str(), target: MetricTarget }));
export const ContainerResourceMetricSource = named(v2('ContainerResourceMetricSource'), Type.Object({ name: Str(), target: MetricTarget, container: Str() }));
export const PodsMetricSource = named(v2('PodsMetricSource'), Type.Object({ metric: MetricIdentifier, target: MetricTarget }));
export const ObjectMetricSource = named(v2('ObjectMetricSource'), Type.Object({ describedObject: CrossVersionObjectReference, target: MetricTarget, metric: MetricIdentifier }));
export const ExternalMetricSource = named(v2('ExternalMetricSource'), Type.Object({ metric: MetricIdentifier, target: MetricTarget }));

export const MetricSpec = named(
  v2('MetricSpec'),
  Type.Object({
    type: Str({ description: 'ContainerResource, External, Object, Pods or Resource.' }),
    object: Opt(ObjectMetricSource),
    pods: Opt(PodsMetricSource),
    resource: Opt(ResourceMetricSource),
    containerResource: Opt(ContainerResourceMetricSource),
    external: Opt(ExternalMetricSource),
  }),
);
export type MetricSpec = Static<typeof MetricSpec>;

export const HPAScalingPolicy = named(
  v2('HPAScalingPolicy'),
  Type.Object({ type: Str({ description: 'Pods or Percent.' }), value: Int32(), periodSeconds: Int32() }),
);
export type HPAScalingPolicy = Static<typeof HPAScalingPolicy>;

export const HPAScalingRules = named(
  v2('HPAScalingRules'),
  Type.Object({
    stabilizationWindowSeconds: Opt(Int32()),
    selectPolicy: Opt(Str({ description: 'Max (default), Min or Disabled.' })),
    policies: Opt(Arr(HPAScalingPolicy, { 'x-kubernetes-list-type': 'atomic' })),
  }),
);
export type HPAScalingRules = Static<typeof HPAScalingRules>;

export const HorizontalPodAutoscalerBehavior = named(v2('HorizontalPodAutoscalerBehavior'), Type.Object({ scaleUp: Opt(HPAScalingRules), scaleDown: Opt(HPAScalingRules) }));
export type HorizontalPodAutoscalerBehavior = Static<typeof HorizontalPodAutoscalerBehavior>;

export const HorizontalPodAutoscalerSpec = named(
  v2('HorizontalPodAutoscalerSpec'),
  Type.Object({
    scaleTargetRef: CrossVersionObjectReference,
    minReplicas: Opt(Int32()),
    maxReplicas: Int32(),
    metrics: Opt(Arr(MetricSpec, { 'x-kubernetes-list-type': 'atomic' })),
    behavior: Opt(HorizontalPodAutoscalerBehavior),
  }),
);
export type HorizontalPodAutoscalerSpec = Static<typeof HorizontalPodAutoscalerSpec>;

export const MetricStatus = named(
  v2('MetricStatus'),
  Type.Object({
    type: Str(),
    object: Opt(named(v2('ObjectMetricStatus'), Type.Object({ metric: MetricIdentifier, current: MetricValueStatus, describedObject: CrossVersionObjectReference }))),
    pods: Opt(named(v2('PodsMetricStatus'), Type.Object({ metric: MetricIdentifier, current: MetricValueStatus }))),
    resource: Opt(named(v2('ResourceMetricStatus'), Type.Object({ name: Str(), current: MetricValueStatus }))),
    containerResource: Opt(named(v2('ContainerResourceMetricStatus'), Type.Object({ name: Str(), current: MetricValueStatus, container: Str() }))),
    external: Opt(named(v2('ExternalMetricStatus'), Type.Object({ metric: MetricIdentifier, current: MetricValueStatus }))),
  }),
);
export type MetricStatus = Static<typeof MetricStatus>;

export const HorizontalPodAutoscalerCondition = named(
  v2('HorizontalPodAutoscalerCondition'),
  Type.Object({ type: Str({ description: 'AbleToScale, ScalingActive or ScalingLimited.' }), status: ConditionStatus, lastTransitionTime: Opt(Time), reason: Opt(Str()), message: Opt(Str()) }),
);
export type HorizontalPodAutoscalerCondition = Static<typeof HorizontalPodAutoscalerCondition>;

export const HorizontalPodAutoscalerStatus = named(
  v2('HorizontalPodAutoscalerStatus'),
  Type.Object({
    observedGeneration: Opt(Int64()),
    lastScaleTime: Opt(Time),
    currentReplicas: Opt(Int32()),
    desiredReplicas: Int32(),
    currentMetrics: Opt(Arr(MetricStatus, { 'x-kubernetes-list-type': 'atomic' })),
    conditions: Opt(MergeList(HorizontalPodAutoscalerCondition, 'type')),
  }),
);
export type HorizontalPodAutoscalerStatus = Static<typeof HorizontalPodAutoscalerStatus>;

export const HorizontalPodAutoscaler = kindSchema(
  v2('HorizontalPodAutoscaler'),
  'autoscaling/v2',
  'HorizontalPodAutoscaler',
  { spec: HorizontalPodAutoscalerSpec, status: Opt(HorizontalPodAutoscalerStatus) },
  'Scales a workload with a /scale subresource to keep its pods\' metrics near their targets.',
);
export type HorizontalPodAutoscaler = Static<typeof HorizontalPodAutoscaler>;

// ---- autoscaling/v1 ----

export const CrossVersionObjectReferenceV1 = crossVersionObjectReference(v1('CrossVersionObjectReference'));

export const HorizontalPodAutoscalerSpecV1 = named(
  v1('HorizontalPodAutoscalerSpec'),
  Type.Object({
    scaleTargetRef: CrossVersionObjectReferenceV1,
    minReplicas: Opt(Int32()),
    maxReplicas: Int32(),
    targetCPUUtilizationPercentage: Opt(Int32()),
  }),
);

export const HorizontalPodAutoscalerStatusV1 = named(
  v1('HorizontalPodAutoscalerStatus'),
  Type.Object({
    observedGeneration: Opt(Int64()),
    lastScaleTime: Opt(Time),
    currentReplicas: Int32(),
    desiredReplicas: Int32(),
    currentCPUUtilizationPercentage: Opt(Int32()),
  }),
);

export const HorizontalPodAutoscalerV1 = kindSchema(
  v1('HorizontalPodAutoscaler'),
  'autoscaling/v1',
  'HorizontalPodAutoscaler',
  { spec: HorizontalPodAutoscalerSpecV1, status: Opt(HorizontalPodAutoscalerStatusV1) },
  'Scales a workload on its pods\' CPU utilization (autoscaling/v2 has every metric and behavior).',
);
export type HorizontalPodAutoscalerV1 = Static<typeof HorizontalPodAutoscalerV1>;

/** The annotations that keep, on a v1 object, what only v2 can say (kube's autoscaling v1 conversion). */
export const HPA_V1_ANNOTATIONS = {
  metrics: 'autoscaling.alpha.kubernetes.io/metrics',
  currentMetrics: 'autoscaling.alpha.kubernetes.io/current-metrics',
  conditions: 'autoscaling.alpha.kubernetes.io/conditions',
  behavior: 'autoscaling.alpha.kubernetes.io/behavior',
} as const;
