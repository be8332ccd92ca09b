// The CustomResourceDefinition kind's strategy: kube's defaults (singular, listKind, conversion None), the cleanup
// finalizer, and the checks that need compiling: structural schemas, CEL rules and their cost, JSONPaths.
import type { StatusCause } from '../../api/errors.js';
import { invalid } from '../../api/field.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { CustomResourceDefinition } from '../../api/schemas/extensions.js';
import type { Obj } from '../registry/object.js';
import { defaultStrategy, type Strategy } from '../registry/strategy.js';
import { JsonPathError, parseJsonPath } from './jsonpath.js';
import { StructuralSchema, structuralCauses, type SchemaProps } from './structural.js';
import { compileRules } from './validation-rules.js';

/** The finalizer that makes deleting a CRD delete its objects first. */
export const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

const asCrd = (o: Obj): CustomResourceDefinition => o as unknown as CustomResourceDefinition;

function applyCrdDefaults(o: Obj): void {
  const crd = asCrd(o);
  const spec = crd.spec as CustomResourceDefinition['spec'] | undefined;
  if (!spec?.names) return;
  spec.names.singular ||= (spec.names.kind ?? '').toLowerCase();
  spec.names.listKind ||= `${spec.names.kind ?? ''}List`;
  spec.conversion ??= { strategy: 'None' };
}

function pathCauses(path: string, field: string): StatusCause[] {
  try {
    parseJsonPath(path);
    return [];
  } catch (err) {
    if (!(err instanceof JsonPathError)) throw err;
    return [invalid(field, path, `must be a simple json path: ${err.message}`)];
  }
}

function compileCauses(root: SchemaProps, field: string): StatusCause[] {
  try {
    new StructuralSchema(root);
    return [];
  } catch (err) {
    return [invalid(field, 'object', `cannot be compiled: ${(err as Error).message}`)];
  }
}

/** The checks of each version's schema, rules, columns, selectable fields and scale paths. */
function validateVersions(crd: CustomResourceDefinition): StatusCause[] {
  const causes: StatusCause[] = [];
  (crd.spec.versions ?? []).forEach((v, i) => {
    const at = `spec.versions[${i}]`;
    const root = v.schema?.openAPIV3Schema as SchemaProps | undefined;
    if (!root) causes.push({ reason: 'FieldValueRequired', field: `${at}.schema.openAPIV3Schema`, message: 'Required value: schemas are required' });
    else {
      const structural = structuralCauses(root, `${at}.schema.openAPIV3Schema`);
      causes.push(...structural, ...compileRules(root, `${at}.schema.openAPIV3Schema`).causes);
      // What passed the structural rules must also compile (a bad pattern, a malformed keyword): checked here, not when served.
      if (structural.length === 0) causes.push(...compileCauses(root, `${at}.schema.openAPIV3Schema`));
    }
    (v.additionalPrinterColumns ?? []).forEach((c, j) => causes.push(...pathCauses(c.jsonPath, `${at}.additionalPrinterColumns[${j}].jsonPath`)));
    (v.selectableFields ?? []).forEach((f, j) => causes.push(...pathCauses(f.jsonPath, `${at}.selectableFields[${j}].jsonPath`)));
    const scale = v.subresources?.scale;
    if (scale) {
      causes.push(...pathCauses(scale.specReplicasPath, `${at}.subresources.scale.specReplicasPath`));
      causes.push(...pathCauses(scale.statusReplicasPath, `${at}.subresources.scale.statusReplicasPath`));
      if (!scale.specReplicasPath.startsWith('.spec.')) causes.push(invalid(`${at}.subresources.scale.specReplicasPath`, scale.specReplicasPath, 'should be a json path under .spec'));
      if (!scale.statusReplicasPath.startsWith('.status.')) causes.push(invalid(`${at}.subresources.scale.statusReplicasPath`, scale.statusReplicasPath, 'should be a json path under .status'));
    }
  });
  return causes;
}

export function crdStrategy(info: ResourceInfo): Strategy {
  const base = defaultStrategy(info);
  return {
    ...base,
    tracksGeneration: true,
    prepareForCreate(o) {
      base.prepareForCreate(o);
      applyCrdDefaults(o);
      const fin = new Set(o.metadata.finalizers ?? []);
      fin.add(CLEANUP_FINALIZER);
      o.metadata.finalizers = [...fin];
    },
    prepareForUpdate(o, old) {
      base.prepareForUpdate(o, old);
      applyCrdDefaults(o);
    },
    validate: (o) => validateVersions(asCrd(o)),
    validateUpdate: (o) => validateVersions(asCrd(o)),
  };
}
