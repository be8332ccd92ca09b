// Defaulting as Kubernetes does it (pkg/apis/*/v1/defaults.go, plus what create strategies fill in):
// applyDefaults mutates and returns the object. Run it before validateObject.
import type { KubeObject } from './schemas/meta.js';
import type {
  Container, Endpoints, Namespace, Node, Pod, PodSpec, PodTemplateSpec, Probe, Secret, Service, Volume,
  LifecycleHandler, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, ReplicationController,
} from './schemas/core.js';
import type { Deployment, ReplicaSet, DaemonSet, StatefulSet } from './schemas/apps.js';
import type { CronJob, Job, JobSpec } from './schemas/batch.js';
import type { EndpointSlice } from './schemas/discovery.js';
import type { PriorityClass } from './schemas/scheduling.js';
import type { CSIDriver, StorageClass } from './schemas/storage.js';
import { RBAC_GROUP, type RoleBinding, type Subject } from './schemas/rbac.js';
import type { HorizontalPodAutoscaler, HPAScalingRules } from './schemas/autoscaling.js';

export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;
export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';
/** 0644: the default file mode of configMap, secret, downwardAPI and projected volumes. */
export const DEFAULT_VOLUME_MODE = 0o644;
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const LEGACY_JOB_NAME_LABEL = 'job-name';
export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';

/**
 * Splits an image reference into tag and digest, as ParseImageName: `busybox` has tag "latest",
 * `localhost:5000/busybox` too (the port is not a tag), `busybox@sha256:...` has a digest and no tag.
 */
export function parseImageRef(image: string): { name: string; tag: string; digest: string } {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : '';
  const ref = at >= 0 ? image.slice(0, at) : image;
  const colon = ref.lastIndexOf(':');
  const hasTag = colon > ref.lastIndexOf('/');
  const name = hasTag ? ref.slice(0, colon) : ref;
  const tag = hasTag ? ref.slice(colon + 1) : digest ? '' : 'latest';
  return { name, tag, digest };
}

/** Always for `:latest` or an untagged image, IfNotPresent otherwise (pinned tag or digest). */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  return image && parseImageRef(image).tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultHandler(h: LifecycleHandler | Probe | undefined): void {
  if (!h?.httpGet) return;
  h.httpGet.path ??= '/';
  h.httpGet.scheme ??= 'HTTP';
}

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  defaultHandler(p);
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
}

function defaultContainer(c: Container): void {
  c.imagePullPolicy ??= defaultPullPolicy(c.image ?? '');
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  for (const e of c.env ?? []) if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  defaultHandler(c.lifecycle?.postStart);
  defaultHandler(c.lifecycle?.preStop);
}

const VOLUME_SOURCE_KEYS = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim', 'ephemeral'] as const;

function defaultVolume(v: Volume): void {
  // A volume without a source is an emptyDir (SetDefaults_Volume).
  if (VOLUME_SOURCE_KEYS.every((k) => v[k] === undefined) && !Object.keys(v).some((k) => k !== 'name')) v.emptyDir = {};
  if (v.hostPath) v.hostPath.type ??= '';
  if (v.ephemeral?.volumeClaimTemplate?.spec) defaultClaimSpec(v.ephemeral.volumeClaimTemplate.spec);
  if (v.configMap) v.configMap.defaultMode ??= DEFAULT_VOLUME_MODE;
  if (v.secret) v.secret.defaultMode ??= DEFAULT_VOLUME_MODE;
  if (v.downwardAPI) {
    v.downwardAPI.defaultMode ??= DEFAULT_VOLUME_MODE;
    for (const it of v.downwardAPI.items ?? []) if (it.fieldRef) it.fieldRef.apiVersion ??= 'v1';
  }
  if (v.projected) {
    v.projected.defaultMode ??= DEFAULT_VOLUME_MODE;
    for (const s of v.projected.sources ?? []) {
      if (s.serviceAccountToken) s.serviceAccountToken.expirationSeconds ??= 3600;
      for (const it of s.downwardAPI?.items ?? []) if (it.fieldRef) it.fieldRef.apiVersion ??= 'v1';
    }
  }
}

/** SetDefaults_PodSpec: shared by pods and the templates of workloads. */
export function defaultPodSpec(spec: PodSpec): PodSpec {
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.restartPolicy ??= 'Always';
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
  spec.schedulerName ??= DEFAULT_SCHEDULER_NAME;
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const v of spec.volumes ?? []) defaultVolume(v);
  if (spec.hostNetwork) {
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      for (const p of c.ports ?? []) if (!p.hostPort) p.hostPort = p.containerPort;
    }
  }
  return spec;
}

function defaultTemplate(t: PodTemplateSpec | undefined): void {
  if (t?.spec) defaultPodSpec(t.spec);
}

/** SetDefaults_Pod: the pod spec defaults plus requests from limits and service links. */
function defaultPod(pod: Pod): void {
  if (!pod.spec) return;
  defaultPodSpec(pod.spec);
  pod.spec.enableServiceLinks ??= true;
  for (const c of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])]) {
    const limits = c.resources?.limits;
    if (!c.resources || !limits) continue;
    // A resource with a limit and no request requests its limit.
    const requests = (c.resources.requests ??= {});
    for (const [name, q] of Object.entries(limits)) if (requests[name] === undefined) requests[name] = q;
  }
}

function defaultService(svc: Service): void {
  const spec = svc.spec;
  if (!spec) return;
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const clientIP = ((spec.sessionAffinityConfig ??= {}).clientIP ??= {});
    clientIP.timeoutSeconds ??= 10800;
  }
  for (const p of spec.ports ?? []) {
    p.protocol ??= 'TCP';
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer' || (spec.type === 'ClusterIP' && (spec.externalIPs ?? []).length > 0);
  if (external) spec.externalTrafficPolicy ??= 'Cluster';
  if (spec.type !== 'ExternalName') spec.internalTrafficPolicy ??= 'Cluster';
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
}

function defaultNamespace(ns: Namespace): void {
  const name = ns.metadata.name;
  if (name) (ns.metadata.labels ??= {})[NAMESPACE_NAME_LABEL] = name;
  const spec = (ns.spec ??= {});
  spec.finalizers ??= ['kubernetes'];
  const status = (ns.status ??= {});
  status.phase ??= 'Active';
}

function defaultNode(node: Node): void {
  // Allocatable defaults to capacity.
  if (node.status?.capacity && !node.status.allocatable) node.status.allocatable = { ...node.status.capacity };
}

/** stringData is write-only: it is merged into data (base64) and dropped, as the v1 conversion does. */
function defaultSecret(s: Secret): void {
  s.type ??= 'Opaque';
  if (s.stringData) {
    const data = (s.data ??= {});
    for (const [k, v] of Object.entries(s.stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
    delete s.stringData;
  }
}

function defaultEndpoints(ep: Endpoints): void {
  for (const s of ep.subsets ?? []) for (const p of s.ports ?? []) p.protocol ??= 'TCP';
}

/** SetDefaults_EndpointPort: an unnamed port gets the name "", a port without protocol TCP. */
function defaultEndpointSlice(s: EndpointSlice): void {
  for (const p of s.ports ?? []) {
    p.name ??= '';
    p.protocol ??= 'TCP';
  }
}

function defaultDeployment(d: Deployment): void {
  const spec = d.spec;
  if (!spec) return;
  spec.replicas ??= 1;
  const strategy = (spec.strategy ??= {});
  strategy.type ??= 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = (strategy.rollingUpdate ??= {});
    ru.maxUnavailable ??= '25%';
    ru.maxSurge ??= '25%';
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  defaultTemplate(spec.template);
}

function defaultReplicaSet(rs: ReplicaSet): void {
  if (!rs.spec) return;
  rs.spec.replicas ??= 1;
  defaultTemplate(rs.spec.template);
}

/** SetDefaults_ReplicationController: selector and labels from the template's labels when empty, one replica. */
function defaultReplicationController(rc: ReplicationController): void {
  const spec = (rc.spec ??= {});
  const labels = spec.template?.metadata?.labels;
  if (labels) {
    if (!Object.keys(spec.selector ?? {}).length) spec.selector = { ...labels };
    if (!Object.keys(rc.metadata.labels ?? {}).length) rc.metadata.labels = { ...labels };
  }
  spec.replicas ??= 1;
  defaultTemplate(spec.template);
}

function defaultDaemonSet(ds: DaemonSet): void {
  const spec = ds.spec;
  if (!spec) return;
  const us = (spec.updateStrategy ??= {});
  us.type ??= 'RollingUpdate';
  if (us.type === 'RollingUpdate') {
    const ru = (us.rollingUpdate ??= {});
    ru.maxUnavailable ??= 1;
    ru.maxSurge ??= 0;
  }
  spec.revisionHistoryLimit ??= 10;
  defaultTemplate(spec.template);
}

/** SetDefaults_PersistentVolumeClaimSpec. */
function defaultClaimSpec(spec: PersistentVolumeClaimSpec): void {
  spec.volumeMode ??= 'Filesystem';
}

/** SetDefaults_PersistentVolumeClaim (also StatefulSet volumeClaimTemplates). */
function defaultClaim(pvc: PersistentVolumeClaim): void {
  defaultClaimSpec((pvc.spec ??= {}));
  (pvc.status ??= {}).phase ||= 'Pending';
}

/** SetDefaults_PersistentVolume: Retain what was made by hand, Filesystem mode, Pending until the controller looks. */
function defaultPersistentVolume(pv: PersistentVolume): void {
  const spec = (pv.spec ??= {});
  spec.persistentVolumeReclaimPolicy ||= 'Retain';
  spec.volumeMode ??= 'Filesystem';
  if (spec.hostPath) spec.hostPath.type ??= '';
  (pv.status ??= {}).phase ||= 'Pending';
}

/** SetDefaults_StorageClass. */
function defaultStorageClass(sc: StorageClass): void {
  sc.reclaimPolicy ??= 'Delete';
  sc.volumeBindingMode ??= 'Immediate';
}

/** SetDefaults_CSIDriver. */
function defaultCSIDriver(d: CSIDriver): void {
  const spec = (d.spec ??= {});
  spec.attachRequired ??= true;
  spec.podInfoOnMount ??= false;
  spec.storageCapacity ??= false;
  spec.fsGroupPolicy ??= 'ReadWriteOnceWithFSType';
  spec.requiresRepublish ??= false;
  spec.seLinuxMount ??= false;
  if (!spec.volumeLifecycleModes?.length) spec.volumeLifecycleModes = ['Persistent'];
}

function defaultStatefulSet(ss: StatefulSet): void {
  const spec = ss.spec;
  if (!spec) return;
  spec.replicas ??= 1;
  spec.podManagementPolicy ??= 'OrderedReady';
  const us = (spec.updateStrategy ??= {});
  us.type ??= 'RollingUpdate';
  if (us.type === 'RollingUpdate') (us.rollingUpdate ??= {}).partition ??= 0;
  spec.revisionHistoryLimit ??= 10;
  const retention = (spec.persistentVolumeClaimRetentionPolicy ??= {});
  retention.whenDeleted ??= 'Retain';
  retention.whenScaled ??= 'Retain';
  for (const pvc of spec.volumeClaimTemplates ?? []) defaultClaim(pvc);
  defaultTemplate(spec.template);
}

/**
 * The selector a Job gets unless spec.manualSelector is true (the job strategy's generateSelector):
 * the pods carry the job's uid and name as labels, and the selector matches the uid.
 */
export function generateJobSelector(job: Job): void {
  const uid = job.metadata.uid;
  if (!uid || job.spec.manualSelector === true) return;
  const template = (job.spec.template ??= { spec: { containers: [] } });
  const labels = ((template.metadata ??= {}).labels ??= {});
  const name = job.metadata.name ?? '';
  for (const k of [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL]) labels[k] ??= name;
  for (const k of [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL]) labels[k] ??= uid;
  const matchLabels = ((job.spec.selector ??= {}).matchLabels ??= {});
  matchLabels[CONTROLLER_UID_LABEL] ??= uid;
}

/** SetDefaults_Job's spec part. */
function defaultJobSpec(spec: JobSpec): void {
  if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
  spec.parallelism ??= 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex !== undefined ? 2147483647 : 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  defaultPodFailurePolicy(spec);
  defaultTemplate(spec.template);
}

function defaultPodFailurePolicy(spec: JobSpec): void {
  for (const rule of spec.podFailurePolicy?.rules ?? []) for (const c of rule.onPodConditions ?? []) c.status ??= 'True';
}

function defaultJob(job: Job): void {
  const spec = job.spec;
  if (!spec) return;
  defaultJobSpec(spec);
  // A job without labels takes its template's.
  const templateLabels = spec.template?.metadata?.labels;
  if (templateLabels && Object.keys(job.metadata.labels ?? {}).length === 0) job.metadata.labels = { ...templateLabels };
  // Needs metadata.uid, so it takes effect once the API server has assigned one (before validation). A selector the
  // user wrote without manualSelector gets the uid added, and fails validation if it then cannot match (as in kube).
  generateJobSelector(job);
}

function defaultCronJob(cj: CronJob): void {
  const spec = cj.spec;
  if (!spec) return;
  spec.concurrencyPolicy ??= 'Allow';
  spec.suspend ??= false;
  spec.successfulJobsHistoryLimit ??= 3;
  spec.failedJobsHistoryLimit ??= 1;
  // As SetObjectDefaults_CronJob: the template's pod spec and failure-policy patterns, not SetDefaults_Job (the Job
  // made from it is defaulted when it is created).
  const js = spec.jobTemplate?.spec;
  if (!js) return;
  defaultPodFailurePolicy(js);
  defaultTemplate(js.template);
}

function defaultPriorityClass(pc: PriorityClass): void {
  pc.preemptionPolicy ??= 'PreemptLowerPriority';
}

/** rbac/v1 SetDefaults_RoleBinding/ClusterRoleBinding and SetDefaults_Subject. */
function defaultBinding(b: Pick<RoleBinding, 'roleRef' | 'subjects'>): void {
  if (b.roleRef && typeof b.roleRef === 'object' && !b.roleRef.apiGroup) b.roleRef.apiGroup = RBAC_GROUP;
  for (const s of (Array.isArray(b.subjects) ? b.subjects : []) as Partial<Subject>[]) {
    if (s && typeof s === 'object' && !s.apiGroup && (s.kind === 'User' || s.kind === 'Group')) s.apiGroup = RBAC_GROUP;
  }
}

/** The CPU utilization an HPA without metrics targets (kube's autoscaling.DefaultCPUUtilization). */
export const DEFAULT_CPU_UTILIZATION = 80;

/** kube's default scaling rules: up by 4 pods or 100% per 15 s, down by 100% per 15 s (its window from the controller's flag). */
const DEFAULT_SCALE_UP: HPAScalingRules = { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] };
const DEFAULT_SCALE_DOWN: HPAScalingRules = { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };

/** Scaling rules with each unset field from the defaults (kube's copyHPAScalingRules). */
export function withDefaultScalingRules(rules: HPAScalingRules | undefined, direction: 'up' | 'down'): HPAScalingRules {
  const out = structuredClone(direction === 'up' ? DEFAULT_SCALE_UP : DEFAULT_SCALE_DOWN);
  if (rules?.selectPolicy !== undefined) out.selectPolicy = rules.selectPolicy;
  if (rules?.stabilizationWindowSeconds !== undefined) out.stabilizationWindowSeconds = rules.stabilizationWindowSeconds;
  if (rules?.policies !== undefined) out.policies = rules.policies;
  return out;
}

/** autoscaling/v2 SetDefaults_HorizontalPodAutoscaler: minReplicas 1, CPU at 80% without metrics, a behavior filled in. */
function defaultHorizontalPodAutoscaler(hpa: HorizontalPodAutoscaler): void {
  const spec = hpa.spec;
  if (!spec || typeof spec !== 'object') return;
  spec.minReplicas ??= 1;
  if (!spec.metrics?.length) spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } }];
  if (spec.behavior && typeof spec.behavior === 'object') {
    spec.behavior.scaleUp = withDefaultScalingRules(spec.behavior.scaleUp, 'up');
    spec.behavior.scaleDown = withDefaultScalingRules(spec.behavior.scaleDown, 'down');
  }
}

const DEFAULTERS: Record<string, (obj: never) => void> = {
  'v1/Pod': defaultPod,
  'v1/Service': defaultService,
  'v1/Namespace': defaultNamespace,
  'v1/Node': defaultNode,
  'v1/Secret': defaultSecret,
  'v1/Endpoints': defaultEndpoints,
  'v1/ReplicationController': defaultReplicationController,
  'discovery.k8s.io/v1/EndpointSlice': defaultEndpointSlice,
  'apps/v1/Deployment': defaultDeployment,
  'apps/v1/ReplicaSet': defaultReplicaSet,
  'apps/v1/DaemonSet': defaultDaemonSet,
  'apps/v1/StatefulSet': defaultStatefulSet,
  'batch/v1/Job': defaultJob,
  'batch/v1/CronJob': defaultCronJob,
  'autoscaling/v2/HorizontalPodAutoscaler': defaultHorizontalPodAutoscaler,
  'scheduling.k8s.io/v1/PriorityClass': defaultPriorityClass,
  'v1/PersistentVolume': defaultPersistentVolume,
  'v1/PersistentVolumeClaim': defaultClaim,
  'storage.k8s.io/v1/StorageClass': defaultStorageClass,
  'storage.k8s.io/v1/CSIDriver': defaultCSIDriver,
  'rbac.authorization.k8s.io/v1/RoleBinding': defaultBinding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': defaultBinding,
};

/** Fills in the defaults of the object's kind, in place; kinds without defaults are returned as is. */
export function applyDefaults<T extends KubeObject>(obj: T): T {
  const defaulter = DEFAULTERS[`${obj.apiVersion}/${obj.kind}`] as ((o: T) => void) | undefined;
  obj.metadata ??= {};
  defaulter?.(obj);
  return obj;
}
