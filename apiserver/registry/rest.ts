// The registry's contract with its callers (kube's rest package): the options of reads and writes, watch events, and
// what a subresource's storage offers. The generic store and the subresources implement it; handlers call it.
import type { ApiError } from '../../api/errors.js';
import type { ListOptions } from '../../api/list-options.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { JsonObject, ManagerRef, Obj } from './object.js';

export interface Clock {
  now(): Date;
}

/** Runs before an object is created, updated or deleted; throws ApiError to refuse (namespace lifecycle, quotas...). */
export type Admission = (attrs: { operation: 'create' | 'update' | 'delete'; info: ResourceInfo; namespace: string; name: string; obj?: Obj }) => Promise<void>;

/** Records in obj's managedFields what its manager changed from old (patch/managed-fields.ts implements it). */
export type TrackFields = (old: Obj | undefined, obj: Obj, ref: ManagerRef) => void;

/** Who asks for a write (the authenticated user), for kinds that record it (a CertificateSigningRequest's spec.username). */
export interface RequestUser {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** The requesting user; absent for the server's own writes. */
  user?: RequestUser;
  /** Manager recorded in managedFields; undefined skips tracking. */
  fieldManager?: string;
  /** managedFields were already computed (server-side apply). */
  managedFieldsSet?: boolean;
  /** The caller hands the object over (a decoded request body): the store changes it in place rather than a copy. */
  owned?: boolean;
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
}

export interface DeleteParams {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  dryRun?: boolean;
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
}

export interface ObjectWatch extends AsyncIterable<WatchOut> {
  close(): void;
}

/** What a subresource reaches of its parent's store. */
export interface ParentStore {
  readonly info: ResourceInfo;
  get(namespace: string, name: string): Promise<Obj>;
  update(namespace: string, name: string, transform: (current: Obj | undefined) => Obj | Promise<Obj>, opts?: UpdateOptions): Promise<{ obj: Obj; created: boolean }>;
  delete(namespace: string, name: string, p?: DeleteParams): Promise<{ obj: Obj; deleted: boolean }>;
}

/** kube's CreateOptions of a subresource create, and the request's DeleteOptions for one that deletes (eviction). */
export interface CreateOptions {
  dryRun: boolean;
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
  update?(namespace: string, name: string, change: (current: JsonObject) => unknown, opts: { dryRun: boolean; fieldManager: string }): Promise<JsonObject>;
  /** POST: acts on the named object with the body (a Binding, an Eviction); answered 201 Success. */
  create?(namespace: string, name: string, body: unknown, opts: CreateOptions): Promise<void>;
}

/** Makes a kind's subresource storage over the kind's store. */
export type SubresourceFactory = (parent: ParentStore, deps: { clock: Clock }) => SubresourceStorage;
