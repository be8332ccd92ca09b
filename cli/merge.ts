// Client-side apply's three-way merge: a JSON merge patch from the last applied configuration (original), the new
// configuration (modified) and the live object (current), as kubectl computes for `apply`.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObj = (v: unknown): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Whether every field set in `want` has the same value in `have` (fields the server defaulted are ignored). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && want.length === have.length && want.every((x, i) => isSubset(x, have[i]));
  if (isObj(want)) return isObj(have) && Object.keys(want).every((k) => isSubset(want[k], have[k]));
  return deepEqual(want, have);
}

/**
 * The merge patch that turns current into modified while deleting what original had and modified dropped; fields that
 * nobody configured (set by the server or other writers) are left alone. Lists are replaced whole when they changed.
 */
export function threeWayMergePatch(original: unknown, modified: JsonObject, current: unknown): JsonObject | undefined {
  const o = isObj(original) ? original : {};
  const c = isObj(current) ? current : {};
  const patch: JsonObject = {};
  for (const k of Object.keys(o)) {
    if (k in modified || !(k in c)) continue;
    // A map dropped from the configuration loses only the keys the configuration had set, not other writers' keys.
    const sub = isObj(o[k]) && isObj(c[k]) ? threeWayMergePatch(o[k], {}, c[k]) : null;
    const left = isObj(c[k]) && sub ? Object.keys(c[k]).filter((x) => !(x in sub) || sub[x] !== null) : [];
    patch[k] = sub && left.length ? sub : null;
  }
  for (const [k, m] of Object.entries(modified)) {
    const cur = c[k];
    if (isObj(m) && isObj(cur)) {
      const sub = threeWayMergePatch(o[k], m, cur);
      if (sub) patch[k] = sub;
    } else if (Array.isArray(m)) {
      if (!deepEqual(m, o[k]) || !isSubset(m, cur)) patch[k] = m;
    } else if (!deepEqual(m, cur)) {
      patch[k] = m;
    }
  }
  return Object.keys(patch).length ? patch : undefined;
}

/** The merge patch from a to b (what `edit` changed), null for removed fields. */
export function twoWayMergePatch(a: unknown, b: unknown): JsonObject | undefined {
  const x = isObj(a) ? a : {};
  const y = isObj(b) ? b : {};
  const patch: JsonObject = {};
  for (const k of Object.keys(x)) if (!(k in y)) patch[k] = null;
  for (const [k, v] of Object.entries(y)) {
    if (isObj(v) && isObj(x[k])) {
      const sub = twoWayMergePatch(x[k], v);
      if (sub) patch[k] = sub;
    } else if (!deepEqual(v, x[k])) patch[k] = v;
  }
  return Object.keys(patch).length ? patch : undefined;
}
