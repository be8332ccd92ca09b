// The registry's contract with its callers (kube's rest package): the options of reads and writes, watch events, and
// what a subresource's storage offers. The generic store and the subresources implement it; handlers call it.
import type { ApiError } from '../../api/errors.js';
import type { ListOptions } from '../../api/list-options.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { UserInfo } from '../authorization/types.js';
import type { JsonObject, ManagerRef, Obj } from './object.js';

export interface Clock {
  now(): Date;
}

/**
 * Who makes a write, and where what admission has to say goes besides a refusal: warnings for the client (Warning
 * headers) and annotations for the audit log. Writes without one are the server's own (its loopback identity).
 */
export interface RequestScope {
  user: UserInfo;
  warn?(message: string): void;
  annotate?(key: string, value: string): void;
}

/** kube's loopback client identity: the API server's own writes (post-start hooks, bootstrap policy, publishers). */
export const SERVER_USER: UserInfo = Object.freeze({ name: 'system:apiserver', groups: Object.freeze(['system:masters', 'system:authenticated']) });
export const SERVER_SCOPE: RequestScope = Object.freeze({ user: SERVER_USER });

/** What admission sees of a write (kube's admission.Attributes). */
export interface AdmissionAttributes {
  operation: 'create' | 'update' | 'delete';
  info: ResourceInfo;
  /** '' for the resource itself; status, binding, eviction, scale, token... */
  subresource: string;
  namespace: string;
  name: string;
  /**
   * The new object (create, update; a mutating plugin changes it in place); for a subresource create its body (an
   * Eviction, a TokenRequest); on delete the object being deleted, as `old` is.
   */
  obj?: Obj;
  /** The stored object (update, delete). */
  old?: Obj;
  scope: RequestScope;
  dryRun: boolean;
}

/**
 * Runs before an object is created, updated or deleted; throws ApiError to refuse (namespace lifecycle, quotas...).
 * A plugin that changed the object answers true: the store then defaults and validates it again.
 */
export type Admission = (attrs: AdmissionAttributes) => Promise<void | boolean>;

/** How each list field of a kind merges (by key, as a set, atomically), by its path of field names. */
export type ListTypes = (path: readonly string[]) => { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' };

/** Records in obj's managedFields what its manager changed from old (patch/managed-fields.ts implements it). */
export type TrackFields = (old: Obj | undefined, obj: Obj, ref: ManagerRef, listTypes?: ListTypes) => void;

/** Who asks for a write (the authenticated user), for kinds that record it (a CertificateSigningRequest's spec.username). */
export interface WriteOptions {
  dryRun?: boolean;
  /** Manager recorded in managedFields; undefined skips tracking. */
  fieldManager?: string;
  /** managedFields were already computed (server-side apply). */
  managedFieldsSet?: boolean;
  /** The caller hands the object over (a decoded request body): the store changes it in place rather than a copy. */
  owned?: boolean;
  /**
   * With owned, for a create with a generated name: the object as it came, made again (the request body decoded
   * anew). A name collision's retry starts from it, so the first try needs no copy of the input.
   */
  again?: () => Obj;
  /** Who writes (default: the server itself). */
  scope?: RequestScope;
}

export interface UpdateOptions extends WriteOptions {
  /**
   * 'status' writes only .status; 'finalize' only namespace spec.finalizers; 'binding' takes the transform's result as
   * is (server code, e.g. pods/binding, that bypasses the kind's update rules); undefined the main resource.
   */
  subresource?: 'status' | 'finalize' | 'binding';
  /** Create when missing (apply, or strategies allowing create-on-update). */
  allowCreate?: boolean;
  /** The transform does not change the object it is given, so it gets the stored object itself rather than a copy. */
  currentReadOnly?: boolean;
  /** The subresource admission is told of when it is not `subresource` (a Scale written through its parent: "scale"). */
  admissionSubresource?: string;
  /**
   * The revision the writer read the object at (the resourceVersion its object carries; 0 for a write whose checks
   * only a newer state can fail, as a binding's): the watch cache's state, once at least that new, is the first try
   * even while the cache is behind this server's newest write of the type. The write names the revision it read, so a
   * stale state is refused by storage and the next try reads storage.
   */
  seenAt?: number;
}

export interface DeleteParams {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  dryRun?: boolean;
  /** Who deletes (default: the server itself). */
  scope?: RequestScope;
}

/** The list options a list reads. */
export type ListParams = Pick<ListOptions, 'labelSelector' | 'fieldSelector' | 'limit' | 'continue' | 'resourceVersion' | 'resourceVersionMatch'>;

export interface ListOut {
  items: Obj[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** The list options a watch reads, and the one object it may be limited to (…/watch/…/pods/name). */
export type WatchParams = Pick<ListOptions, 'labelSelector' | 'fieldSelector' | 'resourceVersion' | 'allowWatchBookmarks' | 'sendInitialEvents'> & { name?: string };

export interface WatchOut {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Obj | ApiError['status'];
  /** For changes: the object's JSON, made once from its stored bytes and shared by every watcher (no serialization). */
  json?(): Buffer;
}

export interface ObjectWatch extends AsyncIterable<WatchOut> {
  close(): void;
}

/** What a subresource reaches of its parent's store. */
export interface ParentStore {
  readonly info: ResourceInfo;
  /** Runs the admission chain for a subresource create that has no object of its own to store (an Eviction). */
  admit(attrs: Omit<AdmissionAttributes, 'info'>): Promise<boolean | void>;
  get(namespace: string, name: string): Promise<Obj>;
  update(namespace: string, name: string, transform: (current: Obj | undefined) => Obj | Promise<Obj>, opts?: UpdateOptions): Promise<{ obj: Obj; created: boolean }>;
  delete(namespace: string, name: string, p?: DeleteParams): Promise<{ obj: Obj; deleted: boolean }>;
}

/** kube's CreateOptions of a subresource create, and the request's DeleteOptions for one that deletes (eviction). */
export interface CreateOptions {
  dryRun: boolean;
  scope: RequestScope;
  /** The request's DeleteOptions: those of its query over `options` (an Eviction's deleteOptions). */
  deleteOptions(options: unknown): DeleteParams;
}

/**
 * The storage of a subresource with objects of its own kind (kube's ScaleREST, BindingREST, EvictionREST): the
 * handlers serve get, update and patch, and create, through it, whatever the parent's kind.
 */
export interface SubresourceStorage {
  /** Which request bodies it reads: JSON only, or any media type a write takes (JSON, YAML, protobuf). */
  readonly bodies: 'json' | 'any';
  /** GET: the subresource object. */
  get?(namespace: string, name: string): Promise<JsonObject>;
  /** PUT and PATCH: `change` gives the desired subresource object from the current one; the answer is the new one. */
  update?(namespace: string, name: string, change: (current: JsonObject) => unknown, opts: { dryRun: boolean; fieldManager: string; scope: RequestScope }): Promise<JsonObject>;
  /** POST: acts on the named object with the body (a Binding, an Eviction); answered 201 Success. */
  create?(namespace: string, name: string, body: unknown, opts: CreateOptions): Promise<void>;
}

/** What a subresource reaches of another kind's store (an eviction reads and updates PodDisruptionBudgets). */
export interface PeerStore extends ParentStore {
  list(namespace: string, p?: ListParams): Promise<ListOut>;
}

/** Makes a kind's subresource storage over the kind's store; `peer` reaches the store of another kind. */
export type SubresourceFactory = (parent: ParentStore, deps: { clock: Clock; peer(info: ResourceInfo): PeerStore }) => SubresourceStorage;

/** A Table cell. */
export type TableCell = string | number | boolean | null;

/** A kind's Table columns and rows (kube's TableConvertor). */
export interface TablePrinter {
  columns: { name: string; type: 'string' | 'integer' | 'number' | 'boolean' | 'date'; format?: string; description?: string; priority?: number }[];
  row(o: Obj, now: Date): TableCell[];
}
