// Rules for the storage kinds: core/v1 PersistentVolume and PersistentVolumeClaim (pkg/apis/core/validation), and
// storage.k8s.io/v1 StorageClass, CSIDriver, CSINode (pkg/apis/storage/validation).
import type { PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec } from '../schemas/core.js';
import { PV_SOURCES, RECLAIM_POLICIES } from '../schemas/core.js';
import type { CSIDriver, CSINode, StorageClass } from '../schemas/storage.js';
import { CLASS_RECLAIM_POLICIES, FS_GROUP_POLICIES, VOLUME_BINDING_MODES, VOLUME_LIFECYCLE_MODES } from '../schemas/storage.js';
import { child, deepEqual, duplicate, forbidden, IMMUTABLE, immutable, index, invalid, key, notSupported, required, tooLong, type Cause } from '../field.js';
import { isDNS1123Subdomain, isQualifiedName, nameIsDNSSubdomain, validateQualifiedName } from '../names.js';
import { compareQuantities } from '../quantity.js';
import { ANN_BETA_STORAGE_CLASS, RESIZE_STATUSES } from '../storage.js';
import { validateAccessModes, validateClaimSpec, validateClassName, validatePositiveQuantity, validateVolumeMode } from './claims.js';
import { validateNodeSelectorTerm, validateResourceList } from './pod.js';
import { rules } from './rules.js';

const MAX_PARAMETERS = 512;
const MAX_PARAMETERS_SIZE = 256 * 1024;

/** A path without '..' segments (validatePathNoBacksteps). */
function noBacksteps(path: string | undefined, field: string): Cause[] {
  return path && path.split('/').includes('..') ? [invalid(field, path, "must not contain '..'")] : [];
}

function validateVolumeNodeAffinity(spec: PersistentVolumeSpec): Cause[] {
  const na = spec.nodeAffinity;
  if (!na) return [];
  if (!na.required) return [required('spec.nodeAffinity.required', 'must specify required node constraints')];
  const p = 'spec.nodeAffinity.required.nodeSelectorTerms';
  const terms = na.required.nodeSelectorTerms ?? [];
  const causes: Cause[] = terms.length ? [] : [required(p, 'must have at least one node selector term')];
  terms.forEach((t, i) => causes.push(...validateNodeSelectorTerm(t, index(p, i))));
  return causes;
}

function validateVolumeSource(spec: PersistentVolumeSpec): Cause[] {
  const causes: Cause[] = [];
  const present = PV_SOURCES.filter((s) => spec[s] !== undefined);
  if (!present.length) causes.push(required('spec', 'must specify a volume type'));
  for (const extra of present.slice(1)) causes.push(forbidden(child('spec', extra), 'may not specify more than 1 volume type'));
  if (spec.hostPath) {
    if (!spec.hostPath.path) causes.push(required('spec.hostPath.path'));
    causes.push(...noBacksteps(spec.hostPath.path, 'spec.hostPath.path'));
  }
  if (spec.local) {
    if (!spec.local.path) causes.push(required('spec.local.path'));
    causes.push(...noBacksteps(spec.local.path, 'spec.local.path'));
    if (!spec.nodeAffinity) causes.push(required('spec.nodeAffinity', 'Local volume requires node affinity'));
  }
  if (spec.nfs) {
    if (!spec.nfs.server) causes.push(required('spec.nfs.server'));
    if (!spec.nfs.path) causes.push(required('spec.nfs.path'));
    else if (!spec.nfs.path.startsWith('/')) causes.push(invalid('spec.nfs.path', spec.nfs.path, 'must be an absolute path'));
  }
  if (spec.csi) {
    causes.push(...validateCSIDriverName(spec.csi.driver, 'spec.csi.driver'));
    if (!spec.csi.volumeHandle) causes.push(required('spec.csi.volumeHandle'));
  }
  return causes;
}

function validateVolumeSpec(spec: PersistentVolumeSpec): Cause[] {
  const causes = validateAccessModes(spec.accessModes, 'spec.accessModes');
  const cap = spec.capacity ?? {};
  if (!Object.keys(cap).length) causes.push(required('spec.capacity'));
  if (cap.storage === undefined || Object.keys(cap).length > 1) causes.push(notSupported('spec.capacity', cap, ['storage']));
  for (const [r, q] of Object.entries(cap)) causes.push(...validatePositiveQuantity(q, key('spec.capacity', r)));
  const policy = spec.persistentVolumeReclaimPolicy;
  if (policy && !(RECLAIM_POLICIES as readonly string[]).includes(policy)) causes.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, RECLAIM_POLICIES));
  causes.push(...validateVolumeNodeAffinity(spec), ...validateVolumeSource(spec));
  if (spec.hostPath && spec.hostPath.path.replace(/\/+$/, '') === '' && policy === 'Recycle') {
    causes.push(forbidden('spec.persistentVolumeReclaimPolicy', "may not be 'recycle' for a hostPath mount of '/'"));
  }
  causes.push(...validateClassName(spec.storageClassName, 'spec.storageClassName'), ...validateVolumeMode(spec.volumeMode, 'spec.volumeMode'));
  return causes;
}

const sourceOf = (spec: PersistentVolumeSpec | undefined): Record<string, unknown> => Object.fromEntries(PV_SOURCES.map((s) => [s, spec?.[s]]));

export const persistentVolume = rules<PersistentVolume>({
  name: nameIsDNSSubdomain,
  validate: (pv) => validateVolumeSpec(pv.spec ?? {}),
  validateUpdate: (pv, old) => {
    const causes: Cause[] = [];
    if (!deepEqual(sourceOf(pv.spec), sourceOf(old.spec))) {
      causes.push(forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
    }
    causes.push(...immutable(pv.spec?.volumeMode, old.spec?.volumeMode, 'volumeMode'));
    if (old.spec?.nodeAffinity) causes.push(...immutable(pv.spec?.nodeAffinity, old.spec.nodeAffinity, 'nodeAffinity'));
    return causes;
  },
});

const CLAIM_SPEC_IMMUTABLE = 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims';

/** The fields of a claim's spec that differ, for the message (Kubernetes prints a Go diff there). */
function specDiff(a: Record<string, unknown>, b: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => !deepEqual(a[k], b[k]))
    .map((k) => `\n  ${k}: ${JSON.stringify(a[k] ?? null)} -> ${JSON.stringify(b[k] ?? null)}`)
    .join('');
}

/** ValidatePersistentVolumeClaimUpdate: the spec is fixed but for volumeName (once) and, when bound, the storage request. */
function validateClaimUpdate(pvc: PersistentVolumeClaim, old: PersistentVolumeClaim): Cause[] {
  const causes: Cause[] = [];
  const next = structuredClone(pvc.spec ?? {}) as Record<string, unknown> & NonNullable<PersistentVolumeClaim['spec']>;
  const prev = structuredClone(old.spec ?? {}) as Record<string, unknown> & NonNullable<PersistentVolumeClaim['spec']>;
  if (!prev.volumeName) prev.volumeName = next.volumeName;
  // Retroactive default class: an unbound claim that named no class may get one, once.
  if (prev.storageClassName === undefined && !old.spec?.volumeName && old.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS] === undefined) {
    prev.storageClassName = next.storageClassName;
  }
  const bound = pvc.status?.phase === 'Bound';
  if (bound && next.resources?.requests) {
    const was = prev.resources?.requests?.storage;
    if (was === undefined) delete next.resources.requests.storage;
    else next.resources.requests.storage = was;
  }
  if (!deepEqual(next, prev)) causes.push(forbidden('spec', `${CLAIM_SPEC_IMMUTABLE}${specDiff(prev, next)}`));
  const newSize = pvc.spec?.resources?.requests?.storage;
  const oldSize = old.spec?.resources?.requests?.storage;
  const statusSize = old.status?.capacity?.storage;
  if (newSize !== undefined && oldSize !== undefined && validatePositiveQuantity(newSize, '').length === 0 && compareQuantities(newSize, oldSize) < 0) {
    // Shrinking is allowed only back towards what the volume has (to recover from a failed expansion).
    if (statusSize === undefined || compareQuantities(newSize, statusSize) <= 0) {
      causes.push(forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'));
    }
  }
  causes.push(...immutable(pvc.spec?.volumeMode, old.spec?.volumeMode, 'volumeMode'));
  const ann = pvc.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS];
  const oldAnn = old.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS];
  if (ann !== oldAnn) causes.push(invalid(key('metadata.annotations', ANN_BETA_STORAGE_CLASS), ann ?? '', IMMUTABLE));
  return causes;
}

export const persistentVolumeClaim = rules<PersistentVolumeClaim>({
  name: nameIsDNSSubdomain,
  validate: (pvc) => validateClaimSpec(pvc.spec, 'spec'),
  validateUpdate: validateClaimUpdate,
  validateStatus: (pvc) => {
    const st = pvc.status ?? {};
    const causes = validateResourceList(st.capacity, 'status.capacity');
    for (const [r, q] of Object.entries(st.allocatedResources ?? {})) {
      if (r !== 'storage') causes.push(notSupported('status.allocatedResources', r, ['storage']));
      else causes.push(...validateResourceList({ [r]: q }, 'status.allocatedResources'));
    }
    for (const [r, s] of Object.entries(st.allocatedResourceStatuses ?? {})) {
      if (r !== 'storage') causes.push(notSupported('status.allocatedResourceStatuses', r, ['storage']));
      else if (!(RESIZE_STATUSES as readonly string[]).includes(s)) causes.push(notSupported(key('status.allocatedResourceStatuses', r), s, RESIZE_STATUSES));
    }
    return causes;
  },
});

function validateParameters(params: Record<string, string> | undefined): Cause[] {
  const entries = Object.entries(params ?? {});
  const causes: Cause[] = [];
  if (entries.length > MAX_PARAMETERS) causes.push(tooLong('parameters', MAX_PARAMETERS));
  let size = 0;
  for (const [k, v] of entries) {
    if (!k) causes.push(invalid('parameters', k, 'field can not be empty.'));
    size += k.length + v.length;
  }
  if (size > MAX_PARAMETERS_SIZE) causes.push(tooLong('parameters', MAX_PARAMETERS_SIZE));
  return causes;
}

export const storageClass = rules<StorageClass>({
  name: nameIsDNSSubdomain,
  validate: (sc) => {
    const causes: Cause[] = [];
    if (!sc.provisioner) causes.push(required('provisioner'));
    else causes.push(...validateQualifiedName(sc.provisioner.toLowerCase(), 'provisioner'));
    causes.push(...validateParameters(sc.parameters));
    if (sc.reclaimPolicy !== undefined && !(CLASS_RECLAIM_POLICIES as readonly string[]).includes(sc.reclaimPolicy)) {
      causes.push(notSupported('reclaimPolicy', sc.reclaimPolicy, CLASS_RECLAIM_POLICIES));
    }
    if (sc.volumeBindingMode === undefined) causes.push(required('volumeBindingMode'));
    else if (!(VOLUME_BINDING_MODES as readonly string[]).includes(sc.volumeBindingMode)) causes.push(notSupported('volumeBindingMode', sc.volumeBindingMode, VOLUME_BINDING_MODES));
    (sc.allowedTopologies ?? []).forEach((t, i) => {
      const p = index('allowedTopologies', i);
      const reqs = t.matchLabelExpressions ?? [];
      if (!reqs.length) causes.push(required(p, 'must have at least one label expression'));
      reqs.forEach((r, j) => {
        const rp = index(child(p, 'matchLabelExpressions'), j);
        causes.push(...isQualifiedName(r.key).map((m) => invalid(child(rp, 'key'), r.key, m)));
        if (!r.values.length) causes.push(required(child(rp, 'values'), 'must specify as least one value'));
      });
    });
    return causes;
  },
  validateUpdate: (sc, old) => {
    const causes: Cause[] = [];
    if (!deepEqual(sc.parameters ?? {}, old.parameters ?? {})) causes.push(forbidden('parameters', 'updates to parameters are forbidden.'));
    if (sc.provisioner !== old.provisioner) causes.push(forbidden('provisioner', 'updates to provisioner are forbidden.'));
    if (sc.reclaimPolicy !== old.reclaimPolicy) causes.push(forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
    causes.push(...immutable(sc.volumeBindingMode, old.volumeBindingMode, 'volumeBindingMode'));
    return causes;
  },
});

/** A CSI driver name: at most 63 characters, a DNS subdomain when lower-cased (ValidateCSIDriverName). */
export function validateCSIDriverName(name: string | undefined, path: string): Cause[] {
  if (!name) return [required(path)];
  if (name.length > 63) return [tooLong(path, 63)];
  return isDNS1123Subdomain(name.toLowerCase()).map((m) => invalid(path, name, m));
}

export const csiDriver = rules<CSIDriver>({
  name: (name) => (name.length > 63 ? ['must be no more than 63 characters'] : isDNS1123Subdomain(name.toLowerCase())),
  validate: (d) => {
    const spec = d.spec ?? {};
    const causes: Cause[] = [];
    if (spec.attachRequired === undefined) causes.push(required('spec.attachRequired'));
    if (spec.podInfoOnMount === undefined) causes.push(required('spec.podInfoOnMount'));
    for (const m of spec.volumeLifecycleModes ?? []) {
      if (!(VOLUME_LIFECYCLE_MODES as readonly string[]).includes(m)) causes.push(notSupported('spec.volumeLifecycleModes', m, VOLUME_LIFECYCLE_MODES));
    }
    if (spec.fsGroupPolicy !== undefined && !(FS_GROUP_POLICIES as readonly string[]).includes(spec.fsGroupPolicy)) {
      causes.push(notSupported('spec.fsGroupPolicy', spec.fsGroupPolicy, FS_GROUP_POLICIES));
    }
    return causes;
  },
  validateUpdate: (d, old) => [
    ...immutable(d.spec?.attachRequired, old.spec?.attachRequired, 'spec.attachRequired'),
    ...immutable(d.spec?.fsGroupPolicy, old.spec?.fsGroupPolicy, 'spec.fsGroupPolicy'),
    ...immutable(d.spec?.volumeLifecycleModes, old.spec?.volumeLifecycleModes, 'spec.volumeLifecycleModes'),
  ],
});

const MAX_NODE_ID = 192;

export const csiNode = rules<CSINode>({
  name: nameIsDNSSubdomain,
  validate: (n) => {
    const causes: Cause[] = [];
    const seen = new Set<string>();
    (n.spec?.drivers ?? []).forEach((d, i) => {
      const p = index('spec.drivers', i);
      causes.push(...validateCSIDriverName(d.name, child(p, 'name')));
      if (seen.has(d.name)) causes.push(duplicate(child(p, 'name'), d.name));
      seen.add(d.name);
      if (!d.nodeID) causes.push(required(child(p, 'nodeID')));
      else if (d.nodeID.length > MAX_NODE_ID) causes.push(invalid(child(p, 'nodeID'), d.nodeID, `must be ${MAX_NODE_ID} characters or less`));
      const count = d.allocatable?.count;
      if (count !== undefined && count < 0) causes.push(invalid(child(p, 'allocatable', 'count'), count, 'must be greater than or equal to 0'));
      const keys = new Set<string>();
      (d.topologyKeys ?? []).forEach((k, j) => {
        const kp = index(child(p, 'topologyKeys'), j);
        if (!k) causes.push(required(kp));
        else causes.push(...validateQualifiedName(k, kp));
        if (keys.has(k)) causes.push(duplicate(kp, k));
        keys.add(k);
      });
    });
    return causes;
  },
  validateUpdate: (n, old) => {
    const causes: Cause[] = [];
    (n.spec?.drivers ?? []).forEach((d, i) => {
      const was = old.spec?.drivers?.find((x) => x.name === d.name);
      if (!was) return;
      const p = index('spec.drivers', i);
      causes.push(...immutable(d.nodeID, was.nodeID, child(p, 'nodeID')));
      causes.push(...immutable(d.topologyKeys ?? [], was.topologyKeys ?? [], child(p, 'topologyKeys')));
      causes.push(...immutable(d.allocatable, was.allocatable, child(p, 'allocatable')));
    });
    return causes;
  },
});
