// NodeRestriction admission (plugin/pkg/admission/noderestriction): what a node (system:node:<name>) may write of the
// objects the Node authorizer lets it reach: only its own Node (not its taints, nor node-restriction or unknown
// kubernetes.io labels, nor, in ketch, its pod CIDR), its own Lease, its pods' status, mirror pods bound to itself,
// evictions of its pods, tokens bound to its pods, and only the status of its pods' claims.
import { errors, type ApiError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
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
