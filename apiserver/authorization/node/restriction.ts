// NodeRestriction admission (plugin/pkg/admission/noderestriction): what a node (system:node:<name>) may write of the
// objects the Node authorizer lets it reach: only its own Node (not its taints, nor node-restriction or unknown
// kubernetes.io labels, nor, in ketch, its pod CIDR), its own Lease, its pods' status, mirror pods bound to itself,
// evictions of its pods, tokens bound to its pods, and only the status of its pods' claims. ketch adds one write of
// PersistentVolumes: the removal of the local-path cleanup finalizer from a volume pinned to the node.
import { errors, type ApiError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
import { LOCAL_PATH_CLEANUP_FINALIZER } from '../../../api/storage.js';
import { deepEqual } from '../../../api/field.js';
import { forbiddenBy } from '../../admission/namespace-lifecycle.js';
import { isObject, type JsonObject } from '../../registry/object.js';
import type { AdmissionCheck, AdmissionRequest } from '../types.js';
import { nodeIdentity, NODE_LEASE_NAMESPACE } from './authorizer.js';
import { MIRROR_POD_ANNOTATION, podRefs } from './pod-refs.js';

export interface NodeRestrictionDeps {
  /** Lookups from the stores' caches; undefined when absent. */
  getPod(namespace: string, name: string): Promise<KubeObject | undefined>;
  getNode(name: string): Promise<KubeObject | undefined>;
}

const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const nodeNameOf = (pod: KubeObject | undefined): string => str(obj(pod?.spec).nodeName);

/** Labels a kubelet may set on its own Node (kubelet's IsKubeletLabel). */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];
const NODE_RESTRICTION_NAMESPACE = 'node-restriction.kubernetes.io';

const labelNamespace = (key: string): string => (key.includes('/') ? key.slice(0, key.indexOf('/')) : '');
const inNamespace = (ns: string, domain: string): boolean => ns === domain || ns.endsWith(`.${domain}`);

function isKubeletLabel(key: string): boolean {
  if (KUBELET_LABELS.has(key)) return true;
  const ns = labelNamespace(key);
  return KUBELET_LABEL_NAMESPACES.some((d) => inNamespace(ns, d));
}

/** The label keys a node may not add, remove or change (getForbiddenLabels), sorted. */
export function forbiddenLabels(next: Record<string, string> | undefined, prev: Record<string, string> | undefined): string[] {
  const a = next ?? {};
  const b = prev ?? {};
  const modified = new Set([...Object.keys(a).filter((k) => a[k] !== b[k]), ...Object.keys(b).filter((k) => a[k] !== b[k])]);
  return [...modified]
    .filter((k) => {
      const ns = labelNamespace(k);
      if (inNamespace(ns, NODE_RESTRICTION_NAMESPACE)) return true;
      return (inNamespace(ns, 'kubernetes.io') || inNamespace(ns, 'k8s.io')) && !isKubeletLabel(k);
    })
    .sort();
}

const podCidrs = (node: KubeObject | undefined): unknown => {
  const spec = obj(node?.spec);
  return [spec.podCIDR ?? '', spec.podCIDRs ?? []];
};

export function nodeRestriction(deps: NodeRestrictionDeps): AdmissionCheck {
  return async (req) => {
    const node = nodeIdentity(req.user);
    if (node === undefined) return;
    const refuse = (why: string): ApiError =>
      forbiddenBy({ group: req.group, resource: req.resource }, req.name || req.obj?.metadata.name || req.obj?.metadata.generateName || 'Unknown', why);
    if (node === '') throw refuse(`could not determine node from user ${JSON.stringify(req.user.name)}`);
    const gr = req.group === '' ? req.resource : `${req.resource}.${req.group}`;
    switch (gr) {
      case 'pods':
        return admitPod(node, req, deps, refuse);
      case 'nodes':
        return admitNode(node, req, refuse);
      case 'persistentvolumeclaims':
        if (req.subresource !== 'status') throw refuse('may only update PVC status');
        return admitPvcStatus(node, req, refuse);
      case 'persistentvolumes':
        return admitPersistentVolume(node, req, refuse);
      case 'serviceaccounts':
        return admitServiceAccount(node, req, deps, refuse);
      case 'leases.coordination.k8s.io':
        if (req.namespace !== NODE_LEASE_NAMESPACE) throw refuse(`can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`);
        if ((req.operation === 'create' ? req.obj?.metadata.name : req.name) !== node) throw refuse('can only access node lease with the same name as the requesting node');
        return;
      case 'csinodes.storage.k8s.io':
        if ((req.operation === 'create' ? req.obj?.metadata.name : req.name) !== node) throw refuse('can only access CSINode with the same name as the requesting node');
        return;
      default:
        return;
    }
  };
}

type Refuse = (why: string) => ApiError;

/** The pod a request is about; kube answers its NotFound as is. */
async function existingPod(deps: NodeRestrictionDeps, namespace: string, name: string): Promise<KubeObject> {
  const pod = await deps.getPod(namespace, name);
  if (!pod) throw errors.notFound({ group: '', resource: 'pods', name });
  return pod;
}

async function admitPod(node: string, req: AdmissionRequest, deps: NodeRestrictionDeps, refuse: Refuse): Promise<void> {
  const q = JSON.stringify(node);
  switch (req.subresource) {
    case '':
      if (req.operation === 'create') return admitMirrorPod(node, req.obj, deps, refuse);
      if (req.operation === 'delete') {
        const existing = await existingPod(deps, req.namespace, req.name);
        if (nodeNameOf(existing) !== node) throw refuse(`node ${q} can only delete pods with spec.nodeName set to itself`);
        return;
      }
      throw refuse(`unexpected operation ${JSON.stringify(req.operation)}, node ${q} can only create and delete mirror pods`);
    case 'status': {
      if (req.operation !== 'update') throw refuse(`unexpected operation ${JSON.stringify(req.operation)}`);
      if (nodeNameOf(req.old) !== node) throw refuse(`node ${q} can only update pod status for pods with spec.nodeName set to itself`);
      if (!deepEqual(req.old?.metadata.labels ?? {}, req.obj?.metadata.labels ?? {})) throw refuse(`node ${q} cannot update labels through pod status`);
      if (!deepEqual(obj(req.old?.status).resourceClaimStatuses ?? [], obj(req.obj?.status).resourceClaimStatuses ?? [])) throw refuse(`node ${q} cannot update resource claim statues`);
      return;
    }
    case 'eviction': {
      if (req.operation !== 'create') throw refuse(`unexpected operation ${req.operation}`);
      const podName = req.name || (req.obj?.metadata.name ?? '');
      if (!podName) throw refuse('could not determine pod from request data');
      const existing = await existingPod(deps, req.namespace, podName);
      if (nodeNameOf(existing) !== node) throw refuse(`node ${node} can only evict pods with spec.nodeName set to itself`);
      return;
    }
    default:
      throw refuse(`unexpected pod subresource ${JSON.stringify(req.subresource)}, only 'status' and 'eviction' are allowed`);
  }
}

/** A node creates only mirror pods of its own, owned by its Node, naming no other object. */
async function admitMirrorPod(node: string, pod: KubeObject | undefined, deps: NodeRestrictionDeps, refuse: Refuse): Promise<void> {
  const q = JSON.stringify(node);
  if (!pod) throw refuse('unexpected type <nil>');
  if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] === undefined) throw refuse(`pod does not have ${JSON.stringify(MIRROR_POD_ANNOTATION)} annotation, node ${q} can only create mirror pods`);
  if (nodeNameOf(pod) !== node) throw refuse(`node ${q} can only create pods with spec.nodeName set to itself`);
  const owners = pod.metadata.ownerReferences ?? [];
  if (owners.length > 1) throw refuse(`node ${q} can only create pods with a single owner reference set to itself`);
  const owner = owners[0];
  if (!owner || owner.apiVersion !== 'v1' || owner.kind !== 'Node' || owner.name !== node) throw refuse(`node ${q} can only create pods with an owner reference set to itself`);
  if (owner.controller !== true) throw refuse(`node ${q} can only create pods with a controller owner reference set to itself`);
  if (owner.blockOwnerDeletion === true) throw refuse(`node ${q} must not set blockOwnerDeletion on an owner reference`);
  const self = await deps.getNode(node);
  if (!self) throw refuse(`error looking up node ${node} to verify uid: nodes "${node}" not found`);
  if (owner.uid !== self.metadata.uid) throw refuse(`node ${node} UID mismatch: expected ${owner.uid} got ${self.metadata.uid ?? ''}`);
  const refs = podRefs(pod as unknown as JsonObject);
  if (refs.serviceAccount) throw refuse(`node ${q} can not create pods that reference a service account`);
  if (refs.secrets.length) throw refuse(`node ${q} can not create pods that reference secrets`);
  if (refs.configMaps.length) throw refuse(`node ${q} can not create pods that reference configmaps`);
  const volumes = Array.isArray(obj(pod.spec).volumes) ? (obj(pod.spec).volumes as unknown[]).map(obj) : [];
  if (volumes.some((v) => (Array.isArray(obj(v.projected).sources) ? (obj(v.projected).sources as unknown[]) : []).some((s) => isObject(obj(s).clusterTrustBundle)))) {
    throw refuse(`node ${q} can not create pods that reference clustertrustbundles`);
  }
  if (volumes.some((v) => isObject(v.persistentVolumeClaim))) throw refuse(`node ${q} can not create pods that reference persistentvolumeclaims`);
}

function admitNode(node: string, req: AdmissionRequest, refuse: Refuse): void {
  const q = JSON.stringify(node);
  const name = req.name || (req.obj?.metadata.name ?? '');
  if (name !== node) throw refuse(`node ${q} is not allowed to modify node ${JSON.stringify(name)}`);
  const next = req.obj;
  if (req.operation === 'create') {
    if (obj(next?.spec).configSource !== undefined) throw refuse(`node ${q} is not allowed to create pods with a non-nil configSource`);
    const labels = forbiddenLabels(next?.metadata.labels, undefined);
    if (labels.length) throw refuse(`node ${q} is not allowed to set the following labels: ${labels.join(', ')}`);
    // ketch: a pod CIDR becomes a route on every host, so only the controller manager's IPAM may set it.
    if (!deepEqual(podCidrs(next), podCidrs(undefined))) throw refuse(`node ${q} is not allowed to set spec.podCIDR or spec.podCIDRs`);
    return;
  }
  if (req.operation !== 'update') return;
  const old = req.old;
  const source = obj(next?.spec).configSource;
  if (source !== undefined && !deepEqual(source, obj(old?.spec).configSource)) throw refuse(`node ${q} is not allowed to update configSource to a new non-nil configSource`);
  if (!deepEqual(obj(next?.spec).taints ?? [], obj(old?.spec).taints ?? [])) throw refuse(`node ${q} is not allowed to modify taints`);
  const labels = forbiddenLabels(next?.metadata.labels, old?.metadata.labels);
  if (labels.length) throw refuse(`is not allowed to modify labels: ${labels.join(', ')}`);
  if (!deepEqual(podCidrs(next), podCidrs(old))) throw refuse(`node ${q} is not allowed to modify spec.podCIDR or spec.podCIDRs`);
}

/** Only status.capacity, status.conditions (and the expansion-recovery fields) may change. */
function admitPvcStatus(node: string, req: AdmissionRequest, refuse: Refuse): void {
  if (req.operation !== 'update') throw refuse(`unexpected operation ${JSON.stringify(req.operation)}`);
  const strip = (pvc: KubeObject | undefined): unknown => {
    if (!pvc) return undefined;
    const { resourceVersion: _rv, managedFields: _mf, ...metadata } = pvc.metadata;
    const { capacity: _c, conditions: _k, allocatedResourceStatuses: _a, allocatedResources: _r, ...status } = obj(pvc.status);
    return { ...pvc, metadata, status };
  };
  if (!deepEqual(strip(req.obj), strip(req.old))) throw refuse(`node ${JSON.stringify(node)} is not allowed to update fields other than status.capacity and status.conditions`);
}

/** A token a node asks for must be bound to a pod of its own, by uid. */
async function admitServiceAccount(node: string, req: AdmissionRequest, deps: NodeRestrictionDeps, refuse: Refuse): Promise<void> {
  if (req.operation !== 'create' || req.subresource !== 'token') return;
  const ref = obj(obj(req.obj?.spec).boundObjectRef);
  if (ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !str(ref.name)) throw refuse('node requested token not bound to a pod');
  if (!str(ref.uid)) throw refuse('node requested token with a pod binding without a uid');
  const pod = await existingPod(deps, req.namespace, str(ref.name));
  if (ref.uid !== pod.metadata.uid) {
    throw refuse(`the UID in the bound object reference (${str(ref.uid)}) does not match the UID in record. The object might have been deleted and then recreated`);
  }
  if (nodeNameOf(pod) !== node) throw refuse('node requested token bound to a pod scheduled on a different node');
}

const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** Every required node-affinity term restricts the volume to `node` by hostname, as the local-path provisioner writes it. */
function pinnedTo(pv: KubeObject | undefined, node: string): boolean {
  const terms = obj(obj(obj(pv?.spec).nodeAffinity).required).nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return false;
  return terms.every((t) => {
    const exprs = obj(t).matchExpressions;
    return Array.isArray(exprs) && exprs.map(obj).some((e) => e.key === HOSTNAME_LABEL && e.operator === 'In' && deepEqual(e.values, [node]));
  });
}

const finalizersOf = (o: KubeObject | undefined): string[] => o?.metadata.finalizers ?? [];

/** The volume without what the finalizer removal may change (and what the server itself keeps: version, managed fields). */
function withoutFinalizers(pv: KubeObject | undefined): unknown {
  if (!pv) return undefined;
  const { finalizers: _f, resourceVersion: _rv, managedFields: _mf, ...metadata } = pv.metadata;
  return { ...pv, metadata };
}

/**
 * ketch: the agent removes a deleted local-path volume's directory on its node, then the cleanup finalizer
 * (agent/volumes/csi-local/cleanup.ts); that removal, on a volume being deleted and pinned to the node, is the only
 * PersistentVolume write a node makes. Kubernetes gives nodes no PV write at all; here anything else (a path, a label,
 * another node's volume, a create or delete) is refused, so a node cannot point a volume elsewhere.
 */
function admitPersistentVolume(node: string, req: AdmissionRequest, refuse: Refuse): void {
  const name = req.name || (req.obj?.metadata.name ?? '');
  const verb = req.operation === 'update' ? 'modify' : req.operation;
  const deny = (why: string): ApiError => refuse(`node ${JSON.stringify(node)} is not allowed to ${verb} persistentvolume ${JSON.stringify(name)}: ${why}`);
  const only = `nodes may only remove the ${LOCAL_PATH_CLEANUP_FINALIZER} finalizer`;
  if (req.operation !== 'update' || req.subresource !== '') throw deny(only);
  const { old, obj: next } = req;
  if (!pinnedTo(old, node)) throw deny(`the volume is not pinned to node ${JSON.stringify(node)} by its ${HOSTNAME_LABEL} node affinity`);
  if (!old?.metadata.deletionTimestamp) throw deny(`${only} of a volume being deleted`);
  const before = finalizersOf(old);
  const removed = before.includes(LOCAL_PATH_CLEANUP_FINALIZER) && deepEqual(finalizersOf(next), before.filter((f) => f !== LOCAL_PATH_CLEANUP_FINALIZER));
  if (!removed || !deepEqual(withoutFinalizers(next), withoutFinalizers(old))) throw deny(`${only}, and change nothing else`);
}
