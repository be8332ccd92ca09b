// policy/v1 schemas: PodDisruptionBudget (the Eviction body is in subresources.ts).
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Int32, Int64, MapOf, MergeList, IntOrString, Time } from './kit.js';
import { Condition, LabelSelector, kindSchema } from './meta.js';

const def = (name: string) => `io.k8s.api.policy.v1.${name}`;

export const PodDisruptionBudgetSpec = named(
  def('PodDisruptionBudgetSpec'),
  Type.Object({
    minAvailable: Opt(IntOrString),
    selector: Opt(LabelSelector),
    maxUnavailable: Opt(IntOrString),
    unhealthyPodEvictionPolicy: Opt(Str({ description: 'When unready pods may be evicted: IfHealthyBudget (default) or AlwaysAllow.' })),
  }),
);
export type PodDisruptionBudgetSpec = Static<typeof PodDisruptionBudgetSpec>;

export const PodDisruptionBudgetStatus = named(
  def('PodDisruptionBudgetStatus'),
  Type.Object({
    observedGeneration: Opt(Int64()),
    disruptedPods: Opt(MapOf(Time, { description: 'Pods being evicted (by name) and when the eviction was admitted.' })),
    disruptionsAllowed: Int32(),
    currentHealthy: Int32(),
    desiredHealthy: Int32(),
    expectedPods: Int32(),
    conditions: Opt(MergeList(Condition, 'type')),
  }),
);
export type PodDisruptionBudgetStatus = Static<typeof PodDisruptionBudgetStatus>;

export const PodDisruptionBudget = kindSchema(
  def('PodDisruptionBudget'),
  'policy/v1',
  'PodDisruptionBudget',
  { spec: Opt(PodDisruptionBudgetSpec), status: Opt(PodDisruptionBudgetStatus) },
  'The most pods of a collection that may be down at once from voluntary disruptions (evictions).',
);
export type PodDisruptionBudget = Static<typeof PodDisruptionBudget>;
