// batch/v1 schemas: Job.
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Bool, Int32, Int64, Enum, MergeList, Time } from './kit.js';
import { LabelSelector, ConditionStatus, kindSchema } from './meta.js';
import { PodTemplateSpec } from './core.js';

const def = (name: string) => `io.k8s.api.batch.v1.${name}`;

export const JobSpec = named(
  def('JobSpec'),
  Type.Object({
    parallelism: Opt(Int32()),
    completions: Opt(Int32()),
    activeDeadlineSeconds: Opt(Int64()),
    backoffLimit: Opt(Int32()),
    backoffLimitPerIndex: Opt(Int32()),
    maxFailedIndexes: Opt(Int32()),
    selector: Opt(LabelSelector),
    manualSelector: Opt(Bool()),
    template: PodTemplateSpec,
    ttlSecondsAfterFinished: Opt(Int32()),
    completionMode: Opt(Enum(['NonIndexed', 'Indexed'])),
    suspend: Opt(Bool()),
    podReplacementPolicy: Opt(Enum(['TerminatingOrFailed', 'Failed'])),
  }),
);
export type JobSpec = Static<typeof JobSpec>;

export const JobCondition = named(
  def('JobCondition'),
  Type.Object({
    type: Str({ description: 'Complete, Failed, Suspended, FailureTarget, SuccessCriteriaMet.' }),
    status: ConditionStatus,
    lastProbeTime: Opt(Time),
    lastTransitionTime: Opt(Time),
    reason: Opt(Str()),
    message: Opt(Str()),
  }),
);
export type JobCondition = Static<typeof JobCondition>;

export const JobStatus = named(
  def('JobStatus'),
  Type.Object({
    conditions: Opt(MergeList(JobCondition, 'type', { 'x-kubernetes-list-type': 'atomic' })),
    startTime: Opt(Time),
    completionTime: Opt(Time),
    active: Opt(Int32()),
    succeeded: Opt(Int32()),
    failed: Opt(Int32()),
    terminating: Opt(Int32()),
    completedIndexes: Opt(Str()),
    failedIndexes: Opt(Str()),
    ready: Opt(Int32()),
    uncountedTerminatedPods: Opt(
      named(def('UncountedTerminatedPods'), Type.Object({ succeeded: Opt(Type.Array(Str())), failed: Opt(Type.Array(Str())) })),
    ),
  }),
);
export type JobStatus = Static<typeof JobStatus>;

export const Job = kindSchema(def('Job'), 'batch/v1', 'Job', { spec: JobSpec, status: Opt(JobStatus) }, 'Runs pods to completion.');
export type Job = Static<typeof Job>;
