// What informer caches keep of an object (client-go's SetTransform): the caches of the scheduler and the controller
// manager hold tens of thousands of pods, so each keeps only what its users read, built so that V8 lays them out
// alike. Objects are built by adding properties one at a time to a fresh object (never object spread or rest
// destructuring): V8 then finds each layout in its tree of shapes and every pod shares it; spread copies (CloneObject)
// left each cached pod's spec and status with a shape of its own (~0.9 KB per pod in the scheduler at 9,000 pods:
// 9,000 shapes, descriptor arrays and enum caches), and `delete` turns an object into a dictionary (more again).
import type { Container, Pod } from '../api/index.js';
import type { ObjectLike } from './rest.js';
import { cachedStrings, cachedStructures } from './string-pool.js';

/** A copy of obj without the keys dropped, built property by property (shapes shared; see above). */
export function without<T extends object>(obj: T, dropped: ReadonlySet<string>): T {
  const out: Record<string, unknown> = {};
  const src = obj as Record<string, unknown>;
  for (const k in src) if (!dropped.has(k)) out[k] = src[k];
  return out as T;
}

const MANAGED_FIELDS = new Set(['managedFields']);

/** A transform for caches of components that never read field ownership (kube's scheduler and controller manager strip it too). */
export function stripManagedFields<T extends ObjectLike>(obj: T): T {
  if (obj.metadata?.managedFields === undefined) return obj;
  obj.metadata = without(obj.metadata, MANAGED_FIELDS);
  return obj;
}

/**
 * The controllers' cache form: no field ownership, and the string values many objects repeat held once per thread
 * (StringPool). Objects in an informer's cache are shared and never changed, so shared strings are safe.
 */
export function cachedForm<T extends ObjectLike>(obj: T): T {
  return cachedStrings.share(stripManagedFields(obj));
}

/** The fields of a container that schedulers and controllers read: requests and limits, ports, the image, sidecar-ness. */
export function slimContainer(c: Container): Container {
  const out: Container = { name: c.name, image: c.image };
  if (c.resources !== undefined) out.resources = c.resources;
  if (c.ports !== undefined) out.ports = c.ports;
  if (c.restartPolicy !== undefined) out.restartPolicy = c.restartPolicy;
  return out;
}

/** The volumes that name a claim (persistentVolumeClaim, ephemeral), or undefined when none does. */
export function claimVolumes(volumes: Pod['spec']['volumes']): Pod['spec']['volumes'] {
  const claimed = volumes?.filter((v) => v.persistentVolumeClaim || v.ephemeral);
  return claimed?.length ? claimed : undefined;
}

const CUT_SPEC = new Set(['volumes', 'containers', 'initContainers']);

/** A pod spec with its containers cut to slimContainer and of its volumes only those that name a claim. */
export function slimPodSpec(spec: Pod['spec']): Pod['spec'] {
  const out = without(spec, CUT_SPEC);
  out.containers = spec.containers.map(slimContainer);
  if (spec.initContainers) out.initContainers = spec.initContainers.map(slimContainer);
  const claimed = claimVolumes(spec.volumes);
  if (claimed) out.volumes = claimed;
  return out;
}

type ContainerStatus = NonNullable<NonNullable<Pod['status']>['containerStatuses']>[number];

/** A container's status without what no controller reads: its container id (unique), last state and resources. */
function slimContainerStatus(c: ContainerStatus): ContainerStatus {
  const out: ContainerStatus = { name: c.name, ready: c.ready, restartCount: c.restartCount, image: c.image, imageID: c.imageID };
  if (c.state !== undefined) out.state = c.state;
  if (c.started !== undefined) out.started = c.started;
  return out;
}

const CUT_STATUS = new Set(['hostIPs', 'containerStatuses', 'initContainerStatuses']);

function controllerPodStatus(st: NonNullable<Pod['status']>): NonNullable<Pod['status']> {
  const out = without(st, CUT_STATUS);
  if (st.initContainerStatuses) out.initContainerStatuses = st.initContainerStatuses.map(slimContainerStatus);
  if (st.containerStatuses) out.containerStatuses = st.containerStatuses.map(slimContainerStatus);
  return out;
}

/**
 * The controller manager's pods: cachedForm with the spec cut as the scheduler cuts it (slimPodSpec) and the status
 * without what no controller reads (hostIPs, the containers' ids, last states and resources). What its controllers
 * read of a pod's spec: the node, tolerations, the containers' ports (endpoints), requests (autoscaling) and restart
 * policy (sidecars), the volumes that name a claim (claim protection, ephemeral volumes, StatefulSets). A controller
 * that writes a whole pod or its whole status back starts from the stored pod, never from the cache's.
 */
export function controllerPodForm<T extends ObjectLike>(obj: T): T {
  const pod = obj as unknown as Pod;
  if (pod.spec) pod.spec = slimPodSpec(pod.spec);
  if (pod.status) pod.status = controllerPodStatus(pod.status);
  return sharePodParts(cachedForm(pod)) as unknown as T;
}

/** The controller manager's transform of a resource type's informer: controllerPodForm for pods, cachedForm otherwise. */
export function controllerCacheForm(ref: { group: string; resource: string }): <T extends ObjectLike>(obj: T) => T {
  return ref.group === '' && ref.resource === 'pods' ? controllerPodForm : cachedForm;
}

/** Parts of a pod spec that a workload's pods repeat (pooled whole; containers and the like element by element). */
const SPEC_PARTS = ['securityContext', 'tolerations', 'nodeSelector', 'affinity', 'topologySpreadConstraints', 'readinessGates', 'dnsConfig', 'overhead', 'schedulingGates'];
const SPEC_LISTS = ['containers', 'initContainers', 'volumes'];
const STATUS_LISTS = ['conditions', 'containerStatuses', 'initContainerStatuses'];

/**
 * The parts of a cached pod that its siblings repeat replaced by their pooled copies (StructurePool): labels, owner
 * references, containers, tolerations, security context, conditions and container statuses of the same second. Runs
 * after the strings are shared (the pooled parts are frozen). ~0.6 KB less per pod in each cache that holds pods.
 */
export function sharePodParts(pod: Pod): Pod {
  const p = cachedStructures;
  const m = pod.metadata;
  if (m?.labels) m.labels = p.get(m.labels);
  if (m?.ownerReferences) m.ownerReferences = p.elements(m.ownerReferences);
  const spec = pod.spec as unknown as Record<string, unknown> | undefined;
  if (spec) {
    for (const k of SPEC_PARTS) if (spec[k] !== undefined) spec[k] = p.get(spec[k]);
    for (const k of SPEC_LISTS) if (spec[k] !== undefined) spec[k] = p.elements(spec[k] as unknown[]);
  }
  const status = pod.status as Record<string, unknown> | undefined;
  if (status) for (const k of STATUS_LISTS) if (status[k] !== undefined) status[k] = p.elements(status[k] as unknown[]);
  return pod;
}
