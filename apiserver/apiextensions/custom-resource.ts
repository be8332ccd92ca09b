// The strategy of one served version of a custom resource: its structural schema (defaults, validation, pruning), its
// CEL rules, printer columns, selectable fields and the status and scale subresources, all from the CRD.
import { errors, type StatusCause } from '../../api/errors.js';
import { dropNulls, pruneUnknownFields, unknownFields } from '../../api/prune.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { CustomResourceDefinition, CustomResourceDefinitionVersion } from '../../api/schemas/extensions.js';
import type { ObjectMeta } from '../../api/schemas/meta.js';
import { nameIsDNSSubdomain } from '../../api/names.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../api/validation/meta.js';
import { age } from '../../lib/duration.js';
import { isObject, type JsonObject, type Obj } from '../registry/object.js';
import type { ListTypes, SubresourceFactory, TableCell, TablePrinter } from '../registry/rest.js';
import { defaultListTypes } from '../patch/list-types.js';
import { scaleStorageOf } from '../registry/subresources/scale.js';
import type { SchemaHooks } from '../registry/schema.js';
import { defaultStrategy, type Strategy } from '../registry/strategy.js';
import { evalJsonPath, parseJsonPath, type Step } from './jsonpath.js';
import { StructuralSchema, type SchemaProps } from './structural.js';
import { compileRules, evaluateRules, type RuleTree } from './validation-rules.js';

/** What serving one version needs, compiled once when the CRD is established or changed. */
export interface CompiledVersion {
  info: ResourceInfo;
  version: CustomResourceDefinitionVersion;
  schema: StructuralSchema | undefined;
  rules: RuleTree | undefined;
}

export function compileVersion(crd: CustomResourceDefinition, version: CustomResourceDefinitionVersion, info: ResourceInfo): CompiledVersion {
  const root = version.schema?.openAPIV3Schema as SchemaProps | undefined;
  const schema = root ? new StructuralSchema(root) : undefined;
  const rules = root ? compileRules(root, 'openAPIV3Schema').tree : undefined;
  void crd;
  return { info, version, schema, rules };
}

const meta = (o: Obj): ObjectMeta => o.metadata as ObjectMeta;

function schemaHooksOf(c: CompiledVersion): SchemaHooks {
  const { schema, rules, info } = c;
  return {
    dropNulls: (obj) => void (schema ? schema.dropNulls(obj) : dropNulls(obj)),
    applyDefaults: (obj) => schema?.applyDefaults(obj),
    validate(obj, operation, old) {
      const causes: StatusCause[] = validateObjectMeta(meta(obj), info.namespaced, nameIsDNSSubdomain);
      if (operation === 'update' && old) causes.push(...validateObjectMetaUpdate(meta(obj), meta(old)));
      if (!schema) return causes;
      const r = schema.validate(obj);
      causes.push(...r.causes);
      if (!r.structural && rules) evaluateRules(rules, obj, operation === 'update' ? old : undefined, '', causes);
      return causes;
    },
    unknownFields: (obj) => (schema ? unknownFields(obj, schema.pruneSchema) : []),
    prune: (obj) => void (schema && pruneUnknownFields(obj, schema.pruneSchema)),
  };
}

/** How the lists of a custom resource merge: x-kubernetes-list-type and list-map-keys from its schema, atomic when unset. */
function listTypesOf(root: SchemaProps | undefined): ListTypes {
  return (path) => {
    if (path[0] === 'metadata') return defaultListTypes(path);
    let s: SchemaProps | undefined = root;
    for (const seg of path) {
      if (s?.type === 'array' && s.items) s = s.items;
      s = s?.properties?.[seg] ?? (s && typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    }
    const t = s?.['x-kubernetes-list-type'];
    if (t === 'map') return { type: 'map', keys: s?.['x-kubernetes-list-map-keys'] ?? [] };
    return t === 'set' ? { type: 'set' } : { type: 'atomic' };
  };
}

// ---- Table ----

function cellOf(type: string, values: unknown[], now: Date): TableCell {
  const v = values[0];
  if (v === undefined || v === null) return null;
  switch (type) {
    case 'integer':
    case 'number':
      return typeof v === 'number' ? v : null;
    case 'boolean':
      return typeof v === 'boolean' ? v : null;
    case 'date':
      return typeof v === 'string' ? age(v, now.getTime()) : null;
    default:
      return values.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',');
  }
}

function printerOf(version: CustomResourceDefinitionVersion): TablePrinter {
  const nameCol = { name: 'Name', type: 'string' as const, format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.' };
  const defs = version.additionalPrinterColumns ?? [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' }];
  const cols = defs.map((d) => {
    let steps: Step[] = [];
    try {
      steps = parseJsonPath(d.jsonPath);
    } catch {
      // The CRD was checked on write; a path that no longer parses prints empty cells, as kube prints <none>.
    }
    return { def: d, steps };
  });
  const types = new Set(['integer', 'number', 'boolean', 'date', 'string']);
  return {
    columns: [
      nameCol,
      ...cols.map(({ def }) => ({
        name: def.name,
        type: (types.has(def.type) ? def.type : 'string') as 'string',
        ...(def.format ? { format: def.format } : {}),
        description: def.description ?? '',
        priority: def.priority ?? 0,
      })),
    ],
    row: (o, now) => [o.metadata.name ?? '', ...cols.map(({ def, steps }) => cellOf(def.type, evalJsonPath(steps, o), now))],
  };
}

// ---- scale ----

function setPath(obj: JsonObject, steps: readonly Step[], value: unknown): void {
  let cur: JsonObject = obj;
  steps.forEach((s, i) => {
    if (!('field' in s)) throw errors.badRequest('the scale paths of this resource are not simple field paths');
    if (i === steps.length - 1) cur[s.field] = value as never;
    else {
      if (!isObject(cur[s.field])) cur[s.field] = {};
      cur = cur[s.field] as JsonObject;
    }
  });
}

function scaleFactory(paths: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string | undefined }): SubresourceFactory {
  const spec = parseJsonPath(paths.specReplicasPath);
  const status = parseJsonPath(paths.statusReplicasPath);
  const selector = paths.labelSelectorPath ? parseJsonPath(paths.labelSelectorPath) : undefined;
  const scaleOf = (o: Obj): JsonObject => {
    const replicas = evalJsonPath(spec, o)[0];
    const current = evalJsonPath(status, o)[0];
    const sel = selector ? evalJsonPath(selector, o)[0] : undefined;
    const m = o.metadata;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp } as JsonObject,
      spec: { replicas: typeof replicas === 'number' ? replicas : 0 },
      status: { replicas: typeof current === 'number' ? current : 0, ...(typeof sel === 'string' ? { selector: sel } : {}) },
    };
  };
  return scaleStorageOf(scaleOf, (cur, replicas) => {
    const next = structuredClone(cur) as Obj;
    setPath(next as unknown as JsonObject, spec, replicas);
    return next;
  });
}

/** The strategy of one version of a custom resource. */
export function customResourceStrategy(c: CompiledVersion): Strategy {
  const { info, version } = c;
  const selectable = (version.selectableFields ?? []).map((f) => ({ name: f.jsonPath.replace(/^\./, ''), steps: parseJsonPath(f.jsonPath) }));
  const scale = version.subresources?.scale;
  const hasStatus = info.subresources.includes('status');
  return defaultStrategy(info, {
    tracksGeneration: true,
    selectableFields: selectable.map((f) => f.name),
    fields: (o) => Object.fromEntries(selectable.map((f) => [f.name, String(evalJsonPath(f.steps, o)[0] ?? '')])),
    // With a status subresource, a create's status is not the client's to set (kube drops it).
    prepareForCreate: (o) => {
      if (hasStatus) delete o.status;
    },
    schema: schemaHooksOf(c),
    printer: printerOf(version),
    listTypes: listTypesOf(c.schema?.root),
    ...(scale ? { subresources: { scale: scaleFactory(scale) } } : {}),
  });
}
