// Injected time: a real clock for production and a fake one that tests advance by hand (no real sleeping on backoff).

export type TimerHandle = { cancel(): void };

export interface Clock {
  now(): number;
  /** Calls fn after ms; the returned handle cancels it. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Resolves after ms, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    // setTimeout takes at most 2^31-1 ms (24.8 days) and fires at once past it: a longer wait is made of several.
    let t: NodeJS.Timeout;
    const arm = (left: number): void => {
      t = setTimeout(() => (left > MAX_TIMEOUT_MS ? arm(left - MAX_TIMEOUT_MS) : fn()), Math.min(left, MAX_TIMEOUT_MS));
      t.unref?.();
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

/**
 * Calls fn now and then again `ms` after each call has settled (a slow call delays the next; two never overlap),
 * on `clock`'s timers, until the handle is cancelled. A call that throws or rejects goes to onError, and the
 * rhythm goes on. With `{ delayFirst: true }` the first call comes after `ms` too.
 */
export function every(clock: Clock, ms: number, fn: () => unknown, onError: (err: unknown) => void, opts: { delayFirst?: boolean } = {}): TimerHandle {
  let timer: TimerHandle | undefined;
  let cancelled = false;
  const tick = (): void => {
    if (cancelled) return;
    timer = undefined;
    void Promise.resolve()
      .then(fn)
      .catch(onError)
      .finally(() => {
        if (!cancelled) timer = clock.setTimer(ms, tick);
      });
  };
  if (opts.delayFirst) timer = clock.setTimer(ms, tick);
  else tick();
  return {
    cancel() {
      cancelled = true;
      timer?.cancel();
    },
  };
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that only moves when the test calls advance(); timers fire in order of their due time. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return { cancel: () => (this.timers = this.timers.filter((x) => x !== timer)) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const h = this.setTimer(ms, resolve);
      signal?.addEventListener('abort', () => {
        h.cancel();
        reject(signal.reason);
      });
    });
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by ms, firing due timers in order (and letting promise callbacks run between them). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await flushMicrotasks();
    }
    this.t = end;
    await flushMicrotasks();
  }
}

/** Lets pending promise callbacks run. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

/**
 * Sleeps ms on clock; an abort ends the sleep early without an error, because the caller's loop checks the signal
 * next (retry and renew loops). Any other failure is thrown.
 */
export async function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  try {
    await clock.sleep(ms, signal);
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}
