// Periodic compaction of the process's JavaScript heaps (the API server's and every component thread's).
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { every, realClock, type Clock, type TimerHandle } from './clock.js';

/**
 * V8's --compact-on-every-full-gc is one flag for the whole process, set by the API server's window and by each
 * component thread around its forced collection. Holders are counted in shared memory (the main thread's counter is
 * handed to every worker), so one thread letting go does not turn it off under another that holds it.
 */
export class CompactionFlag {
  constructor(
    readonly holders: Int32Array = new Int32Array(new SharedArrayBuffer(4)),
    private readonly set: (flags: string) => void = setFlagsFromString,
  ) {}

  hold(): void {
    Atomics.add(this.holders, 0, 1);
    this.set('--compact-on-every-full-gc');
  }

  release(): void {
    if (Atomics.sub(this.holders, 0, 1) !== 1) return;
    this.set('--no-compact-on-every-full-gc');
    // A thread that took it in between keeps it on (at worst one of its collections started without it).
    if (Atomics.load(this.holders, 0) > 0) this.set('--compact-on-every-full-gc');
  }
}

let processFlag = new CompactionFlag();
/** This process's flag (in a worker: the one shareCompactionFlag was given). */
export function compactionFlag(): CompactionFlag {
  return processFlag;
}
/** A worker thread takes its parent's counter (from compactionFlag().holders, passed in workerData). */
export function shareCompactionFlag(holders: Int32Array): void {
  processFlag = new CompactionFlag(holders);
}

export interface HeapCompactionOptions {
  /** Time between two compaction windows (0: never). */
  intervalMs: number;
  /** How long each window lasts (default 1 s, at most half the interval). */
  windowMs?: number;
  clock?: Clock;
  /** The flag (default: this process's). */
  flag?: CompactionFlag;
}

/** The default window: the API server's heap collects fully about once a second under load, the scheduler's every 4-5 s. */
export const COMPACTION_WINDOW_MS = 1000;

/**
 * Every `intervalMs`, turns V8's --compact-on-every-full-gc on for a window: the full collections of any heap of the
 * process in that window evacuate every fragmented page. By its own heuristics V8 compacts only the most fragmented
 * pages, so heaps that promote short-lived objects steadily (requests that outlive two scavenges, informer updates)
 * keep pages partly free: bench:density at 1,000 x 30,000 ended with 280 MB of old space committed for 194 MB in
 * use. Compacting at every full collection closed that gap, for 40% more CPU; one window of 1 s every 5 s kept the
 * old spaces near their use at no measurable CPU (figures in the README). The flag is process-wide and read when a
 * full collection starts, so one timer serves every thread.
 */
export function startHeapCompaction(o: HeapCompactionOptions): TimerHandle {
  if (o.intervalMs <= 0) return { cancel: () => undefined };
  const clock = o.clock ?? realClock;
  const flag = o.flag ?? processFlag;
  const windowMs = Math.max(1, Math.min(o.windowMs ?? COMPACTION_WINDOW_MS, Math.floor(o.intervalMs / 2)));
  let timer: TimerHandle | undefined;
  let on = false;
  let cancelled = false;
  const open = (): void => {
    if (cancelled) return;
    flag.hold();
    on = true;
    timer = clock.setTimer(windowMs, close);
  };
  const close = (): void => {
    flag.release();
    on = false;
    if (!cancelled) timer = clock.setTimer(o.intervalMs - windowMs, open);
  };
  timer = clock.setTimer(o.intervalMs - windowMs, open);
  return {
    cancel() {
      cancelled = true;
      timer?.cancel();
      if (on) close();
    },
  };
}

export interface ThreadCompactionOptions {
  /** Time between two checks (0: never). */
  intervalMs: number;
  clock?: Clock;
  /** The old space's committed and used bytes (default: V8's statistics of this thread's heap). */
  oldSpace?: () => { size: number; used: number };
  /** A full collection of this thread's heap that compacts it (default: V8's, forced). */
  compact?: () => void;
  /** A check that threw (it is tried again at the next interval). */
  onError?: (err: unknown) => void;
}

/** Compaction is run when the old space holds this much more than it uses (a share of the use, and at least 8 MB). */
export const SLACK_SHARE = 0.25;
export const SLACK_MIN_BYTES = 8 * 1024 * 1024;

/** V8's old space of the calling thread's heap. */
function oldSpaceOf(): { size: number; used: number } {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'old_space');
  return { size: s?.space_size ?? 0, used: s?.space_used_size ?? 0 };
}

let forcedGc: (() => void) | undefined;
/** A full, compacting collection of the calling thread's heap, now (it pauses the thread: ~1-2 ms per MB in use). */
export function compactThreadHeapNow(flag: CompactionFlag = processFlag): void {
  if (!forcedGc) {
    setFlagsFromString('--expose-gc');
    forcedGc = runInNewContext('gc') as () => void;
  }
  flag.hold();
  try {
    forcedGc();
  } finally {
    flag.release();
  }
}

/**
 * The component threads' side: their heaps collect fully every few seconds (the scheduler's every 4-5 s under load),
 * so the process-wide window of startHeapCompaction often misses them. Each interval, a thread whose old space holds
 * more than SLACK_SHARE above its use compacts its own heap at once.
 */
export function startThreadCompaction(o: ThreadCompactionOptions): TimerHandle {
  if (o.intervalMs <= 0) return { cancel: () => undefined };
  const stats = o.oldSpace ?? oldSpaceOf;
  const compact = o.compact ?? compactThreadHeapNow;
  const check = (): void => {
    const { size, used } = stats();
    if (size - used > Math.max(SLACK_MIN_BYTES, used * SLACK_SHARE)) compact();
  };
  return every(o.clock ?? realClock, o.intervalMs, check, o.onError ?? (() => undefined), { delayFirst: true });
}
