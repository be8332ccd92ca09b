// Building blocks for the resource schemas: named definitions, maps, enums, int-or-string, quantities, times.
//
// Unknown fields: object schemas never set `additionalProperties: false`. Kubernetes drops unknown fields
// by default, so validation accepts them; the API server prunes them or, with fieldValidation=Strict,
// rejects them using `unknownFields()` (api/prune.ts), which walks these same schemas.
//
// Null: Go decodes `null` as the zero value, so `creationTimestamp: null` (as kubectl writes it) is legal.
// We do not model null in the types; `dropNulls()` (api/prune.ts) removes nulls before validation.
import { Type, type TSchema, type Static, type TUnsafe, type SchemaOptions } from '@sinclair/typebox';

/** The OpenAPI definition name of a schema (`io.k8s.api.core.v1.Pod`). A symbol, so ajv and JSON ignore it. */
export const DefName: unique symbol = Symbol.for('ketch.api.definitionName');

type Named = { [DefName]?: string };

/** Marks `schema` as the named definition `name`; openapi.ts turns each use of it into a `$ref`. */
export function named<T extends TSchema>(name: string, schema: T): T {
  (schema as T & Named)[DefName] = name;
  return schema;
}

export function definitionName(schema: unknown): string | undefined {
  return typeof schema === 'object' && schema !== null ? (schema as Named)[DefName] : undefined;
}

export const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
export const CORE = 'io.k8s.api.core.v1';

/** The `x-kubernetes-*` annotation keywords we put in schemas (registered with ajv as no-ops). */
export const K8S_KEYWORDS = [
  'x-kubernetes-group-version-kind',
  'x-kubernetes-int-or-string',
  'x-kubernetes-patch-merge-key',
  'x-kubernetes-patch-strategy',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
] as const;

export const Opt = Type.Optional;
export const Str = (o?: SchemaOptions) => Type.String(o);
export const Bool = (o?: SchemaOptions) => Type.Boolean(o);
export const Int32 = (o?: SchemaOptions) => Type.Integer({ format: 'int32', ...o });
export const Int64 = (o?: SchemaOptions) => Type.Integer({ format: 'int64', ...o });
export const Num = (o?: SchemaOptions) => Type.Number({ format: 'double', ...o });
export const Arr = <T extends TSchema>(items: T, o?: SchemaOptions) => Type.Array(items, o);
export const StrArr = (o?: SchemaOptions) => Type.Array(Type.String(), o);

/** A JSON object with arbitrary keys (labels, data, nodeSelector). */
export function MapOf<T extends TSchema>(value: T, o?: SchemaOptions): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: value, ...o });
}
export const StrMap = (o?: SchemaOptions) => MapOf(Type.String(), o);

/** A closed set of strings: an OpenAPI `enum`, a TS literal union. */
export function Enum<const V extends readonly string[]>(values: V, o?: SchemaOptions): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...o });
}

/** A free-form JSON object kept as is (fieldsV1, RawExtension). */
export const FreeObject = (o?: SchemaOptions) =>
  Type.Unsafe<Record<string, unknown>>({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, ...o });

/** A list merged by key in strategic merge patch (`containers` by `name`). */
export function MergeList<T extends TSchema>(items: T, key: string, o?: SchemaOptions) {
  return Type.Array(items, {
    'x-kubernetes-patch-merge-key': key,
    'x-kubernetes-patch-strategy': 'merge',
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': [key],
    ...o,
  });
}

/** A list of strings merged as a set (`finalizers`). */
export const SetList = (o?: SchemaOptions) =>
  Type.Array(Type.String(), { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set', ...o });

export const IntOrString = named(
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
  Type.Unsafe<number | string>({
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
    description: 'An int32 or a string, e.g. a port number or name, or a percentage.',
  }),
);
export type IntOrString = Static<typeof IntOrString>;

export const Quantity = named(
  'io.k8s.apimachinery.pkg.api.resource.Quantity',
  Type.Unsafe<string | number>({
    anyOf: [{ type: 'string' }, { type: 'number' }],
    'x-kubernetes-int-or-string': true,
    description: "A fixed-point number with an optional suffix: '500m', '1Gi', '2', '1e3'.",
  }),
);
export type Quantity = Static<typeof Quantity>;

export const ResourceList = MapOf(Quantity);

export const Time = named(
  `${META}.Time`,
  Type.String({ format: 'date-time', description: 'RFC 3339 date and time, in seconds, e.g. 2024-01-02T15:04:05Z.' }),
);
export const MicroTime = named(
  `${META}.MicroTime`,
  Type.String({ format: 'date-time', description: 'RFC 3339 date and time with microseconds.' }),
);
