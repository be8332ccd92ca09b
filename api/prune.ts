// Decoding hygiene shared by the API server: drop nulls (Go decodes them as zero values), find or prune
// fields the schema does not know (Kubernetes drops them; fieldValidation=Strict rejects them).
import type { TSchema } from '@sinclair/typebox';
import { schemaFor } from './schemas/index.js';

/** Removes `null` object members, recursively, in place (`creationTimestamp: null` as kubectl writes it). */
export function dropNulls<T>(value: T): T {
  // for...in rather than Object.keys: no array per object (every write drops the nulls of its whole object).
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) dropNulls(value[i]);
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const k in o) {
      if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
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

/** A field's path from its members (names and list indexes): `spec.containers[0].imagePolicy`. */
function pathOf(segs: readonly (string | number)[]): string {
  let p = '';
  for (const k of segs) p = typeof k === 'number' ? `${p}[${k}]` : memberPath(p, k);
  return p;
}

// The path is a stack of members, made into a string only for a field found: every write walks its whole object, and
// most objects have no unknown field.
function walk(schema: TSchema, value: unknown, segs: (string | number)[], found: (path: string, parent: Record<string, unknown>, key: string) => void): void {
  const s = schema as Node;
  if (s['x-kubernetes-preserve-unknown-fields']) return;
  if (Array.isArray(value)) {
    const items = s.items;
    if (!items) return;
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i];
      if (!isContainer(x)) continue;
      segs.push(i);
      walk(items, x, segs, found);
      segs.pop();
    }
    return;
  }
  if (!isContainer(value)) return;
  const o = value as Record<string, unknown>;
  const extra = typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    const sub = s.properties?.[k] || extra;
    if (sub) {
      const x = o[k];
      if (!isContainer(x)) continue;
      segs.push(k);
      walk(sub, x, segs, found);
      segs.pop();
    } else if (s.properties) {
      segs.push(k);
      found(pathOf(segs), o, k);
      segs.pop();
    }
  }
}

/** Paths of fields in `obj` that its kind's schema does not declare (`spec.containers[0].imagePolicy`). */
export function unknownFields(obj: { apiVersion?: unknown; kind?: unknown }, schema?: TSchema): string[] {
  const s = schema ?? schemaFor(String(obj.apiVersion), String(obj.kind));
  if (!s) return [];
  const paths: string[] = [];
  walk(s, obj, [], (p) => paths.push(p));
  return paths;
}

/** Deletes undeclared fields in place and returns their paths, as the API server's default decoding does. */
export function pruneUnknownFields(obj: { apiVersion?: unknown; kind?: unknown }, schema?: TSchema): string[] {
  const s = schema ?? schemaFor(String(obj.apiVersion), String(obj.kind));
  if (!s) return [];
  const pruned: { path: string; parent: Record<string, unknown>; key: string }[] = [];
  walk(s, obj, [], (path, parent, key) => pruned.push({ path, parent, key }));
  for (const { parent, key } of pruned) delete parent[key];
  return pruned.map((p) => p.path);
}
