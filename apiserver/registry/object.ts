// The API server's view of a stored object: plain JSON with typed metadata, plus small JSON helpers.

export interface ManagedFields {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** Who writes, for managedFields: the manager, the apiVersion it wrote in, the subresource and the time. */
export interface ManagerRef {
  manager: string;
  apiVersion: string;
  subresource?: string;
  time: string;
}

export interface Meta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string | null;
  deletionGracePeriodSeconds?: number | null;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  managedFields?: ManagedFields[];
  [k: string]: unknown;
}

export interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  [k: string]: unknown;
}

export type JsonObject = Record<string, unknown>;

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep equality of JSON values (api/field.ts). */
export { deepEqual } from '../../api/field.js';

/** Reads a dotted path (`spec.nodeName`) from an object, or undefined. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

export const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** RFC 3339 in seconds, as Kubernetes writes metav1.Time. */
export { nowRFC3339 as rfc3339 } from '../../api/keys.js';

/** Turns an unknown request body into an object with metadata, or explains why it is not one. */
export function asObj(v: unknown): Obj | undefined {
  if (!isObject(v)) return undefined;
  if (v.metadata !== undefined && v.metadata !== null && !isObject(v.metadata)) return undefined;
  if (v.metadata === undefined || v.metadata === null) v.metadata = {};
  return v as Obj;
}
