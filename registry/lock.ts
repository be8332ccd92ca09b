// A readers-writer lock: manifest writes share it, the garbage collector's sweep holds it alone.
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly waitingWriters: Array<() => void> = [];
  private readonly waitingReaders: Array<() => void> = [];

  /** Shared; waits while a writer holds or waits for the lock (so a sweep is not starved). */
  async read(): Promise<() => void> {
    if (this.writer || this.waitingWriters.length) await new Promise<void>((r) => this.waitingReaders.push(r));
    else this.readers++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.readers--;
      this.next();
    };
  }

  async write(): Promise<() => void> {
    if (this.writer || this.readers) await new Promise<void>((r) => this.waitingWriters.push(r));
    else this.writer = true;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.writer = false;
      this.next();
    };
  }

  private next(): void {
    if (this.writer || this.readers) return;
    const w = this.waitingWriters.shift();
    if (w) {
      this.writer = true;
      w();
      return;
    }
    for (let r = this.waitingReaders.shift(); r; r = this.waitingReaders.shift()) {
      this.readers++;
      r();
    }
  }
}
