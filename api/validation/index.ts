// validateObject: schema (ajv) then the kind's semantic rules, as the API server runs them on create/update.
import type { TSchema } from '@sinclair/typebox';
import type { KubeObject, ObjectMeta } from '../schemas/meta.js';
import { schemaFor, schemas } from '../schemas/index.js';
import { findByKind } from '../resources.js';
import { invalid, notSupported, required, type Cause } from '../field.js';
import { dropNulls } from '../prune.js';
import { dedupe, validateSchema } from './schema.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import type { KindRules } from './rules.js';
import * as core from './core.js';
import * as workloads from './workloads.js';
import * as batch from './batch.js';
import { lease } from './coordination.js';
import { endpointSlice } from './discovery.js';
import { priorityClass } from './scheduling.js';
import * as storage from './storage.js';
import * as rbac from './rbac.js';
import { horizontalPodAutoscaler } from './autoscaling.js';
import { podDisruptionBudget } from './policy.js';
import { certificateSigningRequest } from './certificates.js';
import * as extensions from './extensions.js';

// The rules table: one strategy per kind, looked up by "<apiVersion>/<Kind>"; no switch on kinds.
const RULES: Record<string, KindRules<never>> = {
  'v1/Pod': core.pod,
  'v1/Namespace': core.namespace,
  'v1/Node': core.node,
  'v1/Service': core.service,
  'v1/Endpoints': core.endpoints,
  'v1/ConfigMap': core.configMap,
  'v1/Secret': core.secret,
  'v1/Event': core.event,
  'v1/ServiceAccount': core.serviceAccount,
  'v1/ReplicationController': workloads.replicationController,
  'apps/v1/Deployment': workloads.deployment,
  'apps/v1/ReplicaSet': workloads.replicaSet,
  'apps/v1/DaemonSet': workloads.daemonSet,
  'apps/v1/StatefulSet': workloads.statefulSet,
  'apps/v1/ControllerRevision': workloads.controllerRevision,
  'batch/v1/Job': batch.job,
  'batch/v1/CronJob': batch.cronJob,
  'coordination.k8s.io/v1/Lease': lease,
  'discovery.k8s.io/v1/EndpointSlice': endpointSlice,
  'scheduling.k8s.io/v1/PriorityClass': priorityClass,
  'v1/PersistentVolume': storage.persistentVolume,
  'v1/PersistentVolumeClaim': storage.persistentVolumeClaim,
  'storage.k8s.io/v1/StorageClass': storage.storageClass,
  'storage.k8s.io/v1/CSIDriver': storage.csiDriver,
  'storage.k8s.io/v1/CSINode': storage.csiNode,
  'rbac.authorization.k8s.io/v1/Role': rbac.role,
  'rbac.authorization.k8s.io/v1/ClusterRole': rbac.clusterRole,
  'rbac.authorization.k8s.io/v1/RoleBinding': rbac.roleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': rbac.clusterRoleBinding,
  'autoscaling/v2/HorizontalPodAutoscaler': horizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': podDisruptionBudget,
  'certificates.k8s.io/v1/CertificateSigningRequest': certificateSigningRequest,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': extensions.customResourceDefinition,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': extensions.webhookConfiguration,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': extensions.webhookConfiguration,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': extensions.validatingAdmissionPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': extensions.validatingAdmissionPolicyBinding,
  'apiregistration.k8s.io/v1/APIService': extensions.apiService,
};

export interface ValidateOptions {
  operation: 'create' | 'update';
  /** The stored object, for update. */
  old?: KubeObject;
  /**
   * 'status' for writes to the /status subresource: metadata and status rules only, and the schema of those alone
   * (the rest of the object is the stored one's, checked when it was written).
   */
  subresource?: string;
  /** The caller has dropped every null from obj, and old is a stored object (which holds none): no walk for them. */
  nullFree?: boolean;
}

/** Whether a null occurs anywhere in v. */
function hasNull(v: unknown): boolean {
  if (v === null) return true;
  if (typeof v !== 'object') return false;
  if (Array.isArray(v)) {
    for (const x of v) if (hasNull(x)) return true;
    return false;
  }
  for (const k in v) if (hasNull((v as Record<string, unknown>)[k])) return true;
  return false;
}

const statusViews = new WeakMap<TSchema, TSchema>();

/**
 * The part of a kind's schema a status write is checked against: apiVersion, kind, metadata and status (kube's status
 * strategies keep the stored spec, so its schema is not run again on every status update). Built without the kind's
 * definition name, so that it is compiled as a schema of its own.
 */
function statusView(schema: TSchema): TSchema {
  let view = statusViews.get(schema);
  if (!view) {
    const s = schema as { type?: unknown; properties?: Record<string, TSchema>; required?: string[] };
    const keep = ['apiVersion', 'kind', 'metadata', 'status'];
    const properties = Object.fromEntries(Object.entries(s.properties ?? {}).filter(([k]) => keep.includes(k)));
    view = { type: s.type ?? 'object', properties, required: (s.required ?? []).filter((k) => keep.includes(k)) } as unknown as TSchema;
    statusViews.set(schema, view);
  }
  return view;
}

/**
 * Every problem with `obj` as {reason, message, field}, ready for errors.invalid(). Empty means valid.
 * Run it after defaulting (applyDefaults), as the API server does. Unknown fields are not errors here
 * (see prune.ts); nulls are ignored, as Go decodes them as zero values.
 */
export function validateObject(obj: unknown, opts: ValidateOptions): Cause[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [invalid('', obj, 'must be a JSON object')];
  // Validation reads, never writes: a copy is needed only to drop nulls or to supply a missing metadata.
  const copy = (obj as { metadata?: unknown }).metadata === undefined || (!opts.nullFree && hasNull(obj));
  const o = (copy ? dropNulls(structuredClone(obj)) : obj) as Record<string, unknown>;
  if (typeof o.apiVersion !== 'string' || o.apiVersion === '') return [required('apiVersion')];
  if (typeof o.kind !== 'string' || o.kind === '') return [required('kind')];
  const apiVersion = o.apiVersion;
  const schema: TSchema | undefined = schemaFor(apiVersion, o.kind);
  if (!schema) {
    const kinds = Object.keys(schemas).filter((k) => k.startsWith(`${apiVersion}/`)).map((k) => k.slice(apiVersion.length + 1));
    return [notSupported('kind', o.kind, kinds)];
  }
  // A missing metadata is reported by the name rule ("name or generateName is required"), not as a type error.
  if (o.metadata === undefined && 'metadata' in ((schema as { properties?: object }).properties ?? {})) o.metadata = {};

  const { causes, structural } = validateSchema(opts.subresource === 'status' ? statusView(schema) : schema, o);
  if (structural) return causes;
  const rules = RULES[`${apiVersion}/${o.kind}`];
  const info = findByKind(o.apiVersion, o.kind);
  if (!rules || !info) return causes;
  const r = rules as KindRules<KubeObject>;
  const object = o as KubeObject;
  const old = opts.old ? (!opts.nullFree && hasNull(opts.old) ? (dropNulls(structuredClone(opts.old)) as KubeObject) : opts.old) : undefined;
  const meta: ObjectMeta = object.metadata ?? {};

  causes.push(...validateObjectMeta(meta, info.namespaced, r.name));
  if (opts.operation === 'update' && old) causes.push(...validateObjectMetaUpdate(meta, old.metadata ?? {}));
  if (opts.subresource === 'status') {
    if (r.validateStatus) causes.push(...r.validateStatus(object, old ?? object));
    return dedupe(causes);
  }
  causes.push(...r.validate(object));
  if (opts.operation === 'update' && old && r.validateUpdate) causes.push(...r.validateUpdate(object, old));
  return dedupe(causes);
}
