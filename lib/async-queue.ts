// An unbounded single-consumer push/pull queue: the producer pushes items or an error, the consumer iterates.
// close() ends iteration (after nothing more is read) and calls onClose once; fail() ends it with an error.

export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private failer: ((e: unknown) => void) | undefined;
  private error: unknown;
  private closed = false;

  constructor(private readonly onClose: () => void = () => undefined) {}

  push(item: T): void {
    if (this.closed) return;
    const w = this.waiter;
    if (w) {
      this.waiter = this.failer = undefined;
      w({ value: item, done: false });
    } else this.items.push(item);
  }

  fail(err: unknown): void {
    if (this.closed) return;
    this.error = err;
    const f = this.failer;
    this.waiter = this.failer = undefined;
    this.finish();
    f?.(err);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Items pushed and not yet read. */
  get length(): number {
    return this.items.length - this.head;
  }

  close(): void {
    if (this.closed) return;
    const w = this.waiter;
    this.waiter = this.failer = undefined;
    this.finish();
    w?.({ value: undefined, done: true });
  }

  private finish(): void {
    this.closed = true;
    this.onClose();
  }

  private shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    // A read item is not kept: a watch's queue holds changes (their bytes, a parsed object) until they are read, not
    // until the next compaction (the API server's storage watches held ~15 MB of read events at 9,000 pods).
    (this.items as Array<T | undefined>)[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      // Compact now and then rather than shifting on every read (shift is O(n) on long queues).
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.length > 0) return Promise.resolve({ value: this.shift()!, done: false });
        if (this.error !== undefined) {
          const e = this.error;
          this.error = undefined;
          return Promise.reject(e);
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failer = reject;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
