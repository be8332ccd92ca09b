// A CRD version's structural schema (openAPIV3Schema): compiled once to an ajv validator whose errors read as kube's
// (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`), defaulting,
// pruning of unknown fields, and the structural rules kube checks on the CRD itself.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { TSchema } from '@sinclair/typebox';
import { fieldPath, rememberFormat } from '../../api/validation/schema.js';
import { duplicate, forbidden, formatValue, invalid, notSupported, required, tooMany, type Cause } from '../../api/field.js';
import { K8S_KEYWORDS } from '../../api/schemas/kit.js';
import { backtracks } from '../cel/cel.js';

/** JSONSchemaProps as a CRD writes them (OpenAPI v3.0 with kube's x-kubernetes extensions). */
export interface SchemaProps {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, SchemaProps>;
  additionalProperties?: SchemaProps | boolean;
  items?: SchemaProps;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  uniqueItems?: boolean;
  multipleOf?: number;
  allOf?: SchemaProps[];
  anyOf?: SchemaProps[];
  oneOf?: SchemaProps[];
  not?: SchemaProps;
  $ref?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-validations'?: ValidationRule[];
  [k: string]: unknown;
}

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: Ajv, formats?: string[]) => Ajv;

// One ajv for every custom resource schema; unknown formats are ignored, as kube ignores them.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, logger: false });
addFormats(ajv, ['date-time', 'date', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid', 'byte', 'int32', 'int64', 'float', 'double', 'password', 'binary']);
rememberFormat(ajv, 'date-time');
// kube's duration format is Go's (1h30m, 5s), not ISO 8601's.
ajv.addFormat('duration', /^([-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$|^0$/);
ajv.addVocabulary([...K8S_KEYWORDS, 'x-kubernetes-validations']);

const VALUE_KEYWORDS = ['enum', 'pattern', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'uniqueItems', 'multipleOf', 'required', 'format'] as const;

/** The ajv (draft-07) form of a structural schema: nullable, int-or-string and OpenAPI 3.0's boolean exclusive bounds. */
export function toAjvSchema(s: SchemaProps): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of VALUE_KEYWORDS) if (s[k] !== undefined) out[k] = s[k];
  if (s['x-kubernetes-int-or-string']) out.type = s.nullable ? ['integer', 'string', 'null'] : ['integer', 'string'];
  else if (s.type) out.type = s.nullable ? [s.type, 'null'] : s.type;
  if (s.nullable && Array.isArray(s.enum)) out.enum = [...s.enum, null];
  // A set's items are unique (kube reports the repeat as a Duplicate value).
  if (s['x-kubernetes-list-type'] === 'set') out.uniqueItems = true;
  if (s.exclusiveMinimum === true && s.minimum !== undefined) {
    out.exclusiveMinimum = s.minimum;
    delete out.minimum;
  }
  if (s.exclusiveMaximum === true && s.maximum !== undefined) {
    out.exclusiveMaximum = s.maximum;
    delete out.maximum;
  }
  if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toAjvSchema(v)]));
  if (typeof s.additionalProperties === 'object') out.additionalProperties = toAjvSchema(s.additionalProperties);
  if (s.items) out.items = toAjvSchema(s.items);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = s[k];
    if (list) out[k === 'anyOf' && out.anyOf ? 'allOf' : k] = list.map(toAjvSchema);
  }
  if (s.not) out.not = toAjvSchema(s.not);
  if (s['x-kubernetes-embedded-resource']) {
    out.required = [...new Set([...(s.required ?? []), 'apiVersion', 'kind'])];
  }
  return out;
}

/** The JSON type name kube reports for a value of the wrong type. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const inBody = (field: string): string => `${field || 'body'} in body`;

/** One ajv error as kube's apiextensions validation reports it (kube-openapi's texts inside field errors). */
function toCause(e: ErrorObject, root: unknown): Cause | undefined {
  const field = fieldPath(e.instancePath, root);
  const p = e.params as Record<string, unknown>;
  const join = (name: string): string => (field ? `${field}.${name}` : name);
  switch (e.keyword) {
    case 'type': {
      const want = Array.isArray(p.type) ? (p.type as string[]).filter((t) => t !== 'null').join(',') : String(p.type);
      const kind = typeName(e.data);
      return invalid(field, kind, `${inBody(field)} must be of type ${want}: ${JSON.stringify(kind)}`);
    }
    case 'required':
      return required(join(String(p.missingProperty)));
    case 'enum':
      return notSupported(field, e.data, ((p.allowedValues as unknown[]) ?? []).filter((v) => v !== null).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))));
    case 'pattern':
      return invalid(field, e.data, `${inBody(field)} should match '${String(p.pattern)}'`);
    case 'minimum':
      return invalid(field, e.data, `${inBody(field)} should be greater than or equal to ${String(p.limit)}`);
    case 'exclusiveMinimum':
      return invalid(field, e.data, `${inBody(field)} should be greater than ${String(p.limit)}`);
    case 'maximum':
      return invalid(field, e.data, `${inBody(field)} should be less than or equal to ${String(p.limit)}`);
    case 'exclusiveMaximum':
      return invalid(field, e.data, `${inBody(field)} should be less than ${String(p.limit)}`);
    case 'minLength':
      return invalid(field, e.data, `${inBody(field)} should be at least ${String(p.limit)} chars long`);
    case 'maxLength':
      return { reason: 'FieldValueTooLong', field, message: `Too long: may not be more than ${String(p.limit)} bytes` };
    case 'minItems':
      return invalid(field, e.data, `${inBody(field)} should have at least ${String(p.limit)} items`);
    case 'maxItems':
      return tooMany(field, Array.isArray(e.data) ? e.data.length : 0, Number(p.limit));
    case 'minProperties':
      return invalid(field, e.data, `${inBody(field)} should have at least ${String(p.limit)} properties`);
    case 'maxProperties':
      return tooMany(field, typeof e.data === 'object' && e.data ? Object.keys(e.data).length : 0, Number(p.limit));
    case 'uniqueItems': {
      const list = Array.isArray(e.data) ? e.data : [];
      const at = Math.max(Number(p.i), Number(p.j));
      return duplicate(`${field}[${at}]`, list[at]);
    }
    case 'multipleOf':
      return invalid(field, e.data, `${inBody(field)} should be a multiple of ${String(p.multipleOf)}`);
    case 'format':
      return invalid(field, e.data, `${inBody(field)} must be of type ${String(p.format)}: ${JSON.stringify(formatValue(e.data).replace(/^"|"$/g, ''))}`);
    case 'anyOf':
    case 'oneOf':
    case 'not':
    case 'allOf':
      return undefined; // the branch errors say what is wrong
    default:
      return invalid(field, e.data, e.message ?? 'is invalid');
  }
}

/** The compiled form of one version's schema: validation, defaulting and pruning over the same tree. */
export class StructuralSchema {
  private readonly validateFn: ValidateFunction;
  private readonly defaults: DefaultsNode | undefined;
  /** The schema as api/prune.ts walks it (properties, additionalProperties, items, preserve-unknown-fields). */
  readonly pruneSchema: TSchema;

  constructor(readonly root: SchemaProps) {
    const compiled = toAjvSchema(root);
    // apiVersion, kind and metadata are the server's: the CRD's schema says nothing of them beyond name rules.
    const props = (compiled.properties ?? {}) as Record<string, unknown>;
    compiled.properties = { ...props, apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } };
    this.validateFn = ajv.compile(compiled);
    this.pruneSchema = pruneForm(root, true) as unknown as TSchema;
    this.defaults = compileDefaults(root);
  }

  /** Type, format, enum, pattern, bound and required errors, kube's way; `structural` when a value has the wrong type. */
  validate(obj: unknown): { causes: Cause[]; structural: boolean } {
    if (this.validateFn(obj)) return { causes: [], structural: false };
    const causes: Cause[] = [];
    let structural = false;
    const seen = new Set<string>();
    for (const e of this.validateFn.errors ?? []) {
      if (e.keyword === 'type') structural = true;
      const c = toCause(e, obj);
      if (!c) continue;
      const k = `${c.field}\u0000${c.message}`;
      if (!seen.has(k)) {
        seen.add(k);
        causes.push(c);
      }
    }
    return { causes, structural };
  }

  /** Removes nulls, except where the schema says `nullable: true` (kube prunes them before defaulting). */
  dropNulls(obj: unknown): void {
    dropNullsAt(this.root, obj);
  }

  /** Fills in defaults where a field is missing, as kube's structural defaulting does (objects, items, map values). */
  applyDefaults(obj: unknown): void {
    if (this.defaults) applyDefaultsAt(this.defaults, obj);
  }
}

/** The schema pruning walks: an object without properties or additionalProperties keeps nothing (kube prunes it all). */
function pruneForm(s: SchemaProps, root = false): Record<string, unknown> {
  if (s['x-kubernetes-preserve-unknown-fields'] || s['x-kubernetes-int-or-string']) return { 'x-kubernetes-preserve-unknown-fields': true };
  const out: Record<string, unknown> = {};
  if (s.items) out.items = pruneForm(s.items);
  if (typeof s.additionalProperties === 'object') out.additionalProperties = pruneForm(s.additionalProperties);
  else if (s.additionalProperties === true) return { 'x-kubernetes-preserve-unknown-fields': true };
  if (s.properties || (s.type === 'object' && !s.additionalProperties)) {
    out.properties = Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, pruneForm(v)]));
  }
  if (s['x-kubernetes-embedded-resource'] || root) {
    const props = (out.properties ?? {}) as Record<string, unknown>;
    out.properties = { ...props, apiVersion: {}, kind: {}, metadata: { 'x-kubernetes-preserve-unknown-fields': true } };
  }
  return out;
}

function dropNullsAt(s: SchemaProps | undefined, v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) dropNullsAt(s?.items, x);
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const sub = s?.properties?.[k] ?? (s && typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    if (o[k] === null) {
      if (!sub?.nullable) delete o[k];
    } else dropNullsAt(sub, o[k]);
  }
}

/** Where defaults apply: only the parts of the schema with a default at or below them (compiled once per version). */
interface DefaultsNode {
  fields?: { key: string; value: unknown; node: DefaultsNode | undefined }[];
  values?: DefaultsNode;
  items?: DefaultsNode;
}

function compileDefaults(s: SchemaProps): DefaultsNode | undefined {
  const out: DefaultsNode = {};
  if (s.properties) {
    const fields = Object.entries(s.properties)
      .map(([key, sub]) => ({ key, value: sub.default, node: compileDefaults(sub) }))
      .filter((f) => f.value !== undefined || f.node);
    if (fields.length) out.fields = fields;
  } else if (typeof s.additionalProperties === 'object') {
    const values = compileDefaults(s.additionalProperties);
    if (values) out.values = values;
  }
  const items = s.items ? compileDefaults(s.items) : undefined;
  if (items) out.items = items;
  return out.fields || out.values || out.items ? out : undefined;
}

function applyDefaultsAt(d: DefaultsNode, v: unknown): void {
  if (Array.isArray(v)) {
    if (d.items) for (const x of v) applyDefaultsAt(d.items, x);
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  const o = v as Record<string, unknown>;
  for (const f of d.fields ?? []) {
    if (o[f.key] === undefined && f.value !== undefined) o[f.key] = structuredClone(f.value);
    if (f.node && o[f.key] !== undefined) applyDefaultsAt(f.node, o[f.key]);
  }
  if (d.values) for (const k of Object.keys(o)) applyDefaultsAt(d.values, o[k]);
}

// ---- the structural rules on the CRD itself (kube's ValidateStructural, the parts clients meet) ----

/** Causes for a schema that is not structural, under `path` (`spec.versions[0].schema.openAPIV3Schema`). */
export function structuralCauses(s: SchemaProps, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!s.type) causes.push(required(`${path}.type`, 'must not be empty at the root'));
  else if (s.type !== 'object') causes.push(invalid(`${path}.type`, s.type, 'must be object at the root'));
  const meta = s.properties?.metadata;
  if (meta) {
    const extra = Object.keys(meta.properties ?? {}).filter((k) => k !== 'name' && k !== 'generateName');
    if (extra.length || meta.type !== 'object') {
      causes.push(forbidden(`${path}.properties[metadata]`, 'must not specify anything other than name and generateName, but metadata is implicitly specified'));
    }
  }
  walkStructural(s, path, 'root', causes);
  return causes;
}

function walkStructural(s: SchemaProps, path: string, where: 'root' | 'field' | 'item' | 'value', causes: Cause[]): void {
  if (s.$ref !== undefined) causes.push(forbidden(`${path}.$ref`, 'must not be specified in a structural schema'));
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (intOrString && s.type) causes.push(forbidden(`${path}.type`, 'must be empty if x-kubernetes-int-or-string is true'));
  if (!s.type && !intOrString && !preserve && where !== 'root') {
    const what = where === 'item' ? 'for specified array items' : where === 'value' ? 'for specified additionalProperties' : 'for specified object fields';
    causes.push(required(`${path}.type`, `must not be empty ${what}`));
  }
  if (s.properties && s.additionalProperties !== undefined && s.additionalProperties !== false) {
    causes.push(forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  }
  if (s.type === 'array' && !s.items) causes.push(required(`${path}.items`, 'must be specified'));
  if (typeof s.pattern === 'string' && backtracks(s.pattern)) {
    causes.push(forbidden(`${path}.pattern`, 'may backtrack without bound (a quantified group holding a quantifier); patterns here run in a backtracking engine'));
  }
  if (s['x-kubernetes-list-type'] === 'map') {
    const keys = s['x-kubernetes-list-map-keys'] ?? [];
    if (keys.length === 0) causes.push(required(`${path}.x-kubernetes-list-map-keys`, 'must not be empty if x-kubernetes-list-type is map'));
    if (s.items && s.items.type !== 'object') causes.push(invalid(`${path}.items.type`, s.items.type ?? '', 'must be object if parent array\'s x-kubernetes-list-type is map'));
  }
  for (const [k, sub] of Object.entries(s.properties ?? {})) walkStructural(sub, `${path}.properties[${k}]`, 'field', causes);
  if (s.items) walkStructural(s.items, `${path}.items`, 'item', causes);
  if (typeof s.additionalProperties === 'object') walkStructural(s.additionalProperties, `${path}.additionalProperties`, 'value', causes);
}

/** The schema node at a dotted path of properties (`.spec.replicas`), for scale paths and printer columns. */
export function schemaAt(root: SchemaProps, path: string): SchemaProps | undefined {
  let cur: SchemaProps | undefined = root;
  for (const seg of path.replace(/^\./, '').split('.')) {
    if (!cur || seg === '') return cur;
    cur = cur.properties?.[seg] ?? (typeof cur.additionalProperties === 'object' ? cur.additionalProperties : undefined);
  }
  return cur;
}
