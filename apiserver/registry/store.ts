// The generic registry store: create/get/list/update/delete/watch for every kind over the Storage contract, through
// the kind's Codec (stored form) and Cacher (one storage watch, the current objects). Kind-specific policy comes from
// the Strategy; this file never switches on the kind.
import { ApiError, errors, type StatusCause } from '../../api/errors.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import { isStorageError, type KeyValue, type Storage } from '../storage/interface.js';
import { Cacher, type CacheWatch, type CachedEvent, type CachedObjects, type CacherOptions, type CacherStats } from './cacher.js';
import { Codec, type ListItem, type ValueTransformer } from './codec.js';
import { jsonInLine } from './watch-line.js';
import { checkFieldsSupported, labelMatcher, matchFields, parseFieldSelector } from './selectors.js';
import { deepEqual, rfc3339, type ManagerRef, type Obj } from './object.js';
import { SERVER_SCOPE, type Admission, type AdmissionAttributes, type Clock, type DeleteParams, type ListOut, type ListParams, type ObjectWatch, type TrackFields, type UpdateOptions, type WatchOut, type WatchParams, type WriteOptions } from './rest.js';
import { fieldsOf, type Strategy } from './strategy.js';
import { newUid, objectKey, prefixKey } from '../../api/keys.js';
import { schemaHooks, type SchemaHooks } from './schema.js';

const CONFLICT_MSG = 'the object has been modified; please apply your changes to the latest version and try again';
const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

/** How long a resourceVersion=0 read waits for the type's cache to sync before it reads storage instead. */
const RECENT_SYNC_TIMEOUT_MS = 3000;

/** What a status write reads of the object it is given: the rest is the stored object's. */
const STATUS_READS = ['apiVersion', 'kind', 'metadata', 'status'];

/** Thrown inside the write loop when the result equals what is stored: nothing is written. */
class Unchanged {
  constructor(readonly obj: Obj) {}
}

/** Settings of every resource type's cacher (buffer size, bookmark interval, timers). */
export type CacherConfig = Pick<CacherOptions<Obj>, 'capacity' | 'bookmarkIntervalMs' | 'maxPending' | 'clock' | 'onError'>;

export interface StoreDeps {
  clock: Clock;
  admission: Admission[];
  /** managedFields tracking of Update operations (absent: not tracked). */
  trackFields?: TrackFields;
  cacher?: CacherConfig;
  /** How a resource's values are stored, when not as their JSON (encryption at rest). */
  transformerFor?: (info: ResourceInfo) => ValueTransformer | undefined;
}

/** kube-apiserver's ValidateListOptions for resourceVersionMatch: 422 Invalid ListOptions. */
function checkListOptions(p: { resourceVersion?: string; resourceVersionMatch?: string; continue?: string }): void {
  const match = p.resourceVersionMatch;
  if (!match) return;
  const cause = (reason: string, message: string): StatusCause => ({ reason, field: 'resourceVersionMatch', message });
  let c: StatusCause | undefined;
  if (match !== 'Exact' && match !== 'NotOlderThan') c = cause('FieldValueNotSupported', `Unsupported value: "${match.slice(0, 100)}": supported values: "Exact", "NotOlderThan"`);
  else if (!p.resourceVersion) c = cause('FieldValueForbidden', 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
  else if (p.continue) c = cause('FieldValueForbidden', 'Forbidden: resourceVersionMatch is forbidden when continue is provided');
  else if (match === 'Exact' && p.resourceVersion === '0') c = cause('FieldValueForbidden', 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
  if (c) throw errors.invalid('ListOptions', 'meta.k8s.io', '', [c]);
}

/** 504 with the ResourceVersionTooLarge cause that client-go's reflector looks for. */
function tooLargeResourceVersion(rv: number, current: number): ApiError {
  return new ApiError(504, 'Timeout', `Timeout: Too large resource version: ${rv}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

export class Store {
  private readonly apiVersion: string;
  private readonly supportedFields: ReadonlySet<string>;
  private readonly codec: Codec;
  private cache: Cacher<Obj> | undefined;
  /** The revision of this store's newest write: cached reads must be at least as new (read-your-writes). */
  private lastWrite = 0;
  /** Selectable field values by object (see fieldsOf). */
  private readonly fieldValues = new WeakMap<Obj, Record<string, string>>();
  /** The last two objects fieldsOf was asked for, newest first. */
  private recentFields: [{ obj: Obj; fields: Record<string, string> } | undefined, { obj: Obj; fields: Record<string, string> } | undefined] = [undefined, undefined];
  /** Defaulting, validation and pruning of this kind (the strategy's, else the built-in schemas'). */
  readonly schema: SchemaHooks;

  constructor(
    readonly info: ResourceInfo,
    readonly strategy: Strategy,
    private readonly storage: Storage,
    private readonly deps: StoreDeps,
  ) {
    this.apiVersion = apiVersionOf(info);
    this.codec = new Codec(info, deps.transformerFor?.(info));
    this.supportedFields = new Set(['metadata.name', 'metadata.namespace', ...strategy.selectableFields]);
    this.schema = strategy.schema ?? schemaHooks;
  }

  // ---- keys and encoding ----

  key(namespace: string, name: string): string {
    return objectKey(this.info, this.info.namespaced ? namespace : undefined, name);
  }

  /** The prefix of every object in namespace ('' = all namespaces), ending in '/'. */
  prefix(namespace: string): string {
    return prefixKey(this.info, this.info.namespaced && namespace ? namespace : undefined);
  }

  /** The JSON of an object this store returned (a write's result; see Codec.json). It must not have changed since. */
  json(obj: Obj): Buffer | string {
    return this.codec.json(obj);
  }

  /** The JSON of the stored object: the stored bytes with the resourceVersion spliced in, when they are in our form. */
  async getJson(namespace: string, name: string): Promise<Buffer | string> {
    return this.codec.storedJson(await this.read(namespace, name));
  }

  /** The stored value of an object, or 404. */
  private async read(namespace: string, name: string): Promise<KeyValue> {
    const kv = await this.storage.get(this.key(namespace, name)).catch((e: unknown) => {
      throw this.mapError(e, name);
    });
    if (!kv) throw errors.notFound(this.ref(name));
    return kv;
  }

  private ref(name: string | undefined): { group: string; resource: string; name?: string } {
    return { group: this.info.group, resource: this.info.resource, ...(name !== undefined ? { name } : {}) };
  }

  /** Maps storage failures onto the Kubernetes Status kubectl expects. */
  private mapError(err: unknown, name?: string): unknown {
    if (!isStorageError(err)) return err;
    switch (err.code) {
      case 'KeyExists':
        return errors.alreadyExists(this.ref(name));
      case 'NotFound':
        return errors.notFound(this.ref(name));
      case 'Conflict':
        return errors.conflict(this.ref(name), CONFLICT_MSG);
      case 'Compacted':
        return errors.gone(`The resourceVersion for the provided list is too old.`);
      case 'TooLarge':
        return errors.tooLarge(`etcdserver: request is too large`);
      case 'InvalidContinue':
        return errors.badRequest(`continue key is not valid: ${err.message}`);
      case 'Unavailable':
        return errors.unavailable(`storage is unavailable: ${err.message}`);
      default:
        return errors.internal(err.message);
    }
  }

  private now(): string {
    return rfc3339(this.deps.clock.now());
  }

  private managerRef(manager: string, subresource?: string): ManagerRef {
    return { manager, apiVersion: this.apiVersion, time: this.now(), ...(subresource ? { subresource } : {}) };
  }

  private invalid(obj: Obj, causes: StatusCause[]): ApiError {
    return errors.invalid(this.info.kind, this.info.group, obj.metadata.name ?? '', causes);
  }

  /**
   * A malformed object from a client can trip a strategy, admission or allocation step (code written for well-typed
   * objects) before validation has said what is wrong with it: then validation's answer, a 422 naming the fields,
   * stands instead of the crash. Errors that validation cannot explain are passed on as they are.
   */
  private explain(err: unknown, obj: Obj, operation: 'create' | 'update', old?: Obj, subresource?: string): unknown {
    if (err instanceof ApiError || !(err instanceof Error)) return err;
    let causes: StatusCause[];
    try {
      causes = this.schema.validate({ ...obj, apiVersion: obj.apiVersion || apiVersionOf(this.info), kind: obj.kind || this.info.kind }, operation, old, subresource);
    } catch {
      // Validation trips over the object too: it cannot say more than the failure already does, which stands.
      return err;
    }
    return causes.length ? this.invalid(obj, causes) : err;
  }

  /** The admission chain on a write of this resource (or of one of its subresources); whether a plugin changed the object (then it is defaulted and validated again). */
  async admit(attrs: Omit<AdmissionAttributes, 'info'>): Promise<boolean> {
    const full: AdmissionAttributes = { ...attrs, info: this.info };
    let changed = false;
    for (const a of this.deps.admission) if ((await a(full)) === true) changed = true;
    return changed;
  }

  /** Defaults and validates again an object that mutating admission changed (kube validates after mutation). */
  private revalidate(obj: Obj, operation: 'create' | 'update', old?: Obj, subresource?: string): void {
    this.schema.dropNulls(obj);
    this.checkKind(obj);
    if (!subresource) this.schema.applyDefaults(obj);
    const causes = [
      ...this.schema.validate(obj, operation, old, subresource, true),
      ...(subresource ? [] : operation === 'create' ? this.strategy.validate(obj) : old ? this.strategy.validateUpdate(obj, old) : []),
    ];
    if (causes.length) throw this.invalid(obj, causes);
  }

  // ---- reads ----

  async get(namespace: string, name: string): Promise<Obj> {
    return this.codec.decode(await this.read(namespace, name));
  }

  /**
   * The object, or undefined when absent, for admission lookups: from the in-memory cache of the type when that has
   * every write this server made; a miss reads storage (it may be news the cache has not had yet). Never mutate it.
   */
  async lookup(namespace: string, name: string): Promise<Obj | undefined> {
    const hit = this.cacher().lookup(this.key(namespace, name), this.lastWrite);
    if (hit) return hit;
    try {
      return await this.get(namespace, name);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** Whether the type has no object, as the cache knows it at once (false when it cannot tell yet: see lookupAll). */
  knownEmpty(): boolean {
    return this.cacher().count(this.lastWrite) === 0;
  }

  /** Every object of the type, from the cache as lookup() does (or a storage list). Never mutate them. */
  async lookupAll(): Promise<Obj[]> {
    const items = this.cacher().snapshot(this.lastWrite);
    return items ? [...items.keys()].map((k) => items.get(k)!) : this.listAll('');
  }

  /** resourceVersion=0 reads (any recent state): from the in-memory cache once it has synced, else undefined. */
  private recent(): Promise<CachedObjects<Obj> | undefined> {
    return this.cacher().read(RECENT_SYNC_TIMEOUT_MS);
  }

  /** A get with resourceVersion=0: the object as the cache has it (storage when the cache is not ready). */
  async getRecent(namespace: string, name: string): Promise<Obj> {
    const snap = await this.recent();
    if (!snap) return this.get(namespace, name);
    const obj = snap.get(this.key(namespace, name));
    if (!obj) throw errors.notFound(this.ref(name));
    return obj;
  }

  /** Records a write's revision (see lookup). */
  private wrote(kv: KeyValue): KeyValue {
    if (kv.modRevision > this.lastWrite) this.lastWrite = kv.modRevision;
    return kv;
  }

  private matcher(labelSelector?: string, fieldSelector?: string): (o: Obj) => boolean {
    const labels = labelMatcher(labelSelector);
    const fields = parseFieldSelector(fieldSelector);
    checkFieldsSupported(fields, this.supportedFields);
    if (!labels && fields.length === 0) return () => true;
    return (o) => (!labels || labels(o.metadata.labels)) && matchFields(fields, this.fieldsOf(o));
  }

  /**
   * An object's selectable fields, made once per object (the watch cache's objects are shared by every watcher). A
   * change is matched by every selecting watcher in turn (a node's agent each), against its new and its previous
   * state: those two are kept at hand, so that each watcher costs no hash lookup.
   */
  private fieldsOf(o: Obj): Record<string, string> {
    const [a, b] = this.recentFields;
    if (a?.obj === o) return a.fields;
    if (b?.obj === o) return b.fields;
    let f = this.fieldValues.get(o);
    if (!f) this.fieldValues.set(o, (f = fieldsOf(this.strategy, o)));
    this.recentFields = [{ obj: o, fields: f }, a];
    return f;
  }

  /**
   * A page of matching objects: reads storage pages until `limit` matches or the end; with resourceVersion=0, every
   * match from the type's cache (shared objects: never mutate them).
   */
  async list(namespace: string, p: ListParams = {}): Promise<ListOut> {
    const page = await this.listPage(namespace, p);
    return { ...page.out, items: page.items.map((it) => it.obj ?? this.codec.decode(it.kv!)) };
  }

  /**
   * The same page as list() as one JSON list body (kind, apiVersion, metadata, items), made of the stored bytes of
   * each item with its resourceVersion spliced in: no parse and no serialization of the items when nothing is
   * selected by labels or fields (informers' and controllers' lists).
   */
  async listJson(namespace: string, p: ListParams, listKind: string): Promise<Buffer> {
    const page = await this.listPage(namespace, p);
    const { resourceVersion, continue: next, remainingItemCount } = page.out;
    const metadata = { resourceVersion, ...(next ? { continue: next } : {}), ...(remainingItemCount !== undefined ? { remainingItemCount } : {}) };
    return this.codec.listJson(listKind, metadata, page.items);
  }

  /** A page of matching items: with resourceVersion=0 every match from the cache, else stored items from storage. */
  private async listPage(namespace: string, p: ListParams): Promise<{ out: Omit<ListOut, 'items'>; items: ListItem[] }> {
    checkListOptions(p);
    const match = this.matcher(p.labelSelector, p.fieldSelector);
    if (p.resourceVersion === '0' && !p.continue) {
      // Any recent state will do: the cache answers, whole (limit is not applied there, as in kube-apiserver).
      const snap = await this.recent();
      if (snap) {
        const prefix = this.prefix(namespace);
        const keys = [...snap.keys()].filter((k) => k.startsWith(prefix)).sort();
        // Stored bytes as they are when nothing is selected; decoded only to select.
        const selecting = !!(p.labelSelector || p.fieldSelector);
        const items: ListItem[] = [];
        for (const k of keys) {
          const kv = snap.stored(k)!;
          if (!selecting) items.push({ kv });
          else {
            const obj = snap.get(k)!;
            if (match(obj)) items.push({ kv, obj });
          }
        }
        return { out: { resourceVersion: String(snap.revision) }, items };
      }
    }
    return this.storedPage(namespace, p, !!(p.labelSelector || p.fieldSelector) ? match : undefined);
  }

  /** Reads storage pages until `limit` matches or the end; those `match` had to decode come with their object. */
  private async storedPage(namespace: string, p: ListParams, match: ((o: Obj) => boolean) | undefined): Promise<{ out: Omit<ListOut, 'items'>; items: ListItem[] }> {
    const limit = p.limit && p.limit > 0 ? p.limit : 0;
    const revision = p.continue ? undefined : await this.listRevision(p, limit);
    const items: { kv: KeyValue; obj?: Obj }[] = [];
    let token = p.continue;
    let listRev = 0;
    let remaining: number | undefined;
    try {
      for (;;) {
        const want = limit ? limit - items.length : 0;
        const page = await this.storage.list(this.prefix(namespace), {
          ...(want ? { limit: want } : {}),
          ...(token ? { continue: token } : {}),
          ...(revision !== undefined && !token ? { revision } : {}),
        });
        listRev = page.revision;
        for (const kv of page.items) {
          if (!match) items.push({ kv });
          else {
            const obj = this.codec.decode(kv);
            if (match(obj)) items.push({ kv, obj });
          }
        }
        token = page.continue;
        remaining = page.remainingItemCount;
        if (!token || (limit && items.length >= limit)) break;
      }
    } catch (err) {
      if (isStorageError(err, 'Compacted') && p.continue) {
        throw errors.gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
      if (isStorageError(err, 'Compacted')) throw errors.gone(`too old resource version: ${p.resourceVersion ?? ''} (${err.revision ?? ''})`);
      throw this.mapError(err);
    }
    const out = { resourceVersion: String(listRev), ...(token ? { continue: token } : {}), ...(token && remaining !== undefined && !match ? { remainingItemCount: remaining } : {}) };
    return { out, items };
  }

  /** The revision a list reads at: resourceVersion N with Exact (or a limit), else the newest (undefined). */
  private async listRevision(p: ListParams, limit: number): Promise<number | undefined> {
    if (!p.resourceVersion || p.resourceVersion === '0') return undefined;
    const rv = Number(p.resourceVersion);
    if (!Number.isInteger(rv) || rv < 0) throw errors.badRequest(`invalid resource version "${p.resourceVersion}"`);
    const exact = p.resourceVersionMatch === 'Exact' || (limit > 0 && !p.resourceVersionMatch);
    // A revision the store has not reached: kube-apiserver's "Too large resource version" (clients wait and retry).
    const current = await this.storage.currentRevision();
    if (rv > current) throw tooLargeResourceVersion(rv, current);
    return exact ? rv : undefined;
  }

  async listAll(namespace: string): Promise<Obj[]> {
    return (await this.list(namespace)).items;
  }

  // ---- writes ----

  private generateName(prefix: string): string {
    let s = '';
    for (let i = 0; i < 5; i++) s += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
    return prefix.slice(0, 58) + s;
  }

  private checkNamespace(obj: Obj, namespace: string): void {
    if (this.info.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = namespace;
    } else delete obj.metadata.namespace;
  }

  private checkKind(obj: Obj): void {
    if (obj.kind !== undefined && obj.kind !== '' && obj.kind !== this.info.kind) {
      throw errors.badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${this.info.kind})`);
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== '' && obj.apiVersion !== this.apiVersion) {
      throw errors.badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${this.apiVersion})`);
    }
    obj.apiVersion = this.apiVersion;
    obj.kind = this.info.kind;
  }

  /** Defaults, strategy, validation: everything but the write. */
  private prepareCreate(input: Obj, namespace: string, opts: WriteOptions, copy: boolean): Obj {
    const obj = copy ? structuredClone(input) : input;
    this.schema.dropNulls(obj);
    this.checkKind(obj);
    this.checkNamespace(obj, namespace);
    const m = obj.metadata;
    if (m.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    if (!m.name && m.generateName) m.name = this.generateName(m.generateName);
    m.uid = newUid();
    m.creationTimestamp = this.now();
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    this.schema.applyDefaults(obj);
    this.strategy.prepareForCreate(obj, opts.scope?.user);
    if (this.strategy.tracksGeneration) m.generation = 1;
    else delete m.generation;
    const causes = [...this.schema.validate(obj, 'create', undefined, undefined, true), ...this.strategy.validate(obj)];
    if (causes.length) throw this.invalid(obj, causes);
    if (opts.fieldManager && !opts.managedFieldsSet) this.deps.trackFields?.(undefined, obj, this.managerRef(opts.fieldManager), this.strategy.listTypes);
    return obj;
  }

  async create(namespace: string, input: Obj, opts: WriteOptions = {}): Promise<Obj> {
    const generated = !input.metadata.name && !!input.metadata.generateName;
    // A generated name may need another try, from the object as it came: a copy, or the caller's own again().
    const copy = !opts.owned || (generated && !opts.again);
    for (let attempt = 0; ; attempt++) {
      let obj: Obj;
      if (attempt > 0 && !copy && opts.again) input = opts.again();
      try {
        obj = this.prepareCreate(input, namespace, opts, copy);
        if (await this.admit({ operation: 'create', subresource: '', namespace, name: obj.metadata.name ?? '', obj, scope: opts.scope ?? SERVER_SCOPE, dryRun: !!opts.dryRun })) this.revalidate(obj, 'create');
        if (this.strategy.allocate) await this.strategy.allocate(obj, undefined, { listAll: () => this.listAll('') });
      } catch (err) {
        throw this.explain(err, input, 'create');
      }
      if (opts.dryRun) return obj;
      try {
        const key = this.key(namespace, obj.metadata.name ?? '');
        const kv = this.wrote(await this.storage.create(key, this.codec.encodeWritten(obj, key)));
        // The object as encoded is what was stored: no need to parse the bytes back.
        obj.metadata.resourceVersion = String(kv.modRevision);
        return obj;
      } catch (err) {
        // A generated name that collided gets another try, as kube-apiserver's RetryGenerateName does.
        if (generated && isStorageError(err, 'KeyExists') && attempt < 7) continue;
        throw this.mapError(err, obj.metadata.name);
      }
    }
  }

  /** Drops the nulls of some top-level fields of obj (and those fields when null). */
  private dropNullsOf(obj: Obj, fields: readonly string[]): void {
    const part: Record<string, unknown> = {};
    for (const k of fields) if (k in obj) part[k] = obj[k];
    this.schema.dropNulls(part as Obj);
    for (const k of fields) {
      if (k in part) obj[k] = part[k];
      else delete obj[k];
    }
  }

  /** Applies the update rules to `next` given the stored `old`. */
  private prepareUpdate(next: Obj, old: Obj, opts: UpdateOptions): Obj {
    // Status and binding writes keep little of `next` and change only its metadata (copied here); every other
    // update changes it throughout, and a retry gives the same `next` again: a copy.
    const shallow = opts.subresource === 'status' || opts.subresource === 'binding';
    const obj = shallow ? { ...next, metadata: { ...next.metadata } } : structuredClone(next);
    // A binding is server code's change to the stored object, which holds no nulls; a status write reads only some of
    // the object it is given.
    if (opts.subresource === 'status') this.dropNullsOf(obj, STATUS_READS);
    else if (opts.subresource !== 'binding') this.schema.dropNulls(obj);
    this.checkKind(obj);
    const name = old.metadata.name ?? '';
    if (obj.metadata.name !== undefined && obj.metadata.name !== '' && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    this.checkNamespace(obj, old.metadata.namespace ?? '');
    const rv = obj.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw errors.conflict(this.ref(name), CONFLICT_MSG);
    if (obj.metadata.uid !== undefined && obj.metadata.uid !== '' && obj.metadata.uid !== old.metadata.uid) {
      throw errors.conflict(this.ref(name), `Precondition failed: UID in precondition: ${obj.metadata.uid}, UID in object meta: ${old.metadata.uid ?? ''}`);
    }
    let result: Obj;
    if (opts.subresource === 'status') {
      // A status write changes only .status; everything else stays as stored (shared with `old`, never changed).
      result = { ...old, metadata: { ...old.metadata }, status: obj.status };
      if (obj.status === undefined) delete result.status;
      this.strategy.prepareForStatusUpdate?.(result, old);
      const causes = this.schema.validate(result, 'update', old, 'status', true);
      if (causes.length) throw this.invalid(result, causes);
    } else if (opts.subresource === 'finalize') {
      const spec = typeof old.spec === 'object' && old.spec !== null ? old.spec : {};
      const fin = typeof obj.spec === 'object' && obj.spec !== null ? (obj.spec as { finalizers?: unknown }).finalizers : undefined;
      result = { ...structuredClone(old), spec: { ...spec, finalizers: Array.isArray(fin) ? fin : [] } };
    } else if (opts.subresource === 'binding') {
      result = obj;
    } else {
      result = obj;
      const m = result.metadata;
      const o = old.metadata;
      m.name = name;
      m.uid = o.uid;
      m.creationTimestamp = o.creationTimestamp;
      for (const k of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const) {
        if (o[k] === undefined) delete m[k];
        else (m as Record<string, unknown>)[k] = o[k];
      }
      if (m.managedFields === undefined && o.managedFields !== undefined) m.managedFields = o.managedFields;
      delete m.selfLink;
      this.schema.applyDefaults(result);
      this.strategy.prepareForUpdate(result, old);
      const causes = [...this.schema.validate(result, 'update', old, undefined, true), ...this.strategy.validateUpdate(result, old)];
      if (causes.length) throw this.invalid(result, causes);
    }
    result.metadata.resourceVersion = old.metadata.resourceVersion;
    if (this.strategy.tracksGeneration && !opts.subresource && !deepEqual(specOf(result), specOf(old))) {
      result.metadata.generation = (old.metadata.generation ?? 0) + 1;
    }
    if (deepEqual(withoutManaged(result), withoutManaged(old))) throw new Unchanged(old);
    if (opts.fieldManager && !opts.managedFieldsSet) this.deps.trackFields?.(old, result, this.managerRef(opts.fieldManager, opts.subresource), this.strategy.listTypes);
    return result;
  }

  /**
   * Read-modify-write: transform(current) gives the desired object (current is undefined when absent and creation
   * is allowed). Retries on write races; a resourceVersion in the desired object is a precondition (409).
   */
  async update(
    namespace: string,
    name: string,
    transform: (current: Obj | undefined) => Obj | Promise<Obj>,
    opts: UpdateOptions = {},
  ): Promise<{ obj: Obj; created: boolean }> {
    const key = this.key(namespace, name);
    for (let attempt = 0; attempt < 100; attempt++) {
      // The first attempt starts from the watch cache's state when it has this server's writes (kube's cached
      // GuaranteedUpdate); the write's expected revision catches a stale one, and any doubt reads storage again.
      const atLeast = opts.seenAt !== undefined && opts.seenAt < this.lastWrite ? opts.seenAt : this.lastWrite;
      const cached = attempt === 0 && !opts.dryRun ? this.cacher().current(key, atLeast) : undefined;
      const kv =
        cached?.kv ??
        (await this.storage.get(key).catch((e: unknown) => {
          throw this.mapError(e, name);
        }));
      if (!kv) {
        if (!(opts.allowCreate ?? this.strategy.allowCreateOnUpdate) || opts.subresource) throw errors.notFound(this.ref(name));
        const desired = await transform(undefined);
        if (desired.metadata.resourceVersion) throw errors.notFound(this.ref(name));
        if (desired.metadata.name && desired.metadata.name !== name) {
          throw errors.badRequest(`the name of the object (${desired.metadata.name}) does not match the name on the URL (${name})`);
        }
        desired.metadata.name = name;
        try {
          return { obj: await this.create(namespace, desired, opts), created: true };
        } catch (err) {
          if (err instanceof ApiError && err.reason === 'AlreadyExists') continue;
          throw err;
        }
      }
      const old = cached?.obj ?? this.codec.decode(kv);
      let obj: Obj;
      let next: Obj | undefined;
      try {
        next = await transform(opts.currentReadOnly ? old : structuredClone(old));
        obj = this.prepareUpdate(next, old, opts);
        const sub = opts.subresource && opts.subresource !== 'binding' ? opts.subresource : undefined;
        const admitted = await this.admit({ operation: 'update', subresource: opts.admissionSubresource ?? opts.subresource ?? '', namespace, name, obj, old, scope: opts.scope ?? SERVER_SCOPE, dryRun: !!opts.dryRun });
        if (admitted) this.revalidate(obj, 'update', old, sub);
        if (this.strategy.allocate && !opts.subresource) await this.strategy.allocate(obj, old, { listAll: () => this.listAll('') });
      } catch (err) {
        // A conflict or no change against the cache's state is confirmed against storage's.
        if (cached && (err instanceof Unchanged || (err instanceof ApiError && err.code === 409))) continue;
        if (!(err instanceof Unchanged)) throw next ? this.explain(err, next, 'update', old, opts.subresource) : err;
        // Unchanged, but stored under an older encryption key: written again under the current one (kube's stale data).
        if (!this.codec.stale(kv)) return { obj: err.obj, created: false };
        obj = err.obj;
      }
      if (opts.dryRun) return { obj, created: false };
      try {
        if (this.shouldDeleteDuringUpdate(obj)) {
          const gone = this.wrote(await this.storage.delete(key, { expectedRevision: kv.modRevision }));
          return { obj: { ...obj, metadata: { ...obj.metadata, resourceVersion: String(gone.modRevision) } }, created: false };
        }
        const written = this.wrote(await this.storage.update(key, this.codec.encodeWritten(obj, key), kv.modRevision));
        obj.metadata.resourceVersion = String(written.modRevision);
        return { obj, created: false };
      } catch (err) {
        if (isStorageError(err, 'Conflict')) continue;
        throw this.mapError(err, name);
      }
    }
    throw errors.conflict(this.ref(name), CONFLICT_MSG);
  }

  /** An update that leaves a deleting object without finalizers (and no grace left) removes it. */
  private shouldDeleteDuringUpdate(obj: Obj): boolean {
    return !!obj.metadata.deletionTimestamp && !this.strategy.hasFinalizers(obj) && (obj.metadata.deletionGracePeriodSeconds ?? 0) === 0;
  }

  /**
   * Deletes now, or starts a graceful deletion (finalizers, pod grace period) by setting deletionTimestamp.
   * Returns the last state and whether the object is gone.
   */
  async delete(namespace: string, name: string, p: DeleteParams = {}): Promise<{ obj: Obj; deleted: boolean }> {
    const key = this.key(namespace, name);
    for (let attempt = 0; attempt < 100; attempt++) {
      const kv = await this.storage.get(key).catch((e: unknown) => {
        throw this.mapError(e, name);
      });
      if (!kv) throw errors.notFound(this.ref(name));
      const obj = this.codec.decode(kv);
      const pre = p.preconditions ?? {};
      if (pre.uid && pre.uid !== obj.metadata.uid) {
        throw errors.conflict(this.ref(name), `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid ?? ''}`);
      }
      if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
        throw errors.conflict(
          this.ref(name),
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion ?? ''}`,
        );
      }
      await this.admit({ operation: 'delete', subresource: '', namespace, name, old: obj, scope: p.scope ?? SERVER_SCOPE, dryRun: !!p.dryRun });
      const next = structuredClone(obj);
      const m = next.metadata;
      const finalizers = new Set(m.finalizers ?? []);
      if (p.propagationPolicy === 'Orphan') finalizers.add('orphan');
      if (p.propagationPolicy === 'Foreground') finalizers.add('foregroundDeletion');
      if (p.propagationPolicy === 'Background' || p.propagationPolicy === 'Foreground') finalizers.delete('orphan');
      if (finalizers.size) m.finalizers = [...finalizers];
      const grace = this.strategy.gracePeriod(obj, p);
      const nowMs = this.deps.clock.now().getTime();
      if (m.deletionTimestamp) {
        // Already deleting: a shorter grace period may bring the deadline forward.
        const left = m.deletionGracePeriodSeconds ?? 0;
        if (grace < left) {
          m.deletionGracePeriodSeconds = grace;
          m.deletionTimestamp = rfc3339(new Date(nowMs + grace * 1000));
        }
      } else if (grace > 0 || this.strategy.hasFinalizers(next)) {
        m.deletionTimestamp = rfc3339(new Date(nowMs + grace * 1000));
        m.deletionGracePeriodSeconds = grace;
        if (this.strategy.tracksGeneration) m.generation = (m.generation ?? 0) + 1;
        this.strategy.prepareForDelete(next);
      }
      if (p.dryRun) return { obj: next, deleted: !next.metadata.deletionTimestamp };
      try {
        if (!m.deletionTimestamp || this.shouldDeleteDuringUpdate(next)) {
          const gone = this.wrote(await this.storage.delete(key, { expectedRevision: kv.modRevision }));
          return { obj: this.codec.decode(gone), deleted: true };
        }
        if (deepEqual(next, obj)) return { obj, deleted: false };
        return { obj: this.codec.decode(this.wrote(await this.storage.update(key, this.codec.encode(next, key), kv.modRevision))), deleted: false };
      } catch (err) {
        if (isStorageError(err, 'Conflict')) continue;
        if (isStorageError(err, 'NotFound')) throw errors.notFound(this.ref(name));
        throw this.mapError(err, name);
      }
    }
    throw errors.conflict(this.ref(name), CONFLICT_MSG);
  }

  async deleteCollection(namespace: string, list: ListParams, p: DeleteParams): Promise<Obj[]> {
    const { items } = await this.list(namespace, { ...(list.labelSelector ? { labelSelector: list.labelSelector } : {}), ...(list.fieldSelector ? { fieldSelector: list.fieldSelector } : {}) });
    const out: Obj[] = [];
    for (const o of items) {
      try {
        out.push((await this.delete(o.metadata.namespace ?? '', o.metadata.name ?? '', p)).obj);
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
      }
    }
    return out;
  }

  // ---- watch ----

  /** The resource type's cacher: one storage watch shared by every watcher, and the current objects (started on first use). */
  private cacher(): Cacher<Obj> {
    return (this.cache ??= new Cacher<Obj>({
      storage: this.storage,
      prefix: this.prefix(''),
      decode: (kv, revision) => this.codec.decode(kv, revision),
      // Kept with the change in the watch cache, inside the change's watch line (of its exact size).
      json: (kv, revision, type) => jsonInLine(type, this.codec.jsonParts(kv, revision)),
      ...this.deps.cacher,
    }));
  }

  /** How the cacher is doing (tests and benchmarks count storage watches with it); undefined before its first use. */
  cacheStats(): CacherStats | undefined {
    return this.cache?.stats();
  }

  /** Stops the shared storage watch and ends every watcher; reads go to storage from now on. */
  close(): void {
    this.cacher().close();
  }

  /**
   * Events for matching objects. resourceVersion unset or "0": synthetic ADDED for the current state first;
   * N: every change after N, from the watch cache; older than the cache or compacted gives one ERROR 410 Expired event.
   */
  watch(namespace: string, p: WatchParams): ObjectWatch {
    const match = this.matcher(p.labelSelector, p.fieldSelector);
    // With no selector every change of the key range goes out as its stored bytes, never decoded here.
    const selecting = !!(p.labelSelector || p.fieldSelector);
    let fromRv: number | undefined;
    if (p.resourceVersion && p.resourceVersion !== '0') {
      fromRv = Number(p.resourceVersion);
      if (!Number.isInteger(fromRv) || fromRv < 0) throw errors.badRequest(`invalid resource version "${p.resourceVersion}"`);
    }
    const initial = fromRv === undefined || p.sendInitialEvents === true;
    let closed = false;
    let cw: CacheWatch<WatchOut> | undefined;
    const self = this;
    const bookmark = (rev: number, annotations?: Record<string, string>): WatchOut => ({
      type: 'BOOKMARK',
      object: { kind: self.info.kind, apiVersion: self.apiVersion, metadata: { resourceVersion: String(rev), ...(annotations ? { annotations } : {}) } },
    });
    async function* run(): AsyncGenerator<WatchOut> {
      let from = fromRv ?? 0;
      try {
        if (initial) {
          const listed = await self.list(namespace, {
            ...(p.labelSelector ? { labelSelector: p.labelSelector } : {}),
            ...(p.fieldSelector ? { fieldSelector: p.fieldSelector } : {}),
          });
          from = Number(listed.resourceVersion);
          for (const o of listed.items) if (p.name === undefined || o.metadata.name === p.name) yield { type: 'ADDED', object: o };
          if (p.sendInitialEvents && p.allowWatchBookmarks) yield bookmark(from, { 'k8s.io/initial-events-end': 'true' });
        }
        if (closed) return;
        cw = self.cacher().watch<WatchOut>({
          fromRevision: from,
          key: p.name !== undefined ? self.key(namespace, p.name) : self.prefix(namespace),
          exact: p.name !== undefined,
          translate: (ev) => (selecting ? self.translate(ev, match) : unfiltered(ev)),
          ...(p.allowWatchBookmarks ? { bookmark: (rev: number) => bookmark(rev) } : {}),
        });
        if (closed) cw.close();
        yield* cw;
      } catch (err) {
        if (isStorageError(err, 'Compacted')) {
          yield { type: 'ERROR', object: errors.gone(`too old resource version: ${from} (${err.revision ?? from})`).status };
          return;
        }
        const mapped = self.mapError(err);
        yield { type: 'ERROR', object: (mapped instanceof ApiError ? mapped : errors.internal(String(err))).status };
      }
    }
    const gen = run();
    return {
      [Symbol.asyncIterator]: () => gen,
      close() {
        closed = true;
        cw?.close();
      },
    };
  }

  /** A change as a selecting watcher sees it: filtered, with objects entering or leaving the selection. */
  private translate(ev: CachedEvent<Obj>, match: (o: Obj) => boolean): WatchOut | undefined {
    const cur = ev.obj;
    const json = (): Buffer => ev.json();
    if (ev.type !== 'MODIFIED') return match(cur) ? { type: ev.type, object: cur, json } : undefined;
    const now = match(cur);
    const prev = ev.prev();
    const before = prev ? match(prev) : now;
    if (now && before) return { type: 'MODIFIED', object: cur, json };
    if (now) return { type: 'ADDED', object: cur, json };
    if (before) return { type: 'DELETED', object: cur, json };
    return undefined;
  }
}

/** A change as a watcher without selectors sees it: the object decoded only if the watcher reads it. */
function unfiltered(ev: CachedEvent<Obj>): WatchOut {
  return {
    type: ev.type,
    get object() {
      return ev.obj;
    },
    json: () => ev.json(),
  };
}

function specOf(o: Obj): unknown {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

function withoutManaged(o: Obj): unknown {
  const { managedFields: _mf, resourceVersion: _rv, ...metadata } = o.metadata;
  return { ...o, metadata };
}
