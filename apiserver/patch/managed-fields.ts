// Field ownership (metadata.managedFields, FieldsV1) and server-side apply: who set which field, and apply's merge and conflicts.
import { errors, ApiError, type StatusCause } from '../../api/errors.js';
import { deepEqual, isObject, type JsonObject, type ManagedFields, type ManagerRef, type Obj } from '../registry/object.js';
import { defaultListTypes, type ListTypeResolver } from './list-types.js';
import { strategicMergePatch } from './merge.js';

/** A field path in FieldsV1 element syntax: ['f:spec', 'f:containers', 'k:{"name":"app"}', 'f:image']. '.' marks a list item itself. */
type FieldPath = string[];
/** Separates the elements of a field path in its string form; exported, with the helpers below, for the equivalence test. */
export const SEP = '\u0000';
const join = (p: FieldPath): string => p.join(SEP);
const split = (s: string): FieldPath => s.split(SEP);

/** Fields no manager owns: identity and bookkeeping set by the server. */
export const IGNORED_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink', 'generateName']);

export function sortedKeyJson(item: JsonObject, keys: string[]): string {
  const o: JsonObject = {};
  for (const k of keys.length > 1 ? [...keys].sort() : keys) if (item[k] !== undefined) o[k] = item[k];
  return 'k:' + JSON.stringify(o);
}

/**
 * Sorts a list of keys in place. Objects have a handful of keys, and at that size an insertion sort costs far less
 * than Array.prototype.sort, which allocates its work space on every call.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] ?? '';
    let j = i - 1;
    for (; j >= 0 && (keys[j] ?? '') > k; j--) keys[j + 1] = keys[j] ?? '';
    keys[j + 1] = k;
  }
  return keys;
}

/** The leaf fields of obj as a set of paths; `subresource` limits the set to what that endpoint owns. */
export function fieldSet(obj: Obj, resolve: ListTypeResolver = defaultListTypes, scope: 'main' | 'status' = 'main'): Set<string> {
  return new Set(fieldValues(obj, resolve, scope).keys());
}

/** Stands for a value only valueAt can give: the path may not lead back to the item or field it came from. */
const LAZY: unique symbol = Symbol('lazy');
/** The value of every set item path ('v:'): valueAt gives the item itself on both sides, so it never differs. */
const SET_ITEM: unique symbol = Symbol('set item');

/** A list whose items' keys are all plain scalars: its items with equal elements are the items valueAt finds by key. */
const plainKeys = (items: JsonObject[], keys: string[]): boolean =>
  items.every((item) => keys.every((k) => typeof item[k] === 'string' || typeof item[k] === 'boolean' || (typeof item[k] === 'number' && Number.isFinite(item[k]))));

/**
 * The leaf fields of v, at field path fp (joined with SEP; path: its field names, for list types), into out, each with
 * its value as valueAt gives it (LAZY where the walk cannot tell; lazy: an enclosing place already cannot).
 */
function walkValues(out: Map<string, unknown>, v: unknown, path: string[], fp: string, lazy: boolean, resolve: ListTypeResolver): void {
  const add = (p: string, value: unknown): void => {
    if (!out.has(p)) out.set(p, value);
  };
  if (isObject(v)) {
    let any = false;
    for (const k in v) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      const x = v[k];
      if (x === undefined || x === null) continue;
      any = true;
      path.push(k);
      walkValues(out, x, path, fp + SEP + 'f:' + k, lazy || k.includes(SEP), resolve);
      path.pop();
    }
    if (!any && fp !== '') add(fp, lazy ? LAZY : v);
    return;
  }
  if (Array.isArray(v)) {
    const lt = resolve(path);
    if (lt.type === 'map' && v.every((x) => isObject(x))) {
      const items = v as JsonObject[];
      const plain = !lazy && plainKeys(items, lt.keys);
      const seen = new Set<string>();
      for (const item of items) {
        const el = fp + SEP + sortedKeyJson(item, lt.keys);
        // With plain keys, valueAt finds the first item with this element; a later one's fields are looked up there.
        const itemLazy = !plain || seen.has(el);
        seen.add(el);
        add(el + SEP + '.', undefined);
        for (const k of Object.keys(item)) {
          const x = item[k];
          if (x === undefined || x === null) continue;
          path.push(k);
          walkValues(out, x, path, el + SEP + 'f:' + k, itemLazy || k.includes(SEP), resolve);
          path.pop();
        }
      }
      return;
    }
    if (lt.type === 'set') {
      for (const x of v) add(fp + SEP + 'v:' + JSON.stringify(x), SET_ITEM);
      return;
    }
  }
  add(fp, lazy ? LAZY : v);
}

/**
 * The leaf fields of obj, in fieldSet's order, each with its value as valueAt(obj, path) gives it (LAZY where the walk
 * cannot tell: under later items with a key equal to an earlier one's, or lists keyed by other than scalars, or field
 * names holding SEP), so that comparing two objects field by field needs no path lookups.
 */
function fieldValues(obj: Obj, resolve: ListTypeResolver, scope: 'main' | 'status'): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [fp, { v, path }] of walkRoots(obj, scope)) walkValues(out, v, path, fp, rootLazy(path), resolve);
  return out;
}

/** Where fieldValues starts its walks, by field path: each top field of obj in scope, and metadata's fields one by one. */
function walkRoots(obj: Obj, scope: 'main' | 'status'): Map<string, { v: unknown; path: string[] }> {
  const roots = new Map<string, { v: unknown; path: string[] }>();
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined || v === null) continue;
    if (scope === 'main' && k === 'status') continue;
    if (scope === 'status' && k !== 'status') continue;
    if (k === 'metadata' && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (!IGNORED_META.has(mk) && mv !== undefined && mv !== null) roots.set('f:metadata' + SEP + 'f:' + mk, { v: mv, path: ['metadata', mk] });
      }
      continue;
    }
    roots.set('f:' + k, { v, path: [k] });
  }
  return roots;
}

const isSet = (x: unknown): boolean => x !== undefined && x !== null;

function hasSetField(o: JsonObject): boolean {
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k) && isSet(o[k])) return true;
  return false;
}

/**
 * The fields an update changed (new, or set to another value) and removed: what comparing fieldValues(old) with
 * fieldValues(obj) gives, without walking what the two share. A patch or a status write builds the new object from the
 * stored one and shares what it leaves alone (a pod's spec under a status write), so an unchanged subtree is most
 * often the very same object on both sides: the same fields with the same values. Objects are compared key by key;
 * a list, a leaf, or any place under a key holding SEP (whose values valueAt looks up from the root) is compared whole.
 */
function diffFields(old: Obj, obj: Obj, resolve: ListTypeResolver, scope: 'main' | 'status'): { changed: string[]; removed: string[] } {
  const changed: string[] = [];
  const removed: string[] = [];
  const whole = (a: unknown, b: unknown, path: string[], fp: string, lazy: boolean): void => {
    const before = new Map<string, unknown>();
    const after = new Map<string, unknown>();
    if (a !== undefined) walkValues(before, a, path, fp, lazy, resolve);
    if (b !== undefined) walkValues(after, b, path, fp, lazy, resolve);
    for (const [p, v] of after) {
      if (!before.has(p)) changed.push(p);
      else {
        const was = before.get(p);
        if (v === LAZY || was === LAZY ? !deepEqual(valueAt(old, split(p)).value, valueAt(obj, split(p)).value) : !deepEqual(was, v)) changed.push(p);
      }
    }
    for (const p of before.keys()) if (!after.has(p)) removed.push(p);
  };
  const diff = (a: unknown, b: unknown, path: string[], fp: string, lazy: boolean): void => {
    if (lazy) return whole(a, b, path, fp, lazy);
    if (a === b) return;
    if (!isObject(a) || !isObject(b) || !hasSetField(a) || !hasSetField(b)) return whole(a, b, path, fp, lazy);
    for (const k in b) {
      if (!Object.prototype.hasOwnProperty.call(b, k)) continue;
      const x = b[k];
      const y = Object.prototype.hasOwnProperty.call(a, k) ? a[k] : undefined;
      if (!isSet(x) && !isSet(y)) continue;
      path.push(k);
      diff(isSet(y) ? y : undefined, isSet(x) ? x : undefined, path, fp + SEP + 'f:' + k, k.includes(SEP));
      path.pop();
    }
    for (const k in a) {
      if (!Object.prototype.hasOwnProperty.call(a, k) || !isSet(a[k])) continue;
      if (Object.prototype.hasOwnProperty.call(b, k) && isSet(b[k])) continue;
      path.push(k);
      diff(a[k], undefined, path, fp + SEP + 'f:' + k, k.includes(SEP));
      path.pop();
    }
  };
  const before = walkRoots(old, scope);
  const after = walkRoots(obj, scope);
  for (const [fp, b] of after) {
    const a = before.get(fp);
    diff(a?.v, b.v, b.path, fp, rootLazy(b.path));
  }
  for (const [fp, a] of before) if (!after.has(fp)) diff(a.v, undefined, a.path, fp, rootLazy(a.path));
  return { changed, removed };
}

/** Whether a walk root's own key holds SEP (fieldValues' lazy at the start). */
const rootLazy = (path: string[]): boolean => (path[path.length - 1] ?? '').includes(SEP);

/**
 * The FieldsV1 of every field of obj, built in one walk: what toFieldsV1(fieldSet(obj)) gives (undefined for an empty
 * set), without the path strings. A create gives its manager the whole object, so this is its entry's fieldsV1.
 */
export function fieldsV1Of(obj: Obj, resolve: ListTypeResolver = defaultListTypes, scope: 'main' | 'status' = 'main'): JsonObject | undefined {
  const top: JsonObject = {};
  for (const k of sortKeys(Object.keys(obj))) {
    const v = obj[k];
    if (k === 'apiVersion' || k === 'kind' || v === undefined || v === null) continue;
    if (scope === 'main' && k === 'status') continue;
    if (scope === 'status' && k !== 'status') continue;
    let node: JsonObject | undefined;
    if (k === 'metadata' && isObject(v)) {
      const meta: JsonObject = {};
      for (const mk of sortKeys(Object.keys(v))) {
        const mv = v[mk];
        if (IGNORED_META.has(mk) || mv === undefined || mv === null) continue;
        const sub = fieldsTree(mv, ['metadata', mk], resolve);
        if (sub) meta['f:' + mk] = sub;
      }
      node = Object.keys(meta).length ? meta : undefined;
    } else node = fieldsTree(v, [k], resolve);
    if (node) top['f:' + k] = node;
  }
  return Object.keys(top).length ? top : undefined;
}

/**
 * A FieldsV1 leaf ({}), one for every tree this module builds: a pod's entry has dozens, and the object they are part
 * of is kept while its change is in the watch cache. Frozen: a tree is never changed once built (unions build anew).
 */
const LEAF: JsonObject = Object.freeze({}) as JsonObject;

/** fieldsV1Of below one value (path: its field names, as for resolve); undefined when it adds no path. Keys come sorted. */
function fieldsTree(v: unknown, path: string[], resolve: ListTypeResolver): JsonObject | undefined {
  if (isObject(v)) {
    const o: JsonObject = {};
    const any = addFields(o, v, path, resolve);
    // An object with no fields is a leaf; one whose fields add nothing (empty keyed lists) adds nothing itself.
    return Object.keys(o).length ? o : !any ? LEAF : undefined;
  }
  if (Array.isArray(v)) {
    const lt = resolve(path);
    if (lt.type === 'map' && v.every((x) => isObject(x))) {
      const items = new Map<string, JsonObject>();
      for (const item of v as JsonObject[]) {
        const node: JsonObject = { '.': LEAF };
        addFields(node, item, path, resolve);
        const el = sortedKeyJson(item, lt.keys);
        const seen = items.get(el);
        items.set(el, seen ? unionSorted(seen, node) : node);
      }
      return items.size ? sortedObject(items) : undefined;
    }
    if (lt.type === 'set') {
      const items = new Map<string, JsonObject>();
      for (const x of v) items.set('v:' + JSON.stringify(x), LEAF);
      return items.size ? sortedObject(items) : undefined;
    }
  }
  return LEAF;
}

/** Adds the trees of v's fields to node, in key order ('f:name'); false when v has no field that is set. */
function addFields(node: JsonObject, v: JsonObject, path: string[], resolve: ListTypeResolver): boolean {
  let any = false;
  for (const k of sortKeys(Object.keys(v))) {
    const x = v[k];
    if (x === undefined || x === null) continue;
    any = true;
    path.push(k);
    const sub = fieldsTree(x, path, resolve);
    path.pop();
    if (sub) node['f:' + k] = sub;
  }
  return any;
}

function sortedObject(m: Map<string, JsonObject>): JsonObject {
  const o: JsonObject = {};
  for (const k of sortKeys([...m.keys()])) o[k] = m.get(k);
  return o;
}

/** Two FieldsV1 trees as one (list items with equal keys). */
function unionSorted(a: JsonObject, b: JsonObject): JsonObject {
  if (a === LEAF && b === LEAF) return LEAF;
  const o: JsonObject = {};
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = a[k] as JsonObject | undefined;
    const y = b[k] as JsonObject | undefined;
    o[k] = x && y ? unionSorted(x, y) : (x ?? y);
  }
  return o;
}

/** FieldsV1 (nested {"f:spec": {"f:replicas": {}}}) to and from a path set. */
export function toFieldsV1(set: Set<string>): JsonObject {
  // A tree of Maps first, then objects with each level's keys sorted: the order a sort of the whole paths gives
  // (SEP sorts first), at the cost of sorting siblings only.
  const root: FieldTree = new Map();
  for (const s of set) {
    let node = root;
    // The path's elements, read between separators without splitting it into an array.
    for (let start = 0; ; ) {
      const end = s.indexOf(SEP, start);
      const el = end < 0 ? s.slice(start) : s.slice(start, end);
      let next = node.get(el);
      if (!next) node.set(el, (next = new Map()));
      node = next;
      if (end < 0) break;
      start = end + 1;
    }
  }
  return buildSorted(root);
}

type FieldTree = Map<string, FieldTree>;

function buildSorted(t: FieldTree): JsonObject {
  const o: JsonObject = {};
  for (const k of sortKeys([...t.keys()])) {
    const child = t.get(k);
    o[k] = child && child.size > 0 ? buildSorted(child) : LEAF;
  }
  return o;
}

export function fromFieldsV1(f: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, fp: FieldPath): void => {
    if (!isObject(node) || Object.keys(node).length === 0) {
      if (fp.length) out.add(join(fp));
      return;
    }
    for (const [k, v] of Object.entries(node)) walk(v, [...fp, k]);
  };
  walk(f, []);
  return out;
}

/** Navigates one FieldsV1 path; returns {found, value}. */
export function valueAt(obj: unknown, fp: FieldPath): { found: boolean; value?: unknown } {
  let cur: unknown = obj;
  for (const el of fp) {
    if (el === '.') return { found: cur !== undefined };
    if (el.startsWith('f:')) {
      if (!isObject(cur) || !(el.slice(2) in cur)) return { found: false };
      cur = cur[el.slice(2)];
    } else if (el.startsWith('k:')) {
      const key = JSON.parse(el.slice(2)) as JsonObject;
      if (!Array.isArray(cur)) return { found: false };
      cur = cur.find((x) => isObject(x) && Object.entries(key).every(([k, v]) => deepEqual(x[k], v)));
      if (cur === undefined) return { found: false };
    } else if (el.startsWith('v:')) {
      const want = JSON.parse(el.slice(2)) as unknown;
      return { found: Array.isArray(cur) && cur.some((x) => deepEqual(x, want)), value: want };
    } else return { found: false };
  }
  return { found: true, value: cur };
}

/** Removes the field at fp from obj (in place). */
function removeAt(obj: unknown, fp: FieldPath): void {
  let cur: unknown = obj;
  for (let i = 0; i < fp.length; i++) {
    const el = fp[i] ?? '';
    const last = i === fp.length - 1;
    const nextIsDot = fp[i + 1] === '.';
    if (el.startsWith('f:')) {
      if (!isObject(cur)) return;
      if (last) {
        delete cur[el.slice(2)];
        return;
      }
      cur = cur[el.slice(2)];
    } else if (el.startsWith('k:')) {
      if (!Array.isArray(cur)) return;
      const key = JSON.parse(el.slice(2)) as JsonObject;
      const idx = cur.findIndex((x) => isObject(x) && Object.entries(key).every(([k, v]) => deepEqual(x[k], v)));
      if (idx < 0) return;
      if (nextIsDot || last) {
        cur.splice(idx, 1);
        return;
      }
      cur = cur[idx];
    } else if (el.startsWith('v:')) {
      if (!Array.isArray(cur)) return;
      const want = JSON.parse(el.slice(2)) as unknown;
      const idx = cur.findIndex((x) => deepEqual(x, want));
      if (idx >= 0) cur.splice(idx, 1);
      return;
    } else return;
  }
}

/** `.spec.template.spec.containers[name="app"].image`, as kube-apiserver prints conflicting fields. */
export function formatPath(s: string): string {
  return split(s)
    .filter((el) => el !== '.')
    .map((el) => {
      if (el.startsWith('f:')) return '.' + el.slice(2);
      if (el.startsWith('k:')) {
        const key = JSON.parse(el.slice(2)) as JsonObject;
        return '[' + Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',') + ']';
      }
      if (el.startsWith('v:')) return `[=${el.slice(2)}]`;
      return el;
    })
    .join('');
}

interface Entry {
  meta: ManagedFields;
  set: Set<string>;
  /** The stored entry this one was read from. */
  from?: ManagedFields;
  /** Neither meta nor set changed since it was read: the stored entry serves as it is. */
  unchanged?: boolean;
}

const entriesOf = (obj: Obj | undefined): Entry[] =>
  (obj?.metadata.managedFields ?? []).map((m) => ({ meta: { ...m }, set: fromFieldsV1(m.fieldsV1), from: m }));

function writeEntries(obj: Obj, entries: Entry[]): void {
  const kept = entries.filter((e) => e.set.size > 0);
  if (kept.length === 0) delete obj.metadata.managedFields;
  else {
    obj.metadata.managedFields = kept.map((e) =>
      e.unchanged && e.from?.fieldsType === 'FieldsV1' ? e.from : { ...e.meta, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(e.set) },
    );
  }
}

const sameEntry = (m: ManagedFields, ref: ManagerRef, op: 'Apply' | 'Update'): boolean =>
  m.manager === ref.manager && m.operation === op && (m.subresource ?? '') === (ref.subresource ?? '');

/**
 * Records an Update-operation write: fields the manager changed become its own and leave other managers;
 * removed fields leave everyone. obj (the new object) receives the resulting managedFields.
 */
export function trackUpdate(old: Obj | undefined, obj: Obj, ref: ManagerRef, resolve: ListTypeResolver = defaultListTypes): void {
  const scope = ref.subresource === 'status' ? 'status' : 'main';
  if (!old) {
    // Every field is new and the manager's alone: its entry comes straight from the object.
    const fieldsV1 = fieldsV1Of(obj, resolve, scope);
    if (!fieldsV1) delete obj.metadata.managedFields;
    else {
      const sub = ref.subresource ? { subresource: ref.subresource } : {};
      obj.metadata.managedFields = [{ manager: ref.manager, operation: 'Update', apiVersion: ref.apiVersion, ...sub, time: ref.time, fieldsType: 'FieldsV1', fieldsV1 }];
    }
    return;
  }
  const { changed, removed } = diffFields(old, obj, resolve, scope);
  if (changed.length === 0 && removed.length === 0) {
    if (old.metadata.managedFields) obj.metadata.managedFields = old.metadata.managedFields;
    else delete obj.metadata.managedFields;
    return;
  }
  const stored = old.metadata.managedFields ?? [];
  const mineAt = stored.findIndex((m) => sameEntry(m, ref, 'Update'));
  const out: ManagedFields[] = [];
  for (let i = 0; i < stored.length; i++) {
    const m = stored[i] as ManagedFields;
    if (i === mineAt) {
      // The fields it already owns, written again (an agent's status updates): its stored tree is what a rebuild gives.
      const same = isCanonical(m.fieldsV1) && !removed.some((p) => hasPath(m.fieldsV1, p, 0)) && changed.every((p) => hasPath(m.fieldsV1, p, 0));
      const entry = same ? withTime({ ...m }, ref, m.fieldsV1 as JsonObject) : updatedEntry({ ...m }, fromFieldsV1(m.fieldsV1), removed, changed, ref);
      if (entry) out.push(entry);
      continue;
    }
    // Other managers' entries are left alone by most writes (an agent's status update): no path sets, no re-encoding.
    if (!removed.some((p) => hasPath(m.fieldsV1, p, 0)) && !changed.some((p) => hasPath(m.fieldsV1, p, 0))) {
      if (!isObject(m.fieldsV1) || Object.keys(m.fieldsV1).length === 0) continue;
      out.push(m.fieldsType === 'FieldsV1' ? m : { ...m, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(fromFieldsV1(m.fieldsV1)) });
      continue;
    }
    const set = fromFieldsV1(m.fieldsV1);
    for (const p of removed) set.delete(p);
    for (const p of changed) set.delete(p);
    if (set.size > 0) out.push({ ...m, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(set) });
  }
  if (mineAt < 0) {
    const meta: ManagedFields = { manager: ref.manager, operation: 'Update', apiVersion: ref.apiVersion, ...(ref.subresource ? { subresource: ref.subresource } : {}) };
    const entry = updatedEntry(meta, new Set(), removed, changed, ref);
    if (entry) out.push(entry);
  }
  if (out.length === 0) delete obj.metadata.managedFields;
  else obj.metadata.managedFields = out;
}

/** The updating manager's entry: its fields without the removed ones, plus the changed ones; undefined when none is left. */
function updatedEntry(meta: ManagedFields, set: Set<string>, removed: string[], changed: string[], ref: ManagerRef): ManagedFields | undefined {
  for (const p of removed) set.delete(p);
  for (const p of changed) set.add(p);
  return set.size === 0 ? undefined : withTime(meta, ref, toFieldsV1(set));
}

function withTime(meta: ManagedFields, ref: ManagerRef, fieldsV1: JsonObject): ManagedFields {
  meta.time = ref.time;
  meta.apiVersion = ref.apiVersion;
  return { ...meta, fieldsType: 'FieldsV1', fieldsV1 };
}

/** A non-empty FieldsV1 tree as toFieldsV1(fromFieldsV1(tree)) gives it back: keys sorted, without SEP, every leaf {}. */
function isCanonical(tree: unknown): boolean {
  const canonical = (node: JsonObject): boolean => {
    const keys = Object.keys(node);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] ?? '';
      const v = node[k];
      if ((i > 0 && (keys[i - 1] ?? '') >= k) || k.includes(SEP) || !isObject(v) || !canonical(v)) return false;
    }
    return true;
  };
  return isObject(tree) && Object.keys(tree).length > 0 && canonical(tree);
}

/**
 * Whether path p (from offset off) is in fromFieldsV1(node), without building that set: some chain of keys joined
 * with SEP spells it and ends at a leaf. Every key of each node on the way is tried, as a key may itself hold SEP.
 */
function hasPath(node: unknown, p: string, off: number): boolean {
  if (!isObject(node)) return false;
  // for...in, no key arrays: each write checks each path it changed against every other manager's tree.
  for (const k in node) {
    if (!Object.prototype.hasOwnProperty.call(node, k) || !p.startsWith(k, off)) continue;
    const end = off + k.length;
    const v = node[k];
    const leaf = !isObject(v) || !hasOwnField(v);
    if (end === p.length ? leaf : !leaf && p.charCodeAt(end) === 0 && hasPath(v, p, end + 1)) return true;
  }
  return false;
}

function hasOwnField(o: JsonObject): boolean {
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) return true;
  return false;
}

/**
 * Server-side apply of `config` by a manager onto `live` (undefined: create). Returns the merged object carrying
 * its managedFields, or throws a 409 listing the conflicting fields unless force is set.
 */
export function applyConfig(live: Obj | undefined, config: Obj, ref: ManagerRef, force: boolean, resolve: ListTypeResolver = defaultListTypes): Obj {
  const scope = ref.subresource === 'status' ? 'status' : 'main';
  const cfg = structuredClone(config);
  delete cfg.metadata.managedFields;
  const applied = fieldSet(cfg, resolve, scope);
  const entries = entriesOf(live);
  const conflicts = new Map<string, { manager: string; apiVersion: string; paths: string[] }>();
  for (const e of entries) {
    if (sameEntry(e.meta, ref, 'Apply')) continue;
    for (const p of e.set) {
      if (!applied.has(p) || p.endsWith(SEP + '.')) continue;
      const fp = split(p);
      if (deepEqual(valueAt(live, fp).value, valueAt(cfg, fp).value)) continue;
      const who = e.meta.manager ?? '';
      const c = conflicts.get(who) ?? { manager: who, apiVersion: e.meta.apiVersion ?? '', paths: [] };
      c.paths.push(p);
      conflicts.set(who, c);
    }
  }
  if (conflicts.size > 0 && !force) throw conflictError([...conflicts.values()]);
  // Forcing takes only the conflicting fields; fields applied with equal values stay shared.
  if (force) for (const e of entries) for (const c of conflicts.values()) if (e.meta.manager === c.manager && !sameEntry(e.meta, ref, 'Apply')) for (const p of c.paths) e.set.delete(p);

  let merged: Obj;
  if (!live) merged = cfg;
  else {
    const base = structuredClone(live);
    const mine = entries.find((e) => sameEntry(e.meta, ref, 'Apply'));
    if (mine) {
      // Fields this manager applied before but not now are removed, unless another manager also owns them.
      const ownedByOthers = new Set(entries.filter((e) => e !== mine).flatMap((e) => [...e.set]));
      const dropped = [...mine.set].filter((p) => !applied.has(p) && !ownedByOthers.has(p));
      // Remove whole items before their fields, deeper paths last, so nothing is looked up in a removed item.
      for (const p of dropped.sort((a, b) => split(a).length - split(b).length)) removeAt(base, split(p));
    }
    merged = strategicMergePatch(base, stripNulls(cfg), resolve) as Obj;
    merged.metadata = isObject(merged.metadata) ? (merged.metadata as Obj['metadata']) : {};
  }
  let mine = entries.find((e) => sameEntry(e.meta, ref, 'Apply'));
  if (!mine) {
    mine = { meta: { manager: ref.manager, operation: 'Apply', apiVersion: ref.apiVersion, ...(ref.subresource ? { subresource: ref.subresource } : {}) }, set: new Set() };
    entries.push(mine);
  }
  mine.set = applied;
  mine.meta.time = ref.time;
  mine.meta.apiVersion = ref.apiVersion;
  writeEntries(merged, entries);
  return merged;
}

/** Apply configurations carry no directives; a null means "no opinion", not "delete". */
function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k, x]) => x !== null && !k.startsWith('$')).map(([k, x]) => [k, stripNulls(x)]));
}

function conflictError(cs: { manager: string; apiVersion: string; paths: string[] }[]): ApiError {
  const causes: StatusCause[] = cs.flatMap((c) =>
    c.paths.map((p) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: formatPath(p) })),
  );
  const n = causes.length;
  let message: string;
  const only = cs[0];
  if (cs.length === 1 && only && only.paths.length === 1) message = `Apply failed with 1 conflict: conflict with "${only.manager}" using ${only.apiVersion}: ${formatPath(only.paths[0] ?? '')}`;
  else
    message =
      `Apply failed with ${n} conflicts: ` +
      cs.map((c) => `conflicts with "${c.manager}" using ${c.apiVersion}:\n` + c.paths.map((p) => `- ${formatPath(p)}`).join('\n')).join('\n');
  return new ApiError(409, 'Conflict', message, { causes });
}

