// Decoding hygiene shared by the API server: drop nulls (Go decodes them as zero values), find or prune
// fields the schema does not know (Kubernetes drops them; fieldValidation=Strict rejects them).
import type { TSchema } from '@sinclair/typebox';
import { schemaFor } from './schemas/index.js';

/** Removes `null` object members, recursively, in place (`creationTimestamp: null` as kubectl writes it). */
export function dropNulls<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const x of value) dropNulls(x);
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (o[k] === null) delete o[k];
      else dropNulls(o[k]);
    }
  }
  return value;
}

type Node = {
  properties?: Record<string, TSchema>;
  additionalProperties?: TSchema | boolean;
  items?: TSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
};

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const memberPath = (path: string, k: string): string => (IDENT.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${k}]`);
const isContainer = (v: unknown): boolean => typeof v === 'object' && v !== null;

// Paths are built only for values that can hold unknown fields (objects, arrays) or that are unknown: most are scalars.
function walk(schema: TSchema, value: unknown, path: string, found: (path: string, parent: Record<string, unknown>, key: string) => void): void {
  const s = schema as Node;
  if (s['x-kubernetes-preserve-unknown-fields']) return;
  if (Array.isArray(value)) {
    if (s.items) {
      const items = s.items;
      value.forEach((x, i) => {
        if (isContainer(x)) walk(items, x, `${path}[${i}]`, found);
      });
    }
    return;
  }
  if (!isContainer(value)) return;
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const known = s.properties?.[k];
    const sub = known || (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    if (sub) {
      if (isContainer(o[k])) walk(sub, o[k], memberPath(path, k), found);
    } else if (s.properties) found(memberPath(path, k), o, k);
  }
}

/** Paths of fields in `obj` that its kind's schema does not declare (`spec.containers[0].imagePolicy`). */
export function unknownFields(obj: { apiVersion?: unknown; kind?: unknown }, schema?: TSchema): string[] {
  const s = schema ?? schemaFor(String(obj.apiVersion), String(obj.kind));
  if (!s) return [];
  const paths: string[] = [];
  walk(s, obj, '', (p) => paths.push(p));
  return paths;
}

/** Deletes undeclared fields in place and returns their paths, as the API server's default decoding does. */
export function pruneUnknownFields(obj: { apiVersion?: unknown; kind?: unknown }, schema?: TSchema): string[] {
  const s = schema ?? schemaFor(String(obj.apiVersion), String(obj.kind));
  if (!s) return [];
  const pruned: { path: string; parent: Record<string, unknown>; key: string }[] = [];
  walk(s, obj, '', (path, parent, key) => pruned.push({ path, parent, key }));
  for (const { parent, key } of pruned) delete parent[key];
  return pruned.map((p) => p.path);
}
