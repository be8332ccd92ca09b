// Namespaces: Active on create, Terminating while spec.finalizers (changed only through /finalize) remain.
import type { ResourceInfo } from '../../../api/resources.js';
import { isObject, type Obj } from '../object.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

export const specFinalizers = (obj: Obj): string[] => {
  const f = isObject(obj.spec) ? obj.spec.finalizers : undefined;
  return Array.isArray(f) ? f.map(String) : [];
};

export function namespaceStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    returnDeletedObject: true,
    tracksGeneration: false,
    selectableFields: ['status.phase'],
    prepareForCreate(obj) {
      const spec = isObject(obj.spec) ? obj.spec : {};
      const finalizers = specFinalizers(obj);
      obj.spec = { ...spec, finalizers: finalizers.includes('kubernetes') ? finalizers : [...finalizers, 'kubernetes'] };
      obj.status = { phase: 'Active' };
    },
    prepareForUpdate(obj, old) {
      obj.status = old.status;
      obj.spec = { ...(isObject(obj.spec) ? obj.spec : {}), finalizers: specFinalizers(old) };
    },
    prepareForDelete(obj) {
      obj.status = { ...(isObject(obj.status) ? obj.status : {}), phase: 'Terminating' };
    },
    hasFinalizers: (obj) => (obj.metadata.finalizers?.length ?? 0) > 0 || specFinalizers(obj).length > 0,
  });
}
