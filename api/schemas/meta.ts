// meta/v1 schemas: ObjectMeta, ListMeta, OwnerReference, LabelSelector, Condition, Status, WatchEvent, Table.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { META, named, Opt, Str, Bool, Int32, Int64, Arr, StrArr, StrMap, Enum, FreeObject, MergeList, SetList, Time } from './kit.js';

export const OwnerReference = named(
  `${META}.OwnerReference`,
  Type.Object(
    {
      apiVersion: Str(),
      kind: Str(),
      name: Str(),
      uid: Str(),
      controller: Opt(Bool()),
      blockOwnerDeletion: Opt(Bool()),
    },
    { description: 'Identifies an owning object; the owner must be in the same namespace or cluster-scoped.' },
  ),
);
export type OwnerReference = Static<typeof OwnerReference>;

export const ManagedFieldsEntry = named(
  `${META}.ManagedFieldsEntry`,
  Type.Object({
    manager: Opt(Str()),
    operation: Opt(Enum(['Apply', 'Update'])),
    apiVersion: Opt(Str()),
    time: Opt(Time),
    fieldsType: Opt(Str()),
    fieldsV1: Opt(named(`${META}.FieldsV1`, FreeObject())),
    subresource: Opt(Str()),
  }),
);
export type ManagedFieldsEntry = Static<typeof ManagedFieldsEntry>;

export const ObjectMeta = named(
  `${META}.ObjectMeta`,
  Type.Object(
    {
      name: Opt(Str({ description: 'Unique within a namespace.' })),
      generateName: Opt(Str({ description: 'Prefix for a server-generated name, used when name is empty.' })),
      namespace: Opt(Str()),
      uid: Opt(Str()),
      resourceVersion: Opt(Str()),
      generation: Opt(Int64()),
      creationTimestamp: Opt(Time),
      deletionTimestamp: Opt(Time),
      deletionGracePeriodSeconds: Opt(Int64()),
      labels: Opt(StrMap({ description: 'Keys and values for organizing and selecting objects.' })),
      annotations: Opt(StrMap({ description: 'Arbitrary non-identifying metadata.' })),
      ownerReferences: Opt(MergeList(OwnerReference, 'uid')),
      finalizers: Opt(SetList()),
      managedFields: Opt(Arr(ManagedFieldsEntry)),
    },
    { description: 'Metadata that every persisted object has.' },
  ),
);
export type ObjectMeta = Static<typeof ObjectMeta>;

export const ListMeta = named(
  `${META}.ListMeta`,
  Type.Object({
    resourceVersion: Opt(Str()),
    continue: Opt(Str()),
    remainingItemCount: Opt(Int64()),
    selfLink: Opt(Str()),
  }),
);
export type ListMeta = Static<typeof ListMeta>;

export const LabelSelectorRequirement = named(
  `${META}.LabelSelectorRequirement`,
  Type.Object({
    key: Str(),
    operator: Str({ description: 'In, NotIn, Exists or DoesNotExist.' }),
    values: Opt(StrArr()),
  }),
);
export type LabelSelectorRequirement = Static<typeof LabelSelectorRequirement>;

export const LabelSelector = named(
  `${META}.LabelSelector`,
  Type.Object(
    {
      matchLabels: Opt(StrMap()),
      matchExpressions: Opt(Arr(LabelSelectorRequirement)),
    },
    { 'x-kubernetes-map-type': 'atomic', description: 'The requirements are ANDed; an empty selector matches everything.' },
  ),
);
export type LabelSelector = Static<typeof LabelSelector>;

export const ConditionStatus = Enum(['True', 'False', 'Unknown']);

/** The meta/v1 Condition; the core and apps kinds have their own, nearly identical, condition types. */
export const Condition = named(
  `${META}.Condition`,
  Type.Object({
    type: Str(),
    status: ConditionStatus,
    observedGeneration: Opt(Int64()),
    lastTransitionTime: Time,
    reason: Str(),
    message: Str(),
  }),
);
export type Condition = Static<typeof Condition>;

export const StatusCauseSchema = named(
  `${META}.StatusCause`,
  Type.Object({ reason: Opt(Str()), message: Opt(Str()), field: Opt(Str()) }),
);

export const StatusDetailsSchema = named(
  `${META}.StatusDetails`,
  Type.Object({
    name: Opt(Str()),
    group: Opt(Str()),
    kind: Opt(Str()),
    uid: Opt(Str()),
    causes: Opt(Arr(StatusCauseSchema)),
    retryAfterSeconds: Opt(Int32()),
  }),
);

/** The schema of meta/v1 Status; the TS type is the hand-written `Status` in errors.ts. */
export const StatusSchema = named(
  `${META}.Status`,
  Type.Object(
    {
      apiVersion: Opt(Str()),
      kind: Opt(Str()),
      metadata: Opt(ListMeta),
      status: Opt(Str()),
      message: Opt(Str()),
      reason: Opt(Str()),
      details: Opt(StatusDetailsSchema),
      code: Opt(Int32()),
    },
    { 'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }] },
  ),
);

export const Preconditions = named(`${META}.Preconditions`, Type.Object({ uid: Opt(Str()), resourceVersion: Opt(Str()) }));

export const DeleteOptions = named(
  `${META}.DeleteOptions`,
  Type.Object({
    apiVersion: Opt(Str()),
    kind: Opt(Str()),
    gracePeriodSeconds: Opt(Int64()),
    preconditions: Opt(Preconditions),
    orphanDependents: Opt(Bool()),
    propagationPolicy: Opt(Enum(['Orphan', 'Background', 'Foreground'])),
    dryRun: Opt(StrArr()),
  }),
);
export type DeleteOptions = Static<typeof DeleteOptions>;

/** An embedded object of any kind (WatchEvent.object, Table rows). */
export const RawExtension = named('io.k8s.apimachinery.pkg.runtime.RawExtension', FreeObject({ 'x-kubernetes-embedded-resource': true }));

export const WatchEventSchema = named(
  `${META}.WatchEvent`,
  Type.Object(
    {
      type: Enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
      object: RawExtension,
    },
    { 'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'WatchEvent' }] },
  ),
);

export const TableColumnDefinition = named(
  `${META}.TableColumnDefinition`,
  Type.Object({
    name: Str(),
    type: Str({ description: 'An OpenAPI type: integer, number, string, boolean, date.' }),
    format: Str(),
    description: Str(),
    priority: Int32(),
  }),
);
export type TableColumnDefinition = Static<typeof TableColumnDefinition>;

export const TableRowCondition = named(
  `${META}.TableRowCondition`,
  Type.Object({ type: Str(), status: ConditionStatus, reason: Opt(Str()), message: Opt(Str()) }),
);

export const TableRow = named(
  `${META}.TableRow`,
  Type.Object({
    cells: Arr(Type.Unsafe<unknown>({ 'x-kubernetes-preserve-unknown-fields': true })),
    conditions: Opt(Arr(TableRowCondition)),
    object: Opt(RawExtension),
  }),
);
export type TableRow = Static<typeof TableRow>;

export const TableSchema = named(
  `${META}.Table`,
  Type.Object(
    {
      apiVersion: Enum(['meta.k8s.io/v1']),
      kind: Enum(['Table']),
      metadata: ListMeta,
      columnDefinitions: Arr(TableColumnDefinition),
      rows: Arr(TableRow),
    },
    { 'x-kubernetes-group-version-kind': [{ group: 'meta.k8s.io', version: 'v1', kind: 'Table' }] },
  ),
);
export type Table = Static<typeof TableSchema>;

/** The shape shared by every persisted object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
/** A watch frame; `object` is the changed object, or a Status for ERROR. */
export type WatchEvent<T = KubeObject> = Omit<Static<typeof WatchEventSchema>, 'object'> & { object: T };

/** `<Kind>List` for any item schema. */
export function listOf<T extends TSchema>(definition: string, apiVersion: string, kind: string, item: T) {
  return named(
    `${definition}List`,
    Type.Object(
      {
        apiVersion: Enum([apiVersion]),
        kind: Enum([`${kind}List`]),
        metadata: ListMeta,
        items: Arr(item),
      },
      { 'x-kubernetes-group-version-kind': [groupVersionKind(apiVersion, `${kind}List`)] },
    ),
  );
}

/** Splits an apiVersion: `apps/v1` -> {group: 'apps', version: 'v1', kind}. */
export function groupVersionKind(apiVersion: string, kind: string): { group: string; version: string; kind: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion, kind } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1), kind };
}

/** A top-level kind: apiVersion, kind, metadata plus its own fields. */
export function kindSchema<P extends Record<string, TSchema>, const V extends string, const K extends string>(
  definition: string,
  apiVersion: V,
  kindName: K,
  properties: P,
  description: string,
) {
  return named(
    definition,
    Type.Object(
      {
        apiVersion: Enum([apiVersion] as const, { description: 'The versioned schema of this representation of an object.' }),
        kind: Enum([kindName] as const, { description: 'The REST resource this object represents.' }),
        metadata: ObjectMeta,
        ...properties,
      },
      { description, 'x-kubernetes-group-version-kind': [groupVersionKind(apiVersion, kindName)] },
    ),
  );
}
