// One concurrency limiter: at most `limit` holders of a slot at once. run() and acquire() wait their turn in order;
// tryAcquire() never waits (for admission that refuses instead of queueing, as an in-flight limit does).

/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

export class Limiter {
  private holders = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    /** Slots: a whole number, 1 or more, or Infinity. */
    readonly limit: number,
    /** Called after each release, once a waiter (if any) holds the freed slot. */
    private readonly onRelease: () => void = () => undefined,
  ) {
    if (!(limit >= 1)) throw new RangeError(`a limiter needs at least one slot, got ${limit}`);
  }

  /** Slots held now. */
  get active(): number {
    return this.holders;
  }

  /** Whether a slot is held. */
  get busy(): boolean {
    return this.holders > 0;
  }

  /** Whether callers wait for a slot. */
  get backlogged(): boolean {
    return this.waiting.length > 0;
  }

  /** A slot now, or undefined when every slot is held. */
  tryAcquire(): Release | undefined {
    if (this.holders >= this.limit) return undefined;
    this.holders++;
    return this.releaser();
  }

  /** A slot, after those who asked before. */
  acquire(): Promise<Release> {
    const now = this.waiting.length === 0 ? this.tryAcquire() : undefined;
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
  }

  /** Runs fn in a slot (at once when one is free) and gives the slot back when it settles. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const now = this.waiting.length === 0 ? this.tryAcquire() : undefined;
    return now ? runIn(now, fn) : this.acquire().then((release) => runIn(release, fn));
  }

  /** Resolves once no slot is held. */
  idle(): Promise<void> {
    return this.holders === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so busy/backlogged are exact when onRelease runs.
      if (next) next();
      else if (--this.holders === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.onRelease();
    };
  }
}

async function runIn<T>(release: Release, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    release();
  }
}

/** A function form for call sites that only run tasks: at most n at once, the rest in order. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  const l = new Limiter(n);
  return (fn) => l.run(fn);
}
