// scheduling.k8s.io/v1 schemas: PriorityClass.
import { Type, type Static } from '@sinclair/typebox';
import { Opt, Str, Bool, Int32, Enum } from './kit.js';
import { kindSchema } from './meta.js';

export const PREEMPTION_POLICIES = ['PreemptLowerPriority', 'Never'] as const;

export const PriorityClass = kindSchema(
  'io.k8s.api.scheduling.v1.PriorityClass',
  'scheduling.k8s.io/v1',
  'PriorityClass',
  {
    value: Int32({ description: 'The priority that pods naming this class receive.' }),
    globalDefault: Opt(Bool({ description: 'The priority of pods that name no class; at most one class may set it.' })),
    description: Opt(Str()),
    preemptionPolicy: Opt(Enum(PREEMPTION_POLICIES, { description: 'PreemptLowerPriority (default) or Never.' })),
  },
  'Maps a priority class name to the integer priority of the pods that name it.',
);
export type PriorityClass = Static<typeof PriorityClass>;
