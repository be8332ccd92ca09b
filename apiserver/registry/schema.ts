// The API server's use of api/: defaulting, validation and unknown-field handling (one seam, so the store stays generic).
import { applyDefaults, dropNulls, pruneUnknownFields, unknownFields, validateObject, type KubeObject, type StatusCause } from '../../api/index.js';
import type { Obj } from './object.js';

const asKube = (o: Obj): KubeObject => o as unknown as KubeObject;

/** How a kind's objects are defaulted, validated and pruned: the built-in kinds' from api/, a custom resource's from its CRD. */
export interface SchemaHooks {
  dropNulls(obj: Obj): void;
  applyDefaults(obj: Obj): void;
  /** nullFree: obj had its nulls dropped and old is a stored object (see ValidateOptions.nullFree). */
  validate(obj: Obj, operation: 'create' | 'update', old?: Obj, subresource?: string, nullFree?: boolean): StatusCause[];
  unknownFields(obj: Obj): string[];
  prune(obj: Obj): void;
}

export const schemaHooks: SchemaHooks = {
  /** Removes nulls (Go decodes them as zero values and never stores them). */
  dropNulls(obj: Obj): void {
    dropNulls(obj);
  },
  applyDefaults(obj: Obj): void {
    applyDefaults(asKube(obj));
  },
  validate(obj: Obj, operation: 'create' | 'update', old?: Obj, subresource?: string, nullFree?: boolean): StatusCause[] {
    return validateObject(obj, { operation, ...(old ? { old: asKube(old) } : {}), ...(subresource ? { subresource } : {}), ...(nullFree ? { nullFree } : {}) });
  },
  /** Paths of fields the kind's schema does not know (`spec.bogus`). */
  unknownFields(obj: Obj): string[] {
    return unknownFields(obj);
  },
  /** Drops unknown fields in place. */
  prune(obj: Obj): void {
    pruneUnknownFields(obj);
  },
};
