// The scale subresource (autoscaling/v1 Scale, kube's ScaleREST) of the workloads with spec.replicas: the Scale is
// read from the workload, and a Scale written sets its spec.replicas (its resourceVersion a precondition).
import { errors } from '../../../api/errors.js';
import { formatLabelSelector, type LabelSelector } from '../../../api/index.js';
import type { ResourceInfo } from '../../../api/resources.js';
import { isObject, type JsonObject, type Obj } from '../object.js';
import type { SubresourceFactory } from '../rest.js';

/** status.selector of the Scale: the workload's label selector in its string form. */
export type ScaleSelector = (obj: Obj) => string;

const labelSelectorOf: ScaleSelector = (obj) => {
  const spec = isObject(obj.spec) ? obj.spec : {};
  return isObject(spec.selector) ? formatLabelSelector(spec.selector as LabelSelector) : '';
};

function scaleOf(obj: Obj, selectorOf: ScaleSelector): JsonObject {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const status = isObject(obj.status) ? obj.status : {};
  const sel = selectorOf(obj);
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
    status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0, ...(sel ? { selector: sel } : {}) },
  };
}

/** The replicas a Scale written for `cur` asks for, after its resourceVersion precondition and kube's checks. */
export function scaleReplicas(cur: Obj, scale: unknown, info: Pick<ResourceInfo, 'group' | 'resource'>): number | undefined {
  if (!isObject(scale)) throw errors.badRequest('the body is not a Scale object');
  const meta = isObject(scale.metadata) ? scale.metadata : {};
  const rv = meta.resourceVersion;
  if (typeof rv === 'string' && rv !== '' && rv !== cur.metadata.resourceVersion) {
    throw errors.conflict(
      { group: info.group, resource: info.resource, name: cur.metadata.name ?? '' },
      'the object has been modified; please apply your changes to the latest version and try again',
    );
  }
  const replicas = isObject(scale.spec) ? scale.spec.replicas : undefined;
  if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)) {
    throw errors.invalid('Scale', 'autoscaling', cur.metadata.name ?? '', [
      { reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` },
    ]);
  }
  return replicas;
}

/**
 * A scale storage over the parent's store: `scaleOf` reads the Scale of an object, `withReplicas` writes replicas into
 * a copy of it (after the Scale's resourceVersion precondition and checks). Built-in workloads and custom resources.
 */
export function scaleStorageOf(scaleOf: (obj: Obj) => JsonObject, withReplicas: (cur: Obj, replicas: number) => Obj): SubresourceFactory {
  return (parent) => ({
    bodies: 'json',
    async get(namespace, name) {
      return scaleOf(await parent.get(namespace, name));
    },
    async update(namespace, name, change, opts) {
      const { info } = parent;
      const out = await parent.update(
        namespace,
        name,
        (cur) => {
          if (!cur) throw errors.notFound({ group: info.group, resource: info.resource, name });
          return withReplicas(cur, scaleReplicas(cur, change(scaleOf(cur)), info) ?? 0);
        },
        { dryRun: opts.dryRun, fieldManager: opts.fieldManager, scope: opts.scope, admissionSubresource: 'scale' },
      );
      return scaleOf(out.obj);
    },
  });
}

/** The scale storage of a workload whose Scale reports its selector with selectorOf (an RC's is equality-based). */
export const scaleStorageWith = (selectorOf: ScaleSelector): SubresourceFactory =>
  scaleStorageOf(
    (obj) => scaleOf(obj, selectorOf),
    (cur, replicas) => ({ ...cur, spec: { ...(isObject(cur.spec) ? cur.spec : {}), replicas } }),
  );

export const scaleStorage: SubresourceFactory = scaleStorageWith(labelSelectorOf);
