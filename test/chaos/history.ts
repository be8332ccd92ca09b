// The chaos suite's history checker (what etcd's robustness tests do with porcupine, narrowed to what a watch
// promises): the store's history of a set of keys is the writer's acknowledged writes, each with the resourceVersion
// the server answered; every watch history must be an ordered, duplicate-free, gap-free slice of it; every
// acknowledged write must still be readable at or after its resourceVersion.

export interface Write {
  key: string;
  rv: bigint;
  /** The value written (the object's data.n). */
  value: number;
}

export interface Observed {
  key: string;
  rv: bigint;
  value: number;
}

export interface WatchAnomaly {
  watcher: string;
  kind: 'out-of-order' | 'duplicate' | 'gap' | 'unknown-write' | 'wrong-value';
  detail: string;
}

/**
 * Checks one watch history (events in arrival order) against the acknowledged writes. `fromRv` is the revision the
 * watch started after; writes up to the last revision it saw must all be there. A watch that reports a write nobody
 * acknowledged is fine only if that write was in flight (timed out at the writer): `inFlight` lists those keys.
 */
export function checkWatch(watcher: string, fromRv: bigint, events: Observed[], writes: Write[], inFlight: ReadonlySet<string>): WatchAnomaly[] {
  const out: WatchAnomaly[] = [];
  const byRv = new Map(writes.map((w) => [w.rv, w]));
  let last = fromRv;
  const seen = new Set<bigint>();
  for (const e of events) {
    if (seen.has(e.rv)) out.push({ watcher, kind: 'duplicate', detail: `${e.key}@${e.rv}` });
    else if (e.rv <= last) out.push({ watcher, kind: 'out-of-order', detail: `${e.key}@${e.rv} after ${last}` });
    seen.add(e.rv);
    if (e.rv > last) last = e.rv;
    const w = byRv.get(e.rv);
    if (!w) {
      if (!inFlight.has(e.key)) out.push({ watcher, kind: 'unknown-write', detail: `${e.key}@${e.rv}` });
    } else if (w.key !== e.key || w.value !== e.value) {
      out.push({ watcher, kind: 'wrong-value', detail: `${e.key}@${e.rv}=${e.value}, written ${w.key}=${w.value}` });
    }
  }
  for (const w of writes) {
    if (w.rv > fromRv && w.rv <= last && !seen.has(w.rv)) out.push({ watcher, kind: 'gap', detail: `${w.key}@${w.rv} not delivered` });
  }
  return out;
}

/** Acknowledged writes that the final state contradicts: the key's last acknowledged write is newer than what is read. */
export function lostWrites(writes: Write[], final: ReadonlyMap<string, Observed>): Write[] {
  const lastByKey = new Map<string, Write>();
  for (const w of writes) {
    const prev = lastByKey.get(w.key);
    if (!prev || w.rv > prev.rv) lastByKey.set(w.key, w);
  }
  const lost: Write[] = [];
  for (const w of lastByKey.values()) {
    const now = final.get(w.key);
    // Read at or after the write's revision: the same write, or a later one (a timed-out write that did land).
    if (!now || now.rv < w.rv || (now.rv === w.rv && now.value !== w.value) || (now.rv > w.rv && now.value <= w.value)) lost.push(w);
  }
  return lost;
}

/** The p-th percentile (0..100) of a list of numbers (nearest rank); 0 for none. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
