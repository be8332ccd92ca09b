// apps/v1 schemas: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision.
import { Type, type Static } from '@sinclair/typebox';
import { named, Opt, Str, Int32, Arr, Enum, MergeList, IntOrString, Time } from './kit.js';
import { LabelSelector, ConditionStatus, RawExtension, kindSchema } from './meta.js';
import { PodTemplateSpec, PersistentVolumeClaim } from './core.js';

const def = (name: string) => `io.k8s.api.apps.v1.${name}`;

/** The condition shape of every apps/v1 status (DeploymentCondition, ReplicaSetCondition, ...). */
function condition(name: string, withUpdateTime = false) {
  return named(
    def(name),
    Type.Object({
      type: Str(),
      status: ConditionStatus,
      ...(withUpdateTime ? { lastUpdateTime: Opt(Time) } : {}),
      lastTransitionTime: Opt(Time),
      reason: Opt(Str()),
      message: Opt(Str()),
    }),
  );
}

// ---- Deployment ----

export const RollingUpdateDeployment = named(
  def('RollingUpdateDeployment'),
  Type.Object({ maxUnavailable: Opt(IntOrString), maxSurge: Opt(IntOrString) }),
);
export const DeploymentStrategy = named(
  def('DeploymentStrategy'),
  Type.Object({ type: Opt(Enum(['Recreate', 'RollingUpdate'])), rollingUpdate: Opt(RollingUpdateDeployment) }),
);
export type DeploymentStrategy = Static<typeof DeploymentStrategy>;

export const DeploymentSpec = named(
  def('DeploymentSpec'),
  Type.Object({
    replicas: Opt(Int32()),
    selector: LabelSelector,
    template: PodTemplateSpec,
    strategy: Opt(DeploymentStrategy),
    minReadySeconds: Opt(Int32()),
    revisionHistoryLimit: Opt(Int32()),
    paused: Opt(Type.Boolean()),
    progressDeadlineSeconds: Opt(Int32()),
  }),
);
export type DeploymentSpec = Static<typeof DeploymentSpec>;

export const DeploymentCondition = condition('DeploymentCondition', true);
export type DeploymentCondition = Static<typeof DeploymentCondition>;

export const DeploymentStatus = named(
  def('DeploymentStatus'),
  Type.Object({
    observedGeneration: Opt(Type.Integer({ format: 'int64' })),
    replicas: Opt(Int32()),
    updatedReplicas: Opt(Int32()),
    readyReplicas: Opt(Int32()),
    availableReplicas: Opt(Int32()),
    unavailableReplicas: Opt(Int32()),
    terminatingReplicas: Opt(Int32()),
    conditions: Opt(MergeList(DeploymentCondition, 'type')),
    collisionCount: Opt(Int32()),
  }),
);
export type DeploymentStatus = Static<typeof DeploymentStatus>;

export const Deployment = kindSchema(
  def('Deployment'),
  'apps/v1',
  'Deployment',
  { spec: DeploymentSpec, status: Opt(DeploymentStatus) },
  'Declarative updates for pods and replica sets.',
);
export type Deployment = Static<typeof Deployment>;

// ---- ReplicaSet ----

export const ReplicaSetSpec = named(
  def('ReplicaSetSpec'),
  Type.Object({
    replicas: Opt(Int32()),
    minReadySeconds: Opt(Int32()),
    selector: LabelSelector,
    template: Opt(PodTemplateSpec),
  }),
);
export type ReplicaSetSpec = Static<typeof ReplicaSetSpec>;
export const ReplicaSetCondition = condition('ReplicaSetCondition');
export const ReplicaSetStatus = named(
  def('ReplicaSetStatus'),
  Type.Object({
    replicas: Int32(),
    fullyLabeledReplicas: Opt(Int32()),
    readyReplicas: Opt(Int32()),
    availableReplicas: Opt(Int32()),
    terminatingReplicas: Opt(Int32()),
    observedGeneration: Opt(Type.Integer({ format: 'int64' })),
    conditions: Opt(MergeList(ReplicaSetCondition, 'type')),
  }),
);
export type ReplicaSetStatus = Static<typeof ReplicaSetStatus>;
export const ReplicaSet = kindSchema(
  def('ReplicaSet'),
  'apps/v1',
  'ReplicaSet',
  { spec: ReplicaSetSpec, status: Opt(ReplicaSetStatus) },
  'Keeps a number of pod replicas running.',
);
export type ReplicaSet = Static<typeof ReplicaSet>;

// ---- DaemonSet ----

export const DaemonSetUpdateStrategy = named(
  def('DaemonSetUpdateStrategy'),
  Type.Object({
    type: Opt(Enum(['OnDelete', 'RollingUpdate'])),
    rollingUpdate: Opt(
      named(def('RollingUpdateDaemonSet'), Type.Object({ maxUnavailable: Opt(IntOrString), maxSurge: Opt(IntOrString) })),
    ),
  }),
);
export const DaemonSetSpec = named(
  def('DaemonSetSpec'),
  Type.Object({
    selector: LabelSelector,
    template: PodTemplateSpec,
    updateStrategy: Opt(DaemonSetUpdateStrategy),
    minReadySeconds: Opt(Int32()),
    revisionHistoryLimit: Opt(Int32()),
  }),
);
export type DaemonSetSpec = Static<typeof DaemonSetSpec>;
export const DaemonSetCondition = condition('DaemonSetCondition');
export const DaemonSetStatus = named(
  def('DaemonSetStatus'),
  Type.Object({
    currentNumberScheduled: Int32(),
    numberMisscheduled: Int32(),
    desiredNumberScheduled: Int32(),
    numberReady: Int32(),
    observedGeneration: Opt(Type.Integer({ format: 'int64' })),
    updatedNumberScheduled: Opt(Int32()),
    numberAvailable: Opt(Int32()),
    numberUnavailable: Opt(Int32()),
    collisionCount: Opt(Int32()),
    conditions: Opt(MergeList(DaemonSetCondition, 'type')),
  }),
);
export type DaemonSetStatus = Static<typeof DaemonSetStatus>;
export const DaemonSet = kindSchema(
  def('DaemonSet'),
  'apps/v1',
  'DaemonSet',
  { spec: DaemonSetSpec, status: Opt(DaemonSetStatus) },
  'Runs a copy of a pod on every eligible node.',
);
export type DaemonSet = Static<typeof DaemonSet>;

// ---- StatefulSet ----

export const StatefulSetUpdateStrategy = named(
  def('StatefulSetUpdateStrategy'),
  Type.Object({
    type: Opt(Enum(['OnDelete', 'RollingUpdate'])),
    rollingUpdate: Opt(
      named(
        def('RollingUpdateStatefulSetStrategy'),
        Type.Object({ partition: Opt(Int32()), maxUnavailable: Opt(IntOrString) }),
      ),
    ),
  }),
);
export const StatefulSetSpec = named(
  def('StatefulSetSpec'),
  Type.Object({
    replicas: Opt(Int32()),
    selector: LabelSelector,
    template: PodTemplateSpec,
    volumeClaimTemplates: Opt(Arr(PersistentVolumeClaim, { 'x-kubernetes-list-type': 'atomic' })),
    serviceName: Opt(Str()),
    podManagementPolicy: Opt(Enum(['OrderedReady', 'Parallel'])),
    updateStrategy: Opt(StatefulSetUpdateStrategy),
    revisionHistoryLimit: Opt(Int32()),
    minReadySeconds: Opt(Int32()),
    persistentVolumeClaimRetentionPolicy: Opt(
      named(
        def('StatefulSetPersistentVolumeClaimRetentionPolicy'),
        Type.Object({ whenDeleted: Opt(Enum(['Retain', 'Delete'])), whenScaled: Opt(Enum(['Retain', 'Delete'])) }),
      ),
    ),
    ordinals: Opt(named(def('StatefulSetOrdinals'), Type.Object({ start: Opt(Int32()) }))),
  }),
);
export type StatefulSetSpec = Static<typeof StatefulSetSpec>;
export const StatefulSetCondition = condition('StatefulSetCondition');
export const StatefulSetStatus = named(
  def('StatefulSetStatus'),
  Type.Object({
    observedGeneration: Opt(Type.Integer({ format: 'int64' })),
    replicas: Int32(),
    readyReplicas: Opt(Int32()),
    currentReplicas: Opt(Int32()),
    updatedReplicas: Opt(Int32()),
    availableReplicas: Opt(Int32()),
    currentRevision: Opt(Str()),
    updateRevision: Opt(Str()),
    collisionCount: Opt(Int32()),
    conditions: Opt(MergeList(StatefulSetCondition, 'type')),
  }),
);
export type StatefulSetStatus = Static<typeof StatefulSetStatus>;
export const StatefulSet = kindSchema(
  def('StatefulSet'),
  'apps/v1',
  'StatefulSet',
  { spec: StatefulSetSpec, status: Opt(StatefulSetStatus) },
  'Pods with stable identities and storage.',
);
export type StatefulSet = Static<typeof StatefulSet>;

// ---- ControllerRevision ----

export const ControllerRevision = kindSchema(
  def('ControllerRevision'),
  'apps/v1',
  'ControllerRevision',
  {
    data: Opt(RawExtension),
    revision: Type.Integer({ format: 'int64', description: 'The revision this object represents.' }),
  },
  'An immutable snapshot of state data (a DaemonSet or StatefulSet pod template) and its revision number.',
);
export type ControllerRevision = Static<typeof ControllerRevision>;
