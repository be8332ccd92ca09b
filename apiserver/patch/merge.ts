// JSON merge patch (RFC 7386) and strategic merge patch (lists merged by key, $patch/$retainKeys/$setElementOrder directives).
import { errors } from '../../api/errors.js';
import { deepEqual, isObject, type JsonObject } from '../registry/object.js';
import { defaultListTypes, type ListTypeResolver } from './list-types.js';

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';

/** Removes directive keys from a value that is being inserted as a whole. */
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => !(isObject(x) && x.$patch !== undefined && Object.keys(x).length === 1)).map(strip);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue;
    if (x === null) continue;
    out[k] = strip(x);
  }
  return out;
}

function matches(item: unknown, key: string, value: unknown): boolean {
  return isObject(item) && deepEqual(item[key], value);
}

export function strategicMergePatch(original: unknown, patch: unknown, resolve: ListTypeResolver = defaultListTypes): unknown {
  if (!isObject(patch)) throw errors.badRequest('strategic merge patch must be a JSON object');
  const out = mergeMap(isObject(original) ? original : {}, patch, [], resolve);
  return out ?? {};
}

function mergeMap(orig: JsonObject, patch: JsonObject, path: string[], resolve: ListTypeResolver): JsonObject | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return strip(patch) as JsonObject;
  if (directive !== undefined) throw errors.badRequest(`Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  let out: JsonObject = { ...orig };
  const retain = patch.$retainKeys;
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw errors.badRequest('$retainKeys must be a list');
    const keep = new Set(retain.map(String));
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  const orders: [string, unknown[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith(ORDER)) {
      if (!Array.isArray(v)) throw errors.badRequest(`${k} must be a list`);
      orders.push([k.slice(ORDER.length), v]);
      continue;
    }
    if (k.startsWith(DELETE_FROM)) {
      const field = k.slice(DELETE_FROM.length);
      if (!Array.isArray(v)) throw errors.badRequest(`${k} must be a list`);
      const cur = out[field];
      if (Array.isArray(cur)) out[field] = cur.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (k.startsWith('$')) throw errors.badRequest(`unknown directive ${k} in strategic merge patch`);
    const sub = [...path, k];
    if (v === null) delete out[k];
    else if (isObject(v)) {
      const merged = mergeMap(isObject(out[k]) ? out[k] : {}, v, sub, resolve);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) out[k] = mergeList(Array.isArray(out[k]) ? out[k] : [], v, sub, resolve);
    else out[k] = v;
  }
  for (const [field, order] of orders) {
    const cur = out[field];
    if (Array.isArray(cur)) out[field] = reorder(cur, order, resolve([...path, field]));
  }
  return out;
}

function mergeList(orig: unknown[], patch: unknown[], path: string[], resolve: ListTypeResolver): unknown[] {
  const lt = resolve(path);
  const replaceAll = patch.some((x) => isObject(x) && x.$patch === 'replace');
  if (lt.type === 'atomic' || replaceAll) return patch.filter((x) => !(isObject(x) && x.$patch === 'replace')).map(strip);
  if (lt.type === 'set') {
    const out = [...orig];
    for (const x of patch) if (!out.some((y) => deepEqual(x, y))) out.push(x);
    return out;
  }
  const key = lt.keys[0] ?? 'name';
  const out = [...orig];
  for (const item of patch) {
    if (!isObject(item)) {
      out.push(item);
      continue;
    }
    if (!(key in item)) throw errors.badRequest(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const idx = out.findIndex((x) => matches(x, key, item[key]));
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx < 0) out.push(strip(item));
    else {
      const cur = out[idx];
      out[idx] = mergeMap(isObject(cur) ? cur : {}, item, path, resolve) ?? {};
    }
  }
  return out;
}

/** $setElementOrder: the listed elements in the given order, then any others in their current order. */
function reorder(list: unknown[], order: unknown[], lt: ReturnType<ListTypeResolver>): unknown[] {
  const keyOf = (x: unknown): unknown => (lt.type === 'map' && isObject(x) ? x[lt.keys[0] ?? 'name'] : x);
  const ranked = order.map(keyOf);
  const rank = (x: unknown): number => {
    const i = ranked.findIndex((r) => deepEqual(r, keyOf(x)));
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return list
    .map((x, i) => ({ x, i, r: rank(x) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((e) => e.x);
}
