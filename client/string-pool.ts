// One copy of each string value that many cached objects repeat (a namespace, an image, an owner's name and uid, a
// node's name, timestamps of the same second, condition reasons, mount paths): JSON.parse makes a new string for
// each value in each object, and an informer cache of 30,000 pods holds ~1.3 KB of such duplicates per pod (a pod's
// parsed form: 4.1 KB, 2.8 KB with its strings shared). The pool is per thread, bounded, and cleared when full: a
// string found later is shared again from then on; nothing else depends on it (strings never change).

/** Strings longer than this are not pooled (rare repeats: certificates, scripts, long annotations). */
const MAX_POOLED_LENGTH = 128;
/** Past this many distinct strings the pool starts over (~4 MB of table at most). */
const MAX_POOLED = 100_000;

/**
 * Keys whose string values belong to one object alone: a uid, a resourceVersion, a pod's IP, a container's id (and an
 * object's own name, see ownValue). Pooled, each was a table entry that no other object ever shared: at 30,000 pods
 * ~120,000 of them, more than the pool holds, so it started over every few thousand pod events and lost the values
 * that do repeat (~3.7 MB of table in the scheduler's thread, and a Map insertion per value).
 */
const OWN_VALUE_KEYS = new Set(['uid', 'resourceVersion', 'podIP', 'containerID']);

/** Whether o[k] is an object's own value (OWN_VALUE_KEYS, or the name in an object's metadata: it has a resourceVersion). */
const ownValue = (o: Record<string, unknown>, k: string): boolean => OWN_VALUE_KEYS.has(k) || (k === 'name' && typeof o.resourceVersion === 'string');

export class StringPool {
  private readonly strings = new Map<string, string>();

  /** Distinct strings held now. */
  get size(): number {
    return this.strings.size;
  }

  /** The pool's copy of s (s itself the first time). */
  get(s: string): string {
    if (s.length > MAX_POOLED_LENGTH) return s;
    const had = this.strings.get(s);
    if (had !== undefined) return had;
    if (this.strings.size >= MAX_POOLED) this.strings.clear();
    this.strings.set(s, s);
    return s;
  }

  /**
   * Replaces every string value in a freshly parsed JSON value (objects and arrays, in place) by its pooled copy, but
   * for an object's own values (ownValue), which no other object repeats.
   */
  share<T>(value: T): T {
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (typeof v === 'string') value[i] = this.get(v);
        else if (typeof v === 'object' && v !== null) this.share(v);
      }
      return value;
    }
    const o = value as Record<string, unknown>;
    for (const k in o) {
      const v = o[k];
      if (typeof v === 'string') {
        if (!ownValue(o, k)) o[k] = this.get(v);
      } else if (typeof v === 'object' && v !== null) this.share(v);
    }
    return value;
  }
}

/** This thread's pool, shared by its informers. */
export const cachedStrings = new StringPool();

/** Structures whose JSON is longer than this are not pooled. */
const MAX_STRUCTURE_JSON = 512;
/** Past this many distinct structures the pool starts over. */
const MAX_STRUCTURES = 5_000;

function deepFreeze(v: object): void {
  Object.freeze(v);
  for (const x of Object.values(v)) if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) deepFreeze(x);
}

/**
 * One copy of each small JSON structure that many cached objects repeat (a pod's labels and owner references, its
 * containers as a cache cuts them, tolerations, conditions of the same second): the pods of one ReplicaSet differ in
 * little more than their names, uids, node and addresses. Keyed by the structure's JSON; a pooled structure is frozen
 * (shared by many objects: a write to it would change them all, so it throws instead). Per thread, bounded.
 */
export class StructurePool {
  private readonly structures = new Map<string, object>();
  /** A number for each pooled structure: an array of pooled elements is keyed by theirs (no second serialization). */
  private readonly ids = new Map<object, number>();
  private nextId = 0;

  /** The pool's copy of v (v itself, frozen, the first time); undefined and large structures as they are. */
  get<T>(v: T): T {
    if (typeof v !== 'object' || v === null) return v;
    const key = JSON.stringify(v);
    return key.length > MAX_STRUCTURE_JSON ? v : this.pooled(key, v);
  }

  /** Each element of an array by its pooled copy (in place), then the array itself. */
  elements<T>(arr: T[] | undefined): T[] | undefined {
    if (!arr) return arr;
    let key = '[';
    for (let i = 0; i < arr.length; i++) {
      const e = (arr[i] = this.get(arr[i]!));
      const id = typeof e === 'object' && e !== null ? this.ids.get(e) : undefined;
      if (id === undefined) return arr; // an element not pooled (large, or not an object): the array is this object's own
      key += `${id},`;
    }
    return this.pooled(key, arr);
  }

  private pooled<T>(key: string, v: T & object): T {
    const had = this.structures.get(key);
    if (had !== undefined) return had as T;
    if (this.structures.size >= MAX_STRUCTURES) {
      this.structures.clear();
      this.ids.clear();
    }
    deepFreeze(v);
    this.structures.set(key, v);
    this.ids.set(v, this.nextId++);
    return v;
  }
}

/** This thread's structure pool, shared by its informers. */
export const cachedStructures = new StructurePool();
