// The bound on open watch streams: past it, a new watch gets 429 before anything is sent.
import { errors } from '../../api/errors.js';

export class WatchLimiter {
  private readonly open = new Set<() => void>();
  constructor(readonly max: number) {}
  /** Counts a watch (stop ends it at server shutdown); returns what to call once it is over. */
  add(stop: () => void): () => void {
    if (this.open.size >= this.max) throw errors.tooManyRequests(`too many open watches (limit ${this.max}); try again later`);
    this.open.add(stop);
    return () => this.open.delete(stop);
  }
  get size(): number {
    return this.open.size;
  }
  stopAll(): void {
    for (const s of [...this.open]) s();
  }
}
