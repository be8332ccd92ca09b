// trackUpdate and fieldSet against the path-set algorithm they replaced, on generated objects and updates: the same
// managedFields, byte for byte (key order included).
import { strict as assert } from 'node:assert';
import { deepEqual, isObject, type JsonObject, type ManagedFields, type ManagerRef, type Obj } from '../registry/object.js';
import { defaultListTypes, type ListTypeResolver } from './list-types.js';
// The path helpers the old algorithm used are unchanged and imported; what it did with them is kept below.
import { fieldSet, fromFieldsV1, IGNORED_META, SEP, sortedKeyJson, toFieldsV1, trackUpdate, valueAt } from './managed-fields.js';

// ---- the previous implementation, as it was ----

const split = (s: string): string[] => s.split(SEP);

function refFieldSet(obj: Obj, resolve: ListTypeResolver, scope: 'main' | 'status'): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, path: string[], fp: string): void => {
    if (isObject(v)) {
      let any = false;
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        const x = v[k];
        if (x === undefined || x === null) continue;
        any = true;
        path.push(k);
        walk(x, path, fp + SEP + 'f:' + k);
        path.pop();
      }
      if (!any && fp !== '') out.add(fp);
      return;
    }
    if (Array.isArray(v)) {
      const lt = resolve(path);
      if (lt.type === 'map' && v.every((x) => isObject(x))) {
        for (const item of v as JsonObject[]) {
          const el = fp + SEP + sortedKeyJson(item, lt.keys);
          out.add(el + SEP + '.');
          for (const k of Object.keys(item)) {
            const x = item[k];
            if (x === undefined || x === null) continue;
            path.push(k);
            walk(x, path, el + SEP + 'f:' + k);
            path.pop();
          }
        }
        return;
      }
      if (lt.type === 'set') {
        for (const x of v) out.add(fp + SEP + 'v:' + JSON.stringify(x));
        return;
      }
    }
    out.add(fp);
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined || v === null) continue;
    if (scope === 'main' && k === 'status') continue;
    if (scope === 'status' && k !== 'status') continue;
    if (k === 'metadata' && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!IGNORED_META.has(mk) && mv !== undefined && mv !== null) walk(mv, ['metadata', mk], 'f:metadata' + SEP + 'f:' + mk);
      continue;
    }
    walk(v, [k], 'f:' + k);
  }
  return out;
}


interface Entry {
  meta: ManagedFields;
  set: Set<string>;
  from?: ManagedFields;
  unchanged?: boolean;
}

const sameEntry = (m: ManagedFields, ref: ManagerRef, op: 'Apply' | 'Update'): boolean =>
  m.manager === ref.manager && m.operation === op && (m.subresource ?? '') === (ref.subresource ?? '');

function refTrackUpdate(old: Obj, obj: Obj, ref: ManagerRef, resolve: ListTypeResolver = defaultListTypes): void {
  const scope = ref.subresource === 'status' ? 'status' : 'main';
  const before = refFieldSet(old, resolve, scope);
  const after = refFieldSet(obj, resolve, scope);
  const changed = new Set<string>();
  for (const p of after) {
    if (!before.has(p)) changed.add(p);
    else if (!deepEqual(valueAt(old, split(p)).value, valueAt(obj, split(p)).value)) changed.add(p);
  }
  const removed = [...before].filter((p) => !after.has(p));
  const entries: Entry[] = (old.metadata.managedFields ?? []).map((m) => ({ meta: { ...m }, set: fromFieldsV1(m.fieldsV1), from: m }));
  if (changed.size === 0 && removed.length === 0) {
    if (old.metadata.managedFields) obj.metadata.managedFields = old.metadata.managedFields;
    else delete obj.metadata.managedFields;
    return;
  }
  let mine = entries.find((e) => sameEntry(e.meta, ref, 'Update'));
  if (!mine) {
    mine = { meta: { manager: ref.manager, operation: 'Update', apiVersion: ref.apiVersion, ...(ref.subresource ? { subresource: ref.subresource } : {}) }, set: new Set() };
    entries.push(mine);
  }
  mine.meta.time = ref.time;
  mine.meta.apiVersion = ref.apiVersion;
  for (const e of entries) {
    let touched = false;
    for (const p of removed) touched = e.set.delete(p) || touched;
    if (e !== mine) for (const p of changed) touched = e.set.delete(p) || touched;
    e.unchanged = e !== mine && !touched;
  }
  for (const p of changed) mine.set.add(p);
  const kept = entries.filter((e) => e.set.size > 0);
  if (kept.length === 0) delete obj.metadata.managedFields;
  else {
    obj.metadata.managedFields = kept.map((e) =>
      e.unchanged && e.from?.fieldsType === 'FieldsV1' ? e.from : { ...e.meta, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(e.set) },
    );
  }
}

// ---- generated objects ----

/** A small deterministic PRNG (mulberry32), so that a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Generator = ReturnType<typeof generator>;

function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const chance = (p: number): boolean => r() < p;
  // Few distinct names and values, so that updates often keep, and sometimes collide with, what was there.
  const names = ['a', 'b', 'c', 'app', 'x\u0000f:y', ''];
  const scalar = (): unknown => pick<unknown>(['v1', 'v2', 1, 2, 0, true, false, null, '', 'a']);
  const keyValue = (): unknown => (chance(0.85) ? pick(['a', 'b', 'c']) : pick<unknown>([1, -0, true, null, undefined, { n: 1 }, ['a'], '1']));
  const value = (depth: number): unknown => {
    if (depth <= 0 || chance(0.5)) return scalar();
    if (chance(0.2)) return Array.from({ length: Math.floor(r() * 3) }, () => value(depth - 1));
    if (chance(0.1)) return {};
    return map(depth - 1);
  };
  const map = (depth: number): JsonObject => {
    const o: JsonObject = {};
    for (let i = Math.floor(r() * 4); i > 0; i--) o[pick(names)] = value(depth);
    return o;
  };
  const keyedItem = (key: string, depth: number): JsonObject => {
    const o: JsonObject = map(depth);
    if (chance(0.9)) o[key] = keyValue();
    return o;
  };
  const keyed = (key: string, depth: number): unknown[] => {
    const list: unknown[] = Array.from({ length: Math.floor(r() * 4) }, () => keyedItem(key, depth));
    if (chance(0.05)) list.push(scalar());
    return list;
  };
  const container = (): JsonObject => {
    const c: JsonObject = { name: keyValue(), image: pick(['busybox', 'nginx']) };
    if (chance(0.5)) c.ports = keyed('containerPort', 1);
    if (chance(0.5)) c.env = keyed('name', 1);
    if (chance(0.3)) c.args = Array.from({ length: Math.floor(r() * 3) }, scalar);
    if (chance(0.3)) c.resources = map(2);
    return c;
  };
  const obj = (): Obj => {
    const o: Obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', uid: 'u', resourceVersion: '5' } };
    if (chance(0.7)) o.metadata.labels = map(0) as Record<string, string>;
    if (chance(0.5)) o.metadata.annotations = map(0) as Record<string, string>;
    if (chance(0.4)) o.metadata.finalizers = Array.from({ length: Math.floor(r() * 3) }, () => pick(['f1', 'f2'])) as string[];
    if (chance(0.3)) o.metadata.ownerReferences = keyed('uid', 1);
    if (chance(0.9)) {
      const spec: JsonObject = { containers: Array.from({ length: Math.floor(r() * 3) }, container) };
      if (chance(0.4)) spec.volumes = keyed('name', 2);
      if (chance(0.4)) spec.tolerations = keyed('key', 1);
      if (chance(0.5)) spec.extra = map(3);
      if (chance(0.2)) spec.nodeName = chance(0.5) ? null : 'n1';
      o.spec = spec;
    }
    if (chance(0.8)) {
      const status: JsonObject = { phase: pick(['Pending', 'Running']) };
      if (chance(0.7)) status.conditions = keyed('type', 1);
      if (chance(0.3)) status.podIP = pick(['10.0.0.1', '10.0.0.2']);
      if (chance(0.3)) status.more = map(2);
      o.status = status;
    }
    return o;
  };
  /** Changes a few places of a copy: values, removals, additions, list items moved or duplicated. */
  const mutate = (o: Obj): Obj => {
    const out = structuredClone(o);
    const visit = (v: unknown, depth: number): void => {
      if (Array.isArray(v)) {
        if (chance(0.1) && v.length) v.push(structuredClone(pick(v)));
        if (chance(0.1) && v.length > 1) v.reverse();
        if (chance(0.1) && v.length) v.splice(Math.floor(r() * v.length), 1);
        for (const x of v) visit(x, depth + 1);
        return;
      }
      if (!isObject(v)) return;
      for (const k of Object.keys(v)) {
        if (k === 'managedFields') continue;
        if (chance(0.08)) delete v[k];
        else if (chance(0.08)) v[k] = value(2);
        else visit(v[k], depth + 1);
      }
      if (chance(0.08)) v[pick(names)] = value(2);
    };
    visit(out, 0);
    if (!isObject(out.metadata)) out.metadata = {};
    return out;
  };
  /** Stored entries as another writer might have left them: other fieldsTypes, empty sets, non-object leaves. */
  const oddEntries = (o: Obj): void => {
    const mf = o.metadata.managedFields;
    if (!mf) return;
    if (chance(0.2)) mf.push({ manager: 'odd', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: {} });
    if (chance(0.2)) mf.push({ manager: 'odd2', operation: 'Update', fieldsType: 'Other', fieldsV1: { 'f:status': { 'f:phase': 1, 'f:podIP': [] } } });
    if (chance(0.2)) mf.push({ manager: 'odd3', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels\u0000f:a': {}, 'f:labels': { 'f:b': {} } } } });
    if (chance(0.2) && mf[0]) mf.push({ ...mf[0] });
    // The updating managers' own entries, not in the form toFieldsV1 gives (unsorted, leaves not {}, SEP in a key).
    if (chance(0.2)) mf.unshift({ manager: 'agent', operation: 'Update', subresource: 'status', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:phase': {}, 'f:conditions': {} } } });
    if (chance(0.2)) mf.unshift({ manager: 'agent', operation: 'Update', subresource: 'status', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:phase': true } } });
    if (chance(0.2)) mf.unshift({ manager: 'kubectl', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata\u0000f:labels': { 'f:a': {} } } });
  };
  /**
   * Changes a few places as a patch does: the result shares every subtree it leaves alone with o (the same objects),
   * and copies only the objects and lists on the way to a change.
   */
  const mutateShared = (o: Obj): Obj => {
    const visit = (v: unknown): unknown => {
      if (chance(0.4)) return v;
      if (Array.isArray(v)) {
        const a = v.map(visit);
        if (chance(0.1) && a.length) a.push(structuredClone(pick(a)));
        if (chance(0.1) && a.length > 1) a.reverse();
        if (chance(0.1) && a.length) a.splice(Math.floor(r() * a.length), 1);
        return a;
      }
      if (!isObject(v)) return chance(0.2) ? value(1) : v;
      const out: JsonObject = { ...v };
      for (const k of Object.keys(out)) {
        if (k === 'managedFields') continue;
        if (chance(0.08)) delete out[k];
        else if (chance(0.08)) out[k] = chance(0.3) ? null : value(2);
        else out[k] = visit(out[k]);
      }
      if (chance(0.08)) out[pick(names)] = value(2);
      return out;
    };
    const out = { ...o, ...(visit(o) as Obj) };
    out.metadata = isObject(out.metadata) ? { ...out.metadata } : {};
    return out;
  };
  return { obj, mutate, mutateShared, oddEntries, pick, chance };
}

describe('managed fields: equivalence with the path-set algorithm', () => {
  it('fieldSet gives the same paths in the same order', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const g = generator(seed);
      const o = g.obj();
      for (const scope of ['main', 'status'] as const) {
        assert.deepEqual([...fieldSet(o, defaultListTypes, scope)], [...refFieldSet(o, defaultListTypes, scope)], `seed ${seed}`);
      }
    }
  });

  const MANAGERS: ManagerRef[] = [
    { manager: 'kubectl', apiVersion: 'v1', time: 't1' },
    { manager: 'agent', apiVersion: 'v1', time: 't2', subresource: 'status' },
    { manager: 'ctrl', apiVersion: 'v2', time: 't3' },
    { manager: 'kubectl', apiVersion: 'v1', time: 't4', subresource: 'status' },
  ];

  /**
   * Chains of 8 updates by random managers from 1,500 generated objects: step gives the next stored object from the
   * current one. Returns how many updates there were and how many changed the stored entries.
   */
  function chains(step: (g: Generator, cur: Obj, ref: ManagerRef, at: string) => Obj): { updates: number; changedEntries: number } {
    let updates = 0;
    let changedEntries = 0;
    for (let seed = 1; seed <= 1500; seed++) {
      const g = generator(seed);
      let cur = g.obj();
      trackUpdate(undefined, cur, g.pick(MANAGERS));
      g.oddEntries(cur);
      for (let n = 0; n < 8; n++) {
        const next = step(g, cur, g.pick(MANAGERS), `seed ${seed} step ${n}`);
        updates++;
        if (next.metadata.managedFields !== cur.metadata.managedFields) changedEntries++;
        cur = next;
      }
    }
    return { updates, changedEntries };
  }

  it('trackUpdate records the same managedFields over chains of updates by several managers', () => {
    const { updates, changedEntries } = chains((g, cur, ref, at) => {
      const next = g.chance(0.1) ? structuredClone(cur) : g.mutate(cur);
      if (g.chance(0.3)) delete next.metadata.managedFields;
      const a = structuredClone(next);
      const b = structuredClone(next);
      refTrackUpdate(cur, a, ref);
      trackUpdate(cur, b, ref);
      assert.equal(JSON.stringify(b.metadata.managedFields), JSON.stringify(a.metadata.managedFields), at);
      // Untouched entries are the stored ones themselves, as before.
      const stored = cur.metadata.managedFields ?? [];
      (a.metadata.managedFields ?? []).forEach((m, i) => assert.equal(b.metadata.managedFields?.[i], stored.includes(m) ? m : b.metadata.managedFields?.[i]));
      (b.metadata.managedFields ?? []).forEach((m, i) => assert.equal(stored.includes(m), stored.includes(a.metadata.managedFields?.[i] as ManagedFields)));
      return a;
    });
    // The generator exercises real changes, not only no-op updates.
    assert.ok(changedEntries > updates / 3, `${changedEntries} of ${updates}`);
  });

  it('trackUpdate records the same managedFields when the new object shares what it left alone with the old one', () => {
    let shared = 0;
    const { updates, changedEntries } = chains((g, cur, ref, at) => {
      const next = g.mutateShared(cur);
      if (g.chance(0.3)) delete next.metadata.managedFields;
      if (next.spec !== undefined && next.spec === cur.spec) shared++;
      const a = structuredClone(next);
      // Shared with cur as a patch leaves it: trackUpdate writes only next.metadata, its own.
      const before = JSON.stringify(cur);
      trackUpdate(cur, next, ref);
      refTrackUpdate(cur, a, ref);
      assert.equal(JSON.stringify(cur), before, `${at}: the stored object changed`);
      assert.equal(JSON.stringify(next.metadata.managedFields), JSON.stringify(a.metadata.managedFields), at);
      return next;
    });
    assert.ok(changedEntries > updates / 5, `${changedEntries} of ${updates}`);
    assert.ok(shared > updates / 4, `spec shared in ${shared} of ${updates}`);
  });
});
