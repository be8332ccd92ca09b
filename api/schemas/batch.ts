// batch/v1 schemas: Job and CronJob.
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Bool, Int32, Int64, Enum, MergeList, Time, Arr, StrArr } from './kit.js';
import { LabelSelector, ConditionStatus, ObjectMeta, kindSchema } from './meta.js';
import { ObjectReference, PodTemplateSpec } from './core.js';

const def = (name: string) => `io.k8s.api.batch.v1.${name}`;

export const PodFailurePolicyOnExitCodesRequirement = named(
  def('PodFailurePolicyOnExitCodesRequirement'),
  Type.Object({
    containerName: Opt(Str()),
    operator: Str({ description: 'In or NotIn.' }),
    values: Arr(Int32(), { 'x-kubernetes-list-type': 'set' }),
  }),
);

export const PodFailurePolicyOnPodConditionsPattern = named(
  def('PodFailurePolicyOnPodConditionsPattern'),
  Type.Object({ type: Str(), status: Opt(Str({ description: 'True, False or Unknown; defaults to True.' })) }),
);

export const PodFailurePolicyRule = named(
  def('PodFailurePolicyRule'),
  Type.Object({
    action: Str({ description: 'FailJob, FailIndex, Ignore or Count.' }),
    onExitCodes: Opt(PodFailurePolicyOnExitCodesRequirement),
    onPodConditions: Opt(Arr(PodFailurePolicyOnPodConditionsPattern, { 'x-kubernetes-list-type': 'atomic' })),
  }),
);
export type PodFailurePolicyRule = Static<typeof PodFailurePolicyRule>;

export const PodFailurePolicy = named(def('PodFailurePolicy'), Type.Object({ rules: Arr(PodFailurePolicyRule, { 'x-kubernetes-list-type': 'atomic' }) }));
export type PodFailurePolicy = Static<typeof PodFailurePolicy>;

export const SuccessPolicyRule = named(
  def('SuccessPolicyRule'),
  Type.Object({ succeededIndexes: Opt(Str()), succeededCount: Opt(Int32()) }),
);
export const SuccessPolicy = named(def('SuccessPolicy'), Type.Object({ rules: Arr(SuccessPolicyRule, { 'x-kubernetes-list-type': 'atomic' }) }));
export type SuccessPolicy = Static<typeof SuccessPolicy>;

export const JobSpec = named(
  def('JobSpec'),
  Type.Object({
    parallelism: Opt(Int32()),
    completions: Opt(Int32()),
    activeDeadlineSeconds: Opt(Int64()),
    podFailurePolicy: Opt(PodFailurePolicy),
    successPolicy: Opt(SuccessPolicy),
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
    managedBy: Opt(Str({ description: 'The controller that reconciles the Job; kubernetes.io/job-controller or empty for the built-in one.' })),
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

export const UncountedTerminatedPods = named(
  def('UncountedTerminatedPods'),
  Type.Object({ succeeded: Opt(StrArr({ 'x-kubernetes-list-type': 'set' })), failed: Opt(StrArr({ 'x-kubernetes-list-type': 'set' })) }),
);
export type UncountedTerminatedPods = Static<typeof UncountedTerminatedPods>;

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
    uncountedTerminatedPods: Opt(UncountedTerminatedPods),
    ready: Opt(Int32()),
  }),
);
export type JobStatus = Static<typeof JobStatus>;

export const Job = kindSchema(def('Job'), 'batch/v1', 'Job', { spec: JobSpec, status: Opt(JobStatus) }, 'Runs pods to completion.');
export type Job = Static<typeof Job>;

/** A Job's spec without the server-filled parts: the template a CronJob makes its Jobs from. */
export const JobTemplateSpec = named(def('JobTemplateSpec'), Type.Object({ metadata: Opt(ObjectMeta), spec: Opt(JobSpec) }));
export type JobTemplateSpec = Static<typeof JobTemplateSpec>;

export const CronJobSpec = named(
  def('CronJobSpec'),
  Type.Object({
    schedule: Str({ description: 'Cron format: five fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly.' }),
    timeZone: Opt(Str({ description: 'IANA time zone name, e.g. Etc/UTC; default: the controller manager\'s.' })),
    startingDeadlineSeconds: Opt(Int64()),
    concurrencyPolicy: Opt(Enum(['Allow', 'Forbid', 'Replace'])),
    suspend: Opt(Bool()),
    jobTemplate: JobTemplateSpec,
    successfulJobsHistoryLimit: Opt(Int32()),
    failedJobsHistoryLimit: Opt(Int32()),
  }),
);
export type CronJobSpec = Static<typeof CronJobSpec>;

export const CronJobStatus = named(
  def('CronJobStatus'),
  Type.Object({
    active: Opt(Arr(ObjectReference, { 'x-kubernetes-list-type': 'atomic' })),
    lastScheduleTime: Opt(Time),
    lastSuccessfulTime: Opt(Time),
  }),
);
export type CronJobStatus = Static<typeof CronJobStatus>;

export const CronJob = kindSchema(def('CronJob'), 'batch/v1', 'CronJob', { spec: CronJobSpec, status: Opt(CronJobStatus) }, 'Creates Jobs on a repeating schedule.');
export type CronJob = Static<typeof CronJob>;
