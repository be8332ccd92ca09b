// One copy of each string value that many cached objects repeat (a namespace, an image, an owner's name and uid, a
// node's name, timestamps of the same second, condition reasons, mount paths): JSON.parse makes a new string for
// each value in each object, and an informer cache of 30,000 pods holds ~1.3 KB of such duplicates per pod (a pod's
// parsed form: 4.1 KB, 2.8 KB with its strings shared). The pool is per thread, bounded, and cleared when full: a
// string found later is shared again from then on; nothing else depends on it (strings never change).

/** Strings longer than this are not pooled (rare repeats: certificates, scripts, long annotations). */
const MAX_POOLED_LENGTH = 128;
/** Past this many distinct strings the pool starts over (~4 MB of table at most). */
const MAX_POOLED = 100_000;

export class StringPool {
  private readonly strings = new Map<string, string>();

  /** The pool's copy of s (s itself the first time). */
  get(s: string): string {
    if (s.length > MAX_POOLED_LENGTH) return s;
    const had = this.strings.get(s);
    if (had !== undefined) return had;
    if (this.strings.size >= MAX_POOLED) this.strings.clear();
    this.strings.set(s, s);
    return s;
  }

  /** Replaces every string value in a freshly parsed JSON value (objects and arrays, in place) by its pooled copy. */
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
      if (typeof v === 'string') o[k] = this.get(v);
      else if (typeof v === 'object' && v !== null) this.share(v);
    }
    return value;
  }
}

/** This thread's pool, shared by its informers. */
export const cachedStrings = new StringPool();
