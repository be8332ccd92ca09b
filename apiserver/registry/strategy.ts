// A strategy: the small per-kind policy the generic store consults (what create/update reset, selectable fields, deletion).
import type { StatusCause } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import { getPath, str, type Obj } from './object.js';
import type { DeleteParams, ListTypes, SubresourceFactory, TablePrinter } from './rest.js';
import type { SchemaHooks } from './schema.js';
import type { UserInfo } from '../authorization/types.js';

export interface Strategy {
  /** Whether the kind has a status subresource: main-resource writes then keep the stored status. */
  readonly hasStatus: boolean;
  /** PUT on a missing object creates it (events, endpoints). */
  readonly allowCreateOnUpdate: boolean;
  /** DELETE answers with the deleted object instead of a Status. */
  readonly returnDeletedObject: boolean;
  /** Field-selector keys beyond metadata.name/metadata.namespace. */
  readonly selectableFields: readonly string[];
  /** metadata.generation is tracked (bumped on changes outside metadata and status). */
  readonly tracksGeneration: boolean;
  /** Resets server-owned parts of a new object (status, derived fields); `user` is who creates it, when a client does. */
  prepareForCreate(obj: Obj, user?: UserInfo): void;
  /** Carries over what a main-resource update may not change. */
  prepareForUpdate(obj: Obj, old: Obj): void;
  /** Carries over what a status update may not change beyond the spec (kept anyway), e.g. a CSR's approval conditions. */
  prepareForStatusUpdate?(obj: Obj, old: Obj): void;
  /** Kind-specific checks beyond the schema (api's validateObject runs as well). */
  validate(obj: Obj): StatusCause[];
  validateUpdate(obj: Obj, old: Obj): StatusCause[];
  /** Grace period in seconds for a graceful delete; 0 deletes at once (unless finalizers remain). */
  gracePeriod(obj: Obj, opts: DeleteParams): number;
  /** Set when deletion starts (namespaces become Terminating). */
  prepareForDelete(obj: Obj): void;
  /** Finalizers that block removal, including kind-specific ones (namespace spec.finalizers). */
  hasFinalizers(obj: Obj): boolean;
  /** Selectable field values beyond metadata.name/namespace; defaults to reading selectableFields as paths. */
  fields?(obj: Obj): Record<string, string>;
  /** Async work before a create or update is written (e.g. allocating a service's cluster IP). */
  allocate?(obj: Obj, old: Obj | undefined, ctx: AllocateContext): Promise<void>;
  /** The kind's subresources with objects of their own (scale, binding, eviction), by name. */
  readonly subresources?: Readonly<Record<string, SubresourceFactory>>;
  /** Defaulting, validation and pruning of the kind's objects (default: api/'s, from the built-in schemas). */
  readonly schema?: SchemaHooks;
  /** The kind's Table columns (default: the built-in printers by kind). */
  readonly printer?: TablePrinter;
  /** How the kind's lists merge in server-side apply (default: the built-in kinds' merge keys). */
  readonly listTypes?: ListTypes;
}

/** What an allocator may read: the other objects of the same kind. */
export interface AllocateContext {
  listAll(): Promise<Obj[]>;
}

/** The defaults most kinds use; a kind's strategy overrides what differs. */
export function defaultStrategy(info: ResourceInfo, overrides: Partial<Strategy> = {}): Strategy {
  const hasStatus = info.subresources.includes('status');
  const base: Strategy = {
    hasStatus,
    allowCreateOnUpdate: false,
    returnDeletedObject: false,
    selectableFields: [],
    tracksGeneration: hasStatus,
    prepareForCreate(obj) {
      if (hasStatus) obj.status = {};
    },
    prepareForUpdate(obj, old) {
      if (hasStatus) {
        if (old.status === undefined) delete obj.status;
        else obj.status = old.status;
      }
    },
    validate: () => [],
    validateUpdate: () => [],
    gracePeriod: () => 0,
    prepareForDelete: () => undefined,
    hasFinalizers: (obj) => (obj.metadata.finalizers?.length ?? 0) > 0,
  };
  return { ...base, ...overrides };
}

/** The selectable field values of obj: metadata.name, metadata.namespace and the strategy's fields. */
export function fieldsOf(strategy: Strategy, obj: Obj): Record<string, string> {
  const out: Record<string, string> = { 'metadata.name': obj.metadata.name ?? '', 'metadata.namespace': obj.metadata.namespace ?? '' };
  if (strategy.fields) return Object.assign(out, strategy.fields(obj));
  for (const f of strategy.selectableFields) out[f] = str(getPath(obj, f));
  return out;
}
