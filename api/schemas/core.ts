// core/v1 schemas: Pod (and everything a pod spec holds), Node, Namespace, Service, Endpoints, ConfigMap,
// Secret, Event, ServiceAccount, Binding, ReplicationController, PersistentVolume, PersistentVolumeClaim.
import { Type, type Static } from '@sinclair/typebox';
import {
  CORE, named, Opt, Str, Bool, Int32, Int64, Arr, StrArr, StrMap, MapOf, Enum, MergeList, SetList,
  IntOrString, Quantity, ResourceList, Time, MicroTime,
} from './kit.js';
import { LabelSelector, ObjectMeta, ConditionStatus, groupVersionKind, kindSchema } from './meta.js';

const def = (name: string) => `${CORE}.${name}`;

export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;
export const Protocol = Enum(PROTOCOLS);

export const ObjectReference = named(
  def('ObjectReference'),
  Type.Object(
    {
      apiVersion: Opt(Str()),
      kind: Opt(Str()),
      namespace: Opt(Str()),
      name: Opt(Str()),
      uid: Opt(Str()),
      resourceVersion: Opt(Str()),
      fieldPath: Opt(Str()),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
);
export type ObjectReference = Static<typeof ObjectReference>;

export const LocalObjectReference = named(def('LocalObjectReference'), Type.Object({ name: Opt(Str()) }, { 'x-kubernetes-map-type': 'atomic' }));
export type LocalObjectReference = Static<typeof LocalObjectReference>;

// ---- environment ----

export const ObjectFieldSelector = named(
  def('ObjectFieldSelector'),
  Type.Object({ apiVersion: Opt(Str()), fieldPath: Str() }, { 'x-kubernetes-map-type': 'atomic' }),
);
export const ResourceFieldSelector = named(
  def('ResourceFieldSelector'),
  Type.Object({ containerName: Opt(Str()), resource: Str(), divisor: Opt(Quantity) }, { 'x-kubernetes-map-type': 'atomic' }),
);
export const ConfigMapKeySelector = named(
  def('ConfigMapKeySelector'),
  Type.Object({ name: Opt(Str()), key: Str(), optional: Opt(Bool()) }, { 'x-kubernetes-map-type': 'atomic' }),
);
export const SecretKeySelector = named(
  def('SecretKeySelector'),
  Type.Object({ name: Opt(Str()), key: Str(), optional: Opt(Bool()) }, { 'x-kubernetes-map-type': 'atomic' }),
);
export const EnvVarSource = named(
  def('EnvVarSource'),
  Type.Object({
    fieldRef: Opt(ObjectFieldSelector),
    resourceFieldRef: Opt(ResourceFieldSelector),
    configMapKeyRef: Opt(ConfigMapKeySelector),
    secretKeyRef: Opt(SecretKeySelector),
  }),
);
export const EnvVar = named(def('EnvVar'), Type.Object({ name: Str(), value: Opt(Str()), valueFrom: Opt(EnvVarSource) }));
export type EnvVar = Static<typeof EnvVar>;

export const EnvFromSource = named(
  def('EnvFromSource'),
  Type.Object({
    prefix: Opt(Str()),
    configMapRef: Opt(named(def('ConfigMapEnvSource'), Type.Object({ name: Opt(Str()), optional: Opt(Bool()) }))),
    secretRef: Opt(named(def('SecretEnvSource'), Type.Object({ name: Opt(Str()), optional: Opt(Bool()) }))),
  }),
);

// ---- ports, resources, probes, lifecycle ----

export const ContainerPort = named(
  def('ContainerPort'),
  Type.Object({
    name: Opt(Str()),
    containerPort: Int32(),
    hostPort: Opt(Int32()),
    hostIP: Opt(Str()),
    protocol: Opt(Protocol),
  }),
);
export type ContainerPort = Static<typeof ContainerPort>;

export const ResourceRequirements = named(
  def('ResourceRequirements'),
  Type.Object({ limits: Opt(ResourceList), requests: Opt(ResourceList) }),
);
export type ResourceRequirements = Static<typeof ResourceRequirements>;

export const ExecAction = named(def('ExecAction'), Type.Object({ command: Opt(StrArr()) }));
export const HTTPHeader = named(def('HTTPHeader'), Type.Object({ name: Str(), value: Str() }));
export const HTTPGetAction = named(
  def('HTTPGetAction'),
  Type.Object({
    path: Opt(Str()),
    port: IntOrString,
    host: Opt(Str()),
    scheme: Opt(Enum(['HTTP', 'HTTPS'])),
    httpHeaders: Opt(Arr(HTTPHeader)),
  }),
);
export const TCPSocketAction = named(def('TCPSocketAction'), Type.Object({ port: IntOrString, host: Opt(Str()) }));
export const GRPCAction = named(def('GRPCAction'), Type.Object({ port: Int32(), service: Opt(Str()) }));
export const SleepAction = named(def('SleepAction'), Type.Object({ seconds: Int64() }));

export const Probe = named(
  def('Probe'),
  Type.Object({
    exec: Opt(ExecAction),
    httpGet: Opt(HTTPGetAction),
    tcpSocket: Opt(TCPSocketAction),
    grpc: Opt(GRPCAction),
    initialDelaySeconds: Opt(Int32({ minimum: 0 })),
    timeoutSeconds: Opt(Int32({ minimum: 0 })),
    periodSeconds: Opt(Int32({ minimum: 0 })),
    successThreshold: Opt(Int32({ minimum: 0 })),
    failureThreshold: Opt(Int32({ minimum: 0 })),
    terminationGracePeriodSeconds: Opt(Int64()),
  }),
);
export type Probe = Static<typeof Probe>;

export const LifecycleHandler = named(
  def('LifecycleHandler'),
  Type.Object({ exec: Opt(ExecAction), httpGet: Opt(HTTPGetAction), tcpSocket: Opt(TCPSocketAction), sleep: Opt(SleepAction) }),
);
export type LifecycleHandler = Static<typeof LifecycleHandler>;
export const Lifecycle = named(def('Lifecycle'), Type.Object({ postStart: Opt(LifecycleHandler), preStop: Opt(LifecycleHandler) }));

// ---- security ----

export const Capabilities = named(def('Capabilities'), Type.Object({ add: Opt(StrArr()), drop: Opt(StrArr()) }));
export const SELinuxOptions = named(
  def('SELinuxOptions'),
  Type.Object({ user: Opt(Str()), role: Opt(Str()), type: Opt(Str()), level: Opt(Str()) }),
);
export const SeccompProfile = named(
  def('SeccompProfile'),
  Type.Object({ type: Enum(['Localhost', 'RuntimeDefault', 'Unconfined']), localhostProfile: Opt(Str()) }),
);
export const AppArmorProfile = named(
  def('AppArmorProfile'),
  Type.Object({ type: Enum(['Localhost', 'RuntimeDefault', 'Unconfined']), localhostProfile: Opt(Str()) }),
);
export const SecurityContext = named(
  def('SecurityContext'),
  Type.Object({
    capabilities: Opt(Capabilities),
    privileged: Opt(Bool()),
    seLinuxOptions: Opt(SELinuxOptions),
    runAsUser: Opt(Int64({ minimum: 0 })),
    runAsGroup: Opt(Int64({ minimum: 0 })),
    runAsNonRoot: Opt(Bool()),
    readOnlyRootFilesystem: Opt(Bool()),
    allowPrivilegeEscalation: Opt(Bool()),
    procMount: Opt(Enum(['Default', 'Unmasked'])),
    seccompProfile: Opt(SeccompProfile),
    appArmorProfile: Opt(AppArmorProfile),
  }),
);
export type SecurityContext = Static<typeof SecurityContext>;

export const Sysctl = named(def('Sysctl'), Type.Object({ name: Str(), value: Str() }));
export const PodSecurityContext = named(
  def('PodSecurityContext'),
  Type.Object({
    seLinuxOptions: Opt(SELinuxOptions),
    runAsUser: Opt(Int64({ minimum: 0 })),
    runAsGroup: Opt(Int64({ minimum: 0 })),
    runAsNonRoot: Opt(Bool()),
    supplementalGroups: Opt(Arr(Int64({ minimum: 0 }))),
    fsGroup: Opt(Int64({ minimum: 0 })),
    fsGroupChangePolicy: Opt(Enum(['OnRootMismatch', 'Always'])),
    sysctls: Opt(Arr(Sysctl)),
    seccompProfile: Opt(SeccompProfile),
    appArmorProfile: Opt(AppArmorProfile),
  }),
);
export type PodSecurityContext = Static<typeof PodSecurityContext>;

// ---- containers ----

export const VolumeMount = named(
  def('VolumeMount'),
  Type.Object({
    name: Str(),
    mountPath: Str(),
    readOnly: Opt(Bool()),
    subPath: Opt(Str()),
    subPathExpr: Opt(Str()),
    mountPropagation: Opt(Enum(['None', 'HostToContainer', 'Bidirectional'])),
  }),
);
export type VolumeMount = Static<typeof VolumeMount>;

export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

export const Container = named(
  def('Container'),
  Type.Object(
    {
      name: Str({ description: 'A DNS-1123 label, unique within the pod.' }),
      image: Str({ description: 'Container image name, e.g. busybox:1.36.' }),
      command: Opt(StrArr()),
      args: Opt(StrArr()),
      workingDir: Opt(Str()),
      ports: Opt(
        Arr(ContainerPort, {
          'x-kubernetes-patch-merge-key': 'containerPort',
          'x-kubernetes-patch-strategy': 'merge',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['containerPort', 'protocol'],
        }),
      ),
      envFrom: Opt(Arr(EnvFromSource)),
      env: Opt(MergeList(EnvVar, 'name')),
      resources: Opt(ResourceRequirements),
      restartPolicy: Opt(Enum(['Always'])),
      volumeMounts: Opt(MergeList(VolumeMount, 'mountPath')),
      livenessProbe: Opt(Probe),
      readinessProbe: Opt(Probe),
      startupProbe: Opt(Probe),
      lifecycle: Opt(Lifecycle),
      terminationMessagePath: Opt(Str()),
      terminationMessagePolicy: Opt(Enum(['File', 'FallbackToLogsOnError'])),
      imagePullPolicy: Opt(Enum(PULL_POLICIES)),
      securityContext: Opt(SecurityContext),
      stdin: Opt(Bool()),
      stdinOnce: Opt(Bool()),
      tty: Opt(Bool()),
    },
    { description: 'A single application container that runs within a pod.' },
  ),
);
export type Container = Static<typeof Container>;

// ---- volumes ----

export const KeyToPath = named(def('KeyToPath'), Type.Object({ key: Str(), path: Str(), mode: Opt(Int32()) }));
export type KeyToPath = Static<typeof KeyToPath>;

export const DownwardAPIVolumeFile = named(
  def('DownwardAPIVolumeFile'),
  Type.Object({ path: Str(), fieldRef: Opt(ObjectFieldSelector), resourceFieldRef: Opt(ResourceFieldSelector), mode: Opt(Int32()) }),
);
export const ConfigMapVolumeSource = named(
  def('ConfigMapVolumeSource'),
  Type.Object({ name: Opt(Str()), items: Opt(Arr(KeyToPath)), defaultMode: Opt(Int32()), optional: Opt(Bool()) }),
);
export const SecretVolumeSource = named(
  def('SecretVolumeSource'),
  Type.Object({ secretName: Opt(Str()), items: Opt(Arr(KeyToPath)), defaultMode: Opt(Int32()), optional: Opt(Bool()) }),
);
export const DownwardAPIVolumeSource = named(
  def('DownwardAPIVolumeSource'),
  Type.Object({ items: Opt(Arr(DownwardAPIVolumeFile)), defaultMode: Opt(Int32()) }),
);
export const VolumeProjection = named(
  def('VolumeProjection'),
  Type.Object({
    serviceAccountToken: Opt(
      named(
        def('ServiceAccountTokenProjection'),
        Type.Object({ audience: Opt(Str()), expirationSeconds: Opt(Int64()), path: Str() }),
      ),
    ),
    configMap: Opt(
      named(def('ConfigMapProjection'), Type.Object({ name: Opt(Str()), items: Opt(Arr(KeyToPath)), optional: Opt(Bool()) })),
    ),
    secret: Opt(named(def('SecretProjection'), Type.Object({ name: Opt(Str()), items: Opt(Arr(KeyToPath)), optional: Opt(Bool()) }))),
    downwardAPI: Opt(named(def('DownwardAPIProjection'), Type.Object({ items: Opt(Arr(DownwardAPIVolumeFile)) }))),
  }),
);
export const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;

export const HostPathVolumeSource = named(def('HostPathVolumeSource'), Type.Object({ path: Str(), type: Opt(Enum(HOST_PATH_TYPES)) }));

export const VOLUME_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim', 'ephemeral'] as const;

// ---- persistent volume claims: the spec, shared by claims, claim templates and ephemeral volumes ----

/** ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod (checked by validation, as Kubernetes does). */
export const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'] as const;
export const VOLUME_MODES = ['Block', 'Filesystem'] as const;

export const TypedLocalObjectReference = named(
  def('TypedLocalObjectReference'),
  Type.Object({ apiGroup: Opt(Str()), kind: Str(), name: Str() }, { 'x-kubernetes-map-type': 'atomic' }),
);
export const TypedObjectReference = named(
  def('TypedObjectReference'),
  Type.Object({ apiGroup: Opt(Str()), kind: Str(), name: Str(), namespace: Opt(Str()) }),
);

export const PersistentVolumeClaimSpec = named(
  def('PersistentVolumeClaimSpec'),
  Type.Object({
    accessModes: Opt(Arr(Str({ description: 'ReadWriteOnce, ReadOnlyMany, ReadWriteMany or ReadWriteOncePod.' }), { 'x-kubernetes-list-type': 'atomic' })),
    selector: Opt(LabelSelector),
    resources: Opt(named(def('VolumeResourceRequirements'), Type.Object({ limits: Opt(ResourceList), requests: Opt(ResourceList) }))),
    volumeName: Opt(Str({ description: 'The PersistentVolume backing this claim (binding).' })),
    storageClassName: Opt(Str()),
    volumeMode: Opt(Str({ description: 'Filesystem (default) or Block.' })),
    dataSource: Opt(TypedLocalObjectReference),
    dataSourceRef: Opt(TypedObjectReference),
    volumeAttributesClassName: Opt(Str()),
  }),
);
export type PersistentVolumeClaimSpec = Static<typeof PersistentVolumeClaimSpec>;

export const PersistentVolumeClaimTemplate = named(
  def('PersistentVolumeClaimTemplate'),
  Type.Object({ metadata: Opt(ObjectMeta), spec: PersistentVolumeClaimSpec }),
);
export type PersistentVolumeClaimTemplate = Static<typeof PersistentVolumeClaimTemplate>;

export const Volume = named(
  def('Volume'),
  Type.Object({
    name: Str(),
    emptyDir: Opt(named(def('EmptyDirVolumeSource'), Type.Object({ medium: Opt(Enum(['', 'Memory'])), sizeLimit: Opt(Quantity) }))),
    hostPath: Opt(HostPathVolumeSource),
    configMap: Opt(ConfigMapVolumeSource),
    secret: Opt(SecretVolumeSource),
    downwardAPI: Opt(DownwardAPIVolumeSource),
    projected: Opt(named(def('ProjectedVolumeSource'), Type.Object({ sources: Opt(Arr(VolumeProjection)), defaultMode: Opt(Int32()) }))),
    persistentVolumeClaim: Opt(
      named(def('PersistentVolumeClaimVolumeSource'), Type.Object({ claimName: Str(), readOnly: Opt(Bool()) })),
    ),
    ephemeral: Opt(named(def('EphemeralVolumeSource'), Type.Object({ volumeClaimTemplate: Opt(PersistentVolumeClaimTemplate) }))),
  }),
);
export type Volume = Static<typeof Volume>;

// ---- scheduling ----

export const NodeSelectorRequirement = named(
  def('NodeSelectorRequirement'),
  Type.Object({ key: Str(), operator: Enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']), values: Opt(StrArr()) }),
);
export type NodeSelectorRequirement = Static<typeof NodeSelectorRequirement>;
export const NodeSelectorTerm = named(
  def('NodeSelectorTerm'),
  Type.Object(
    { matchExpressions: Opt(Arr(NodeSelectorRequirement)), matchFields: Opt(Arr(NodeSelectorRequirement)) },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
);
export type NodeSelectorTerm = Static<typeof NodeSelectorTerm>;
export const NodeSelector = named(def('NodeSelector'), Type.Object({ nodeSelectorTerms: Arr(NodeSelectorTerm) }));
export const PreferredSchedulingTerm = named(def('PreferredSchedulingTerm'), Type.Object({ weight: Int32(), preference: NodeSelectorTerm }));

export const NodeAffinity = named(
  def('NodeAffinity'),
  Type.Object({
    requiredDuringSchedulingIgnoredDuringExecution: Opt(NodeSelector),
    preferredDuringSchedulingIgnoredDuringExecution: Opt(Arr(PreferredSchedulingTerm)),
  }),
);
export type NodeAffinity = Static<typeof NodeAffinity>;

export const PodAffinityTerm = named(
  def('PodAffinityTerm'),
  Type.Object({
    labelSelector: Opt(LabelSelector),
    namespaces: Opt(StrArr()),
    namespaceSelector: Opt(LabelSelector),
    topologyKey: Str(),
    matchLabelKeys: Opt(StrArr()),
    mismatchLabelKeys: Opt(StrArr()),
  }),
);
export type PodAffinityTerm = Static<typeof PodAffinityTerm>;
export const WeightedPodAffinityTerm = named(def('WeightedPodAffinityTerm'), Type.Object({ weight: Int32(), podAffinityTerm: PodAffinityTerm }));
export type WeightedPodAffinityTerm = Static<typeof WeightedPodAffinityTerm>;

const podAffinityFields = {
  requiredDuringSchedulingIgnoredDuringExecution: Opt(Arr(PodAffinityTerm)),
  preferredDuringSchedulingIgnoredDuringExecution: Opt(Arr(WeightedPodAffinityTerm)),
};
export const PodAffinity = named(def('PodAffinity'), Type.Object(podAffinityFields));
export const PodAntiAffinity = named(def('PodAntiAffinity'), Type.Object(podAffinityFields));
export type PodAffinity = Static<typeof PodAffinity>;

export const Affinity = named(
  def('Affinity'),
  Type.Object({ nodeAffinity: Opt(NodeAffinity), podAffinity: Opt(PodAffinity), podAntiAffinity: Opt(PodAntiAffinity) }),
);
export type Affinity = Static<typeof Affinity>;

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

export const Toleration = named(
  def('Toleration'),
  Type.Object({
    key: Opt(Str()),
    operator: Opt(Enum(['Exists', 'Equal'])),
    value: Opt(Str()),
    effect: Opt(Enum(TAINT_EFFECTS)),
    tolerationSeconds: Opt(Int64()),
  }),
);
export type Toleration = Static<typeof Toleration>;

export const TopologySpreadConstraint = named(
  def('TopologySpreadConstraint'),
  Type.Object({
    maxSkew: Int32(),
    topologyKey: Str(),
    whenUnsatisfiable: Enum(['DoNotSchedule', 'ScheduleAnyway']),
    labelSelector: Opt(LabelSelector),
    minDomains: Opt(Int32()),
    nodeAffinityPolicy: Opt(Enum(['Honor', 'Ignore'])),
    nodeTaintsPolicy: Opt(Enum(['Honor', 'Ignore'])),
    matchLabelKeys: Opt(StrArr()),
  }),
);
export type TopologySpreadConstraint = Static<typeof TopologySpreadConstraint>;

export const PodDNSConfig = named(
  def('PodDNSConfig'),
  Type.Object({
    nameservers: Opt(StrArr()),
    searches: Opt(StrArr()),
    options: Opt(Arr(named(def('PodDNSConfigOption'), Type.Object({ name: Opt(Str()), value: Opt(Str()) })))),
  }),
);

export const HostAlias = named(def('HostAlias'), Type.Object({ ip: Str(), hostnames: Opt(StrArr()) }));

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
export const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] as const;

export const PodSpec = named(
  def('PodSpec'),
  Type.Object(
    {
      volumes: Opt(MergeList(Volume, 'name', { 'x-kubernetes-patch-strategy': 'merge,retainKeys' })),
      initContainers: Opt(MergeList(Container, 'name')),
      containers: MergeList(Container, 'name', { description: 'The containers of the pod; at least one.' }),
      restartPolicy: Opt(Enum(RESTART_POLICIES)),
      terminationGracePeriodSeconds: Opt(Int64({ minimum: 0 })),
      activeDeadlineSeconds: Opt(Int64()),
      dnsPolicy: Opt(Enum(DNS_POLICIES)),
      dnsConfig: Opt(PodDNSConfig),
      nodeSelector: Opt(StrMap({ 'x-kubernetes-map-type': 'atomic' })),
      serviceAccountName: Opt(Str()),
      serviceAccount: Opt(Str({ description: 'Deprecated alias of serviceAccountName.' })),
      automountServiceAccountToken: Opt(Bool()),
      nodeName: Opt(Str()),
      hostNetwork: Opt(Bool()),
      hostPID: Opt(Bool()),
      hostIPC: Opt(Bool()),
      hostUsers: Opt(Bool()),
      shareProcessNamespace: Opt(Bool()),
      securityContext: Opt(PodSecurityContext),
      imagePullSecrets: Opt(MergeList(LocalObjectReference, 'name')),
      hostname: Opt(Str()),
      subdomain: Opt(Str()),
      affinity: Opt(Affinity),
      schedulerName: Opt(Str()),
      tolerations: Opt(Arr(Toleration)),
      hostAliases: Opt(MergeList(HostAlias, 'ip')),
      priorityClassName: Opt(Str()),
      priority: Opt(Int32()),
      readinessGates: Opt(Arr(named(def('PodReadinessGate'), Type.Object({ conditionType: Str() })))),
      runtimeClassName: Opt(Str()),
      enableServiceLinks: Opt(Bool()),
      preemptionPolicy: Opt(Enum(['PreemptLowerPriority', 'Never'])),
      overhead: Opt(ResourceList),
      topologySpreadConstraints: Opt(
        Arr(TopologySpreadConstraint, {
          'x-kubernetes-patch-merge-key': 'topologyKey',
          'x-kubernetes-patch-strategy': 'merge',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['topologyKey', 'whenUnsatisfiable'],
        }),
      ),
      setHostnameAsFQDN: Opt(Bool()),
      schedulingGates: Opt(MergeList(named(def('PodSchedulingGate'), Type.Object({ name: Str() })), 'name')),
    },
    { description: 'The desired behaviour of a pod.' },
  ),
);
export type PodSpec = Static<typeof PodSpec>;

// ---- pod status ----

export const ContainerStateWaiting = named(def('ContainerStateWaiting'), Type.Object({ reason: Opt(Str()), message: Opt(Str()) }));
export const ContainerStateRunning = named(def('ContainerStateRunning'), Type.Object({ startedAt: Opt(Time) }));
export const ContainerStateTerminated = named(
  def('ContainerStateTerminated'),
  Type.Object({
    exitCode: Int32(),
    signal: Opt(Int32()),
    reason: Opt(Str()),
    message: Opt(Str()),
    startedAt: Opt(Time),
    finishedAt: Opt(Time),
    containerID: Opt(Str()),
  }),
);
export const ContainerState = named(
  def('ContainerState'),
  Type.Object({ waiting: Opt(ContainerStateWaiting), running: Opt(ContainerStateRunning), terminated: Opt(ContainerStateTerminated) }),
);
export type ContainerState = Static<typeof ContainerState>;

export const ContainerStatus = named(
  def('ContainerStatus'),
  Type.Object({
    name: Str(),
    state: Opt(ContainerState),
    lastState: Opt(ContainerState),
    ready: Bool(),
    restartCount: Int32(),
    image: Str(),
    imageID: Str(),
    containerID: Opt(Str()),
    started: Opt(Bool()),
    resources: Opt(ResourceRequirements),
  }),
);
export type ContainerStatus = Static<typeof ContainerStatus>;

export const PodCondition = named(
  def('PodCondition'),
  Type.Object({
    type: Str({ description: 'PodScheduled, Initialized, ContainersReady, Ready, or a readiness gate.' }),
    status: ConditionStatus,
    lastProbeTime: Opt(Time),
    lastTransitionTime: Opt(Time),
    reason: Opt(Str()),
    message: Opt(Str()),
  }),
);
export type PodCondition = Static<typeof PodCondition>;

export const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
const IPEntry = (name: string) => named(def(name), Type.Object({ ip: Str() }));

export const PodStatus = named(
  def('PodStatus'),
  Type.Object({
    phase: Opt(Enum(POD_PHASES)),
    conditions: Opt(MergeList(PodCondition, 'type')),
    message: Opt(Str()),
    reason: Opt(Str()),
    nominatedNodeName: Opt(Str()),
    hostIP: Opt(Str()),
    hostIPs: Opt(Arr(IPEntry('HostIP'))),
    podIP: Opt(Str()),
    podIPs: Opt(MergeList(IPEntry('PodIP'), 'ip')),
    startTime: Opt(Time),
    initContainerStatuses: Opt(Arr(ContainerStatus)),
    containerStatuses: Opt(Arr(ContainerStatus)),
    qosClass: Opt(Enum(['Guaranteed', 'Burstable', 'BestEffort'])),
  }),
);
export type PodStatus = Static<typeof PodStatus>;

export const Pod = kindSchema(def('Pod'), 'v1', 'Pod', { spec: PodSpec, status: Opt(PodStatus) }, 'A collection of containers that run together on one node.');
export type Pod = Static<typeof Pod>;

export const PodTemplateSpec = named(
  def('PodTemplateSpec'),
  Type.Object({ metadata: Opt(ObjectMeta), spec: PodSpec }, { description: 'The pods a workload creates.' }),
);
export type PodTemplateSpec = Static<typeof PodTemplateSpec>;

export const Binding = kindSchema(def('Binding'), 'v1', 'Binding', { target: ObjectReference }, 'Binds a pod to a node (pods/binding).');
export type Binding = Static<typeof Binding>;

// ---- Node ----

export const Taint = named(
  def('Taint'),
  Type.Object({ key: Str(), value: Opt(Str()), effect: Enum(TAINT_EFFECTS), timeAdded: Opt(Time) }),
);
export type Taint = Static<typeof Taint>;

export const NodeSpec = named(
  def('NodeSpec'),
  Type.Object({
    podCIDR: Opt(Str()),
    podCIDRs: Opt(SetList()),
    providerID: Opt(Str()),
    unschedulable: Opt(Bool()),
    taints: Opt(Arr(Taint)),
  }),
);
export type NodeSpec = Static<typeof NodeSpec>;

export const NodeCondition = named(
  def('NodeCondition'),
  Type.Object({
    type: Str({ description: 'Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable.' }),
    status: ConditionStatus,
    lastHeartbeatTime: Opt(Time),
    lastTransitionTime: Opt(Time),
    reason: Opt(Str()),
    message: Opt(Str()),
  }),
);
export type NodeCondition = Static<typeof NodeCondition>;

export const NodeAddress = named(
  def('NodeAddress'),
  Type.Object({ type: Enum(['Hostname', 'InternalIP', 'ExternalIP', 'InternalDNS', 'ExternalDNS']), address: Str() }),
);
export type NodeAddress = Static<typeof NodeAddress>;

export const NodeSystemInfo = named(
  def('NodeSystemInfo'),
  // Kubernetes' OpenAPI lists these as required, but the API server does not enforce it ("all status fields are
  // optional"): a partial nodeInfo is accepted.
  Type.Object({
    machineID: Opt(Str()),
    systemUUID: Opt(Str()),
    bootID: Opt(Str()),
    kernelVersion: Opt(Str()),
    osImage: Opt(Str()),
    containerRuntimeVersion: Opt(Str()),
    kubeletVersion: Opt(Str()),
    kubeProxyVersion: Opt(Str()),
    operatingSystem: Opt(Str()),
    architecture: Opt(Str()),
  }),
);
export type NodeSystemInfo = Static<typeof NodeSystemInfo>;

export const NodeStatus = named(
  def('NodeStatus'),
  Type.Object({
    capacity: Opt(ResourceList),
    allocatable: Opt(ResourceList),
    phase: Opt(Str()),
    conditions: Opt(MergeList(NodeCondition, 'type')),
    addresses: Opt(MergeList(NodeAddress, 'type')),
    daemonEndpoints: Opt(
      named(
        def('NodeDaemonEndpoints'),
        Type.Object({ kubeletEndpoint: Opt(named(def('DaemonEndpoint'), Type.Object({ Port: Int32() }))) }),
      ),
    ),
    nodeInfo: Opt(NodeSystemInfo),
    images: Opt(Arr(named(def('ContainerImage'), Type.Object({ names: Opt(StrArr()), sizeBytes: Opt(Int64()) })))),
    volumesInUse: Opt(StrArr()),
    volumesAttached: Opt(Arr(named(def('AttachedVolume'), Type.Object({ name: Str(), devicePath: Str() })))),
  }),
);
export type NodeStatus = Static<typeof NodeStatus>;

export const Node = kindSchema(def('Node'), 'v1', 'Node', { spec: Opt(NodeSpec), status: Opt(NodeStatus) }, 'A worker machine.');
export type Node = Static<typeof Node>;

// ---- Namespace ----

export const NamespaceCondition = named(
  def('NamespaceCondition'),
  Type.Object({ type: Str(), status: ConditionStatus, lastTransitionTime: Opt(Time), reason: Opt(Str()), message: Opt(Str()) }),
);
export const Namespace = kindSchema(
  def('Namespace'),
  'v1',
  'Namespace',
  {
    spec: Opt(named(def('NamespaceSpec'), Type.Object({ finalizers: Opt(StrArr()) }))),
    status: Opt(
      named(
        def('NamespaceStatus'),
        Type.Object({ phase: Opt(Enum(['Active', 'Terminating'])), conditions: Opt(MergeList(NamespaceCondition, 'type')) }),
      ),
    ),
  },
  'A scope for names.',
);
export type Namespace = Static<typeof Namespace>;

// ---- Service ----

export const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;

export const ServicePort = named(
  def('ServicePort'),
  Type.Object({
    name: Opt(Str()),
    protocol: Opt(Protocol),
    appProtocol: Opt(Str()),
    port: Int32(),
    targetPort: Opt(IntOrString),
    nodePort: Opt(Int32()),
  }),
);
export type ServicePort = Static<typeof ServicePort>;

export const ServiceSpec = named(
  def('ServiceSpec'),
  Type.Object({
    ports: Opt(
      Arr(ServicePort, {
        'x-kubernetes-patch-merge-key': 'port',
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['port', 'protocol'],
      }),
    ),
    selector: Opt(StrMap({ 'x-kubernetes-map-type': 'atomic' })),
    clusterIP: Opt(Str()),
    clusterIPs: Opt(Arr(Str(), { 'x-kubernetes-list-type': 'atomic' })),
    type: Opt(Enum(SERVICE_TYPES)),
    externalIPs: Opt(StrArr()),
    sessionAffinity: Opt(Enum(['ClientIP', 'None'])),
    sessionAffinityConfig: Opt(
      named(
        def('SessionAffinityConfig'),
        Type.Object({ clientIP: Opt(named(def('ClientIPConfig'), Type.Object({ timeoutSeconds: Opt(Int32()) }))) }),
      ),
    ),
    loadBalancerIP: Opt(Str()),
    loadBalancerSourceRanges: Opt(StrArr()),
    loadBalancerClass: Opt(Str()),
    externalName: Opt(Str()),
    externalTrafficPolicy: Opt(Enum(['Cluster', 'Local'])),
    internalTrafficPolicy: Opt(Enum(['Cluster', 'Local'])),
    healthCheckNodePort: Opt(Int32()),
    publishNotReadyAddresses: Opt(Bool()),
    ipFamilies: Opt(Arr(Enum(['IPv4', 'IPv6']))),
    ipFamilyPolicy: Opt(Enum(['SingleStack', 'PreferDualStack', 'RequireDualStack'])),
    allocateLoadBalancerNodePorts: Opt(Bool()),
  }),
);
export type ServiceSpec = Static<typeof ServiceSpec>;

export const LoadBalancerIngress = named(
  def('LoadBalancerIngress'),
  Type.Object({
    ip: Opt(Str()),
    hostname: Opt(Str()),
    ports: Opt(Arr(named(def('PortStatus'), Type.Object({ port: Int32(), protocol: Protocol, error: Opt(Str()) })))),
  }),
);
export const ServiceStatus = named(
  def('ServiceStatus'),
  Type.Object({
    loadBalancer: Opt(named(def('LoadBalancerStatus'), Type.Object({ ingress: Opt(Arr(LoadBalancerIngress)) }))),
  }),
);
export const Service = kindSchema(def('Service'), 'v1', 'Service', { spec: ServiceSpec, status: Opt(ServiceStatus) }, 'A named abstraction of a set of pods.');
export type Service = Static<typeof Service>;

// ---- Endpoints ----

export const EndpointAddress = named(
  def('EndpointAddress'),
  Type.Object({ ip: Str(), hostname: Opt(Str()), nodeName: Opt(Str()), targetRef: Opt(ObjectReference) }),
);
export type EndpointAddress = Static<typeof EndpointAddress>;
export const EndpointPort = named(
  def('EndpointPort'),
  Type.Object({ name: Opt(Str()), port: Int32(), protocol: Opt(Protocol), appProtocol: Opt(Str()) }),
);
export type EndpointPort = Static<typeof EndpointPort>;
export const EndpointSubset = named(
  def('EndpointSubset'),
  Type.Object({
    addresses: Opt(Arr(EndpointAddress)),
    notReadyAddresses: Opt(Arr(EndpointAddress)),
    ports: Opt(Arr(EndpointPort)),
  }),
);
export type EndpointSubset = Static<typeof EndpointSubset>;
export const Endpoints = kindSchema(def('Endpoints'), 'v1', 'Endpoints', { subsets: Opt(Arr(EndpointSubset)) }, 'The addresses behind a service.');
export type Endpoints = Static<typeof Endpoints>;

// ---- ConfigMap, Secret ----

const Base64 = Str({ format: 'byte' });

export const ConfigMap = kindSchema(
  def('ConfigMap'),
  'v1',
  'ConfigMap',
  { data: Opt(StrMap()), binaryData: Opt(MapOf(Base64)), immutable: Opt(Bool()) },
  'Configuration data for pods to consume.',
);
export type ConfigMap = Static<typeof ConfigMap>;

export const Secret = kindSchema(
  def('Secret'),
  'v1',
  'Secret',
  {
    data: Opt(MapOf(Base64, { description: 'Base64-encoded values.' })),
    stringData: Opt(StrMap({ description: 'Write-only plain-text values, merged into data on write.' })),
    type: Opt(Str()),
    immutable: Opt(Bool()),
  },
  'Holds secret data of a certain type.',
);
export type Secret = Static<typeof Secret>;

// ---- Event ----

export const EventSource = named(def('EventSource'), Type.Object({ component: Opt(Str()), host: Opt(Str()) }));
export const Event = kindSchema(
  def('Event'),
  'v1',
  'Event',
  {
    involvedObject: ObjectReference,
    reason: Opt(Str()),
    message: Opt(Str()),
    source: Opt(EventSource),
    firstTimestamp: Opt(Time),
    lastTimestamp: Opt(Time),
    count: Opt(Int32()),
    type: Opt(Str({ description: 'Normal or Warning.' })),
    eventTime: Opt(MicroTime),
    series: Opt(named(def('EventSeries'), Type.Object({ count: Opt(Int32()), lastObservedTime: Opt(MicroTime) }))),
    action: Opt(Str()),
    related: Opt(ObjectReference),
    reportingComponent: Opt(Str()),
    reportingInstance: Opt(Str()),
  },
  'A report of something that happened in the cluster.',
);
export type Event = Static<typeof Event>;

// ---- ServiceAccount ----

export const ServiceAccount = kindSchema(
  def('ServiceAccount'),
  'v1',
  'ServiceAccount',
  {
    secrets: Opt(MergeList(ObjectReference, 'name')),
    imagePullSecrets: Opt(Arr(LocalObjectReference)),
    automountServiceAccountToken: Opt(Bool()),
  },
  'An identity for processes that run in a pod.',
);
export type ServiceAccount = Static<typeof ServiceAccount>;

// ---- ReplicationController (the ReplicaSet's predecessor: an equality-only selector) ----

export const ReplicationControllerCondition = named(
  def('ReplicationControllerCondition'),
  Type.Object({ type: Str(), status: ConditionStatus, lastTransitionTime: Opt(Time), reason: Opt(Str()), message: Opt(Str()) }),
);
export const ReplicationController = kindSchema(
  def('ReplicationController'),
  'v1',
  'ReplicationController',
  {
    spec: Opt(
      named(
        def('ReplicationControllerSpec'),
        Type.Object({
          replicas: Opt(Int32()),
          minReadySeconds: Opt(Int32()),
          selector: Opt(StrMap({ 'x-kubernetes-map-type': 'atomic' })),
          template: Opt(PodTemplateSpec),
        }),
      ),
    ),
    status: Opt(
      named(
        def('ReplicationControllerStatus'),
        Type.Object({
          replicas: Int32(),
          fullyLabeledReplicas: Opt(Int32()),
          readyReplicas: Opt(Int32()),
          availableReplicas: Opt(Int32()),
          observedGeneration: Opt(Int64()),
          conditions: Opt(MergeList(ReplicationControllerCondition, 'type')),
        }),
      ),
    ),
  },
  'Keeps a number of pod replicas running (the older form of a ReplicaSet).',
);
export type ReplicationController = Static<typeof ReplicationController>;

// ---- PersistentVolumeClaim ----

export const CLAIM_PHASES = ['Pending', 'Bound', 'Lost'] as const;

export const PersistentVolumeClaimCondition = named(
  def('PersistentVolumeClaimCondition'),
  Type.Object({
    type: Str({ description: 'Resizing, FileSystemResizePending, ControllerResizeError, NodeResizeError, ModifyVolumeError, ModifyingVolume.' }),
    status: ConditionStatus,
    lastProbeTime: Opt(Time),
    lastTransitionTime: Opt(Time),
    reason: Opt(Str()),
    message: Opt(Str()),
  }),
);
export type PersistentVolumeClaimCondition = Static<typeof PersistentVolumeClaimCondition>;

export const PersistentVolumeClaimStatus = named(
  def('PersistentVolumeClaimStatus'),
  Type.Object({
    phase: Opt(Str({ description: 'Pending, Bound or Lost.' })),
    accessModes: Opt(Arr(Str(), { 'x-kubernetes-list-type': 'atomic' })),
    capacity: Opt(ResourceList),
    conditions: Opt(MergeList(PersistentVolumeClaimCondition, 'type')),
    allocatedResources: Opt(ResourceList),
    allocatedResourceStatuses: Opt(StrMap({ 'x-kubernetes-map-type': 'granular' })),
    currentVolumeAttributesClassName: Opt(Str()),
    modifyVolumeStatus: Opt(
      named(def('ModifyVolumeStatus'), Type.Object({ targetVolumeAttributesClassName: Opt(Str()), status: Str() })),
    ),
  }),
);
export type PersistentVolumeClaimStatus = Static<typeof PersistentVolumeClaimStatus>;

/**
 * A user's request for storage. The same definition serves the object and StatefulSet volumeClaimTemplates, where
 * apiVersion, kind and metadata may be left out (as in Kubernetes' OpenAPI).
 */
export const PersistentVolumeClaim = named(
  def('PersistentVolumeClaim'),
  Type.Object(
    {
      apiVersion: Opt(Str({ description: 'The versioned schema of this representation of an object.' })),
      kind: Opt(Str({ description: 'The REST resource this object represents.' })),
      metadata: Opt(ObjectMeta),
      spec: Opt(PersistentVolumeClaimSpec),
      status: Opt(PersistentVolumeClaimStatus),
    },
    { description: "A user's request for and claim to a persistent volume.", 'x-kubernetes-group-version-kind': [groupVersionKind('v1', 'PersistentVolumeClaim')] },
  ),
);
export type PersistentVolumeClaim = Static<typeof PersistentVolumeClaim>;

// ---- PersistentVolume ----

export const RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain'] as const;
export const VOLUME_PHASES = ['Pending', 'Available', 'Bound', 'Released', 'Failed'] as const;

export const SecretReference = named(def('SecretReference'), Type.Object({ name: Opt(Str()), namespace: Opt(Str()) }, { 'x-kubernetes-map-type': 'atomic' }));

export const CSIPersistentVolumeSource = named(
  def('CSIPersistentVolumeSource'),
  Type.Object({
    driver: Str({ description: 'The CSI driver that handles this volume.' }),
    volumeHandle: Str({ description: "The driver's id of the volume." }),
    readOnly: Opt(Bool()),
    fsType: Opt(Str()),
    volumeAttributes: Opt(StrMap()),
    controllerPublishSecretRef: Opt(SecretReference),
    nodeStageSecretRef: Opt(SecretReference),
    nodePublishSecretRef: Opt(SecretReference),
    controllerExpandSecretRef: Opt(SecretReference),
    nodeExpandSecretRef: Opt(SecretReference),
  }),
);

/** The volume sources a PersistentVolume may name (one of them). */
export const PV_SOURCES = ['hostPath', 'local', 'nfs', 'csi'] as const;

export const PersistentVolumeSpec = named(
  def('PersistentVolumeSpec'),
  Type.Object({
    capacity: Opt(ResourceList),
    accessModes: Opt(Arr(Str(), { 'x-kubernetes-list-type': 'atomic' })),
    claimRef: Opt(ObjectReference),
    persistentVolumeReclaimPolicy: Opt(Str({ description: 'Retain (default for volumes made by hand), Delete or Recycle.' })),
    storageClassName: Opt(Str()),
    mountOptions: Opt(Arr(Str(), { 'x-kubernetes-list-type': 'atomic' })),
    volumeMode: Opt(Str({ description: 'Filesystem (default) or Block.' })),
    nodeAffinity: Opt(named(def('VolumeNodeAffinity'), Type.Object({ required: Opt(NodeSelector) }))),
    volumeAttributesClassName: Opt(Str()),
    hostPath: Opt(HostPathVolumeSource),
    local: Opt(named(def('LocalVolumeSource'), Type.Object({ path: Str({ description: 'Full path to the volume on the node.' }), fsType: Opt(Str()) }))),
    nfs: Opt(named(def('NFSVolumeSource'), Type.Object({ server: Str(), path: Str(), readOnly: Opt(Bool()) }))),
    csi: Opt(CSIPersistentVolumeSource),
  }),
);
export type PersistentVolumeSpec = Static<typeof PersistentVolumeSpec>;

export const PersistentVolumeStatus = named(
  def('PersistentVolumeStatus'),
  Type.Object({
    phase: Opt(Str({ description: 'Pending, Available, Bound, Released or Failed.' })),
    message: Opt(Str()),
    reason: Opt(Str()),
    lastPhaseTransitionTime: Opt(Time),
  }),
);
export type PersistentVolumeStatus = Static<typeof PersistentVolumeStatus>;

export const PersistentVolume = kindSchema(
  def('PersistentVolume'),
  'v1',
  'PersistentVolume',
  { spec: Opt(PersistentVolumeSpec), status: Opt(PersistentVolumeStatus) },
  'A piece of storage in the cluster, provisioned by an administrator or dynamically through a StorageClass.',
);
export type PersistentVolume = Static<typeof PersistentVolume>;
