// ObjectMeta, label selector, owner reference and finalizer rules (apimachinery's ValidateObjectMeta & co).
import type { LabelSelector, ObjectMeta, OwnerReference } from '../schemas/meta.js';
import { child, forbidden, immutable, index, invalid, nonNegative, required, type Cause } from '../field.js';
import { isDNS1123Label, validateAnnotations, validateLabels, validateQualifiedName, isQualifiedName, type NameValidator } from '../names.js';

export function validateObjectMeta(meta: ObjectMeta, namespaced: boolean, nameFn: NameValidator, path = 'metadata'): Cause[] {
  const causes: Cause[] = [];
  if (meta.generateName) {
    causes.push(...nameFn(meta.generateName, true).map((m) => invalid(child(path, 'generateName'), meta.generateName, m)));
  }
  if (!meta.name) causes.push(required(child(path, 'name'), 'name or generateName is required'));
  else causes.push(...nameFn(meta.name, false).map((m) => invalid(child(path, 'name'), meta.name, m)));
  if (namespaced) {
    if (!meta.namespace) causes.push(required(child(path, 'namespace')));
    else causes.push(...isDNS1123Label(meta.namespace).map((m) => invalid(child(path, 'namespace'), meta.namespace, m)));
  } else if (meta.namespace) {
    causes.push(forbidden(child(path, 'namespace'), 'not allowed on this type'));
  }
  causes.push(...nonNegative(meta.generation, child(path, 'generation')));
  causes.push(...validateLabels(meta.labels, child(path, 'labels')));
  causes.push(...validateAnnotations(meta.annotations, child(path, 'annotations')));
  causes.push(...validateOwnerReferences(meta.ownerReferences ?? [], child(path, 'ownerReferences')));
  causes.push(...validateFinalizers(meta.finalizers ?? [], child(path, 'finalizers')));
  return causes;
}

function validateOwnerReferences(refs: OwnerReference[], path: string): Cause[] {
  const causes: Cause[] = [];
  let controllers = 0;
  refs.forEach((r, i) => {
    const p = index(path, i);
    if (!r.apiVersion) causes.push(invalid(child(p, 'apiVersion'), r.apiVersion ?? '', 'version must not be empty'));
    if (!r.kind) causes.push(invalid(child(p, 'kind'), r.kind ?? '', 'kind must not be empty'));
    if (!r.name) causes.push(invalid(child(p, 'name'), r.name ?? '', 'name must not be empty'));
    if (!r.uid) causes.push(invalid(child(p, 'uid'), r.uid ?? '', 'uid must not be empty'));
    if (r.controller) controllers++;
  });
  if (controllers > 1) causes.push(invalid(path, refs, 'Only one reference can have Controller set to true'));
  return causes;
}

function validateFinalizers(finalizers: string[], path: string): Cause[] {
  // Kubernetes also warns about unprefixed non-standard finalizers; a warning is not an error.
  return finalizers.flatMap((f) => validateQualifiedName(f, path));
}

/** Metadata fields that an update may not change. A field omitted in the update counts as unchanged. */
export function validateObjectMetaUpdate(next: ObjectMeta, old: ObjectMeta, path = 'metadata'): Cause[] {
  const causes: Cause[] = [];
  const same = (k: 'name' | 'namespace' | 'uid' | 'creationTimestamp') => {
    if (next[k] !== undefined && old[k] !== undefined) causes.push(...immutable(next[k], old[k], child(path, k)));
  };
  same('name');
  same('namespace');
  same('uid');
  same('creationTimestamp');
  if (old.deletionTimestamp && next.deletionTimestamp && next.deletionTimestamp !== old.deletionTimestamp) {
    causes.push(invalid(child(path, 'deletionTimestamp'), next.deletionTimestamp, 'field is immutable; may only be changed via deletion'));
  }
  return causes;
}

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** metav1validation.ValidateLabelSelector. */
export function validateLabelSelector(sel: LabelSelector | undefined, path: string): Cause[] {
  if (!sel) return [];
  const causes: Cause[] = [...validateLabels(sel.matchLabels, child(path, 'matchLabels'))];
  (sel.matchExpressions ?? []).forEach((r, i) => {
    const p = index(child(path, 'matchExpressions'), i);
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) causes.push(required(child(p, 'values'), 'must be specified when `operator` is \'In\' or \'NotIn\''));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) causes.push(forbidden(child(p, 'values'), 'may not be specified when `operator` is \'Exists\' or \'DoesNotExist\''));
        break;
      default:
        causes.push(invalid(child(p, 'operator'), r.operator, 'not a valid selector operator'));
    }
    causes.push(...isQualifiedName(r.key).map((m) => invalid(child(p, 'key'), r.key, m)));
  });
  return causes;
}
