// The API server's thread ahead of the other threads on its machine. In `ketch server` every write of every component
// goes through it (the controllers' creates, the scheduler's bindings, each node's status and lease): it is the serial
// path, and on a machine with fewer cores than busy threads (the component threads, V8's collector threads, the nodes'
// agents) it waited for a core about a third of the time under load. A lower nice value gives it the larger share of a
// contended core, as etcd's packaged units do for etcd (Nice=-10); an idle machine sees no difference.
import { getPriority, setPriority } from 'node:os';
import type { Logger } from 'winston';

/** The calling thread's nice value (Linux: setpriority(PRIO_PROCESS, 0) is the calling thread, not the process). */
export interface ThreadNice {
  get(): number;
  set(nice: number): void;
}

const CALLING_THREAD: ThreadNice = { get: () => getPriority(0), set: (nice) => setPriority(0, nice) };

/** Linux's most favourable nice value. */
const HIGHEST = -20;

export interface RaisedPriority {
  /** The thread's nice value now (unchanged when not raised). */
  readonly nice: number;
  readonly raised: boolean;
  /** Puts the thread back where it was (always permitted: it only lowers the priority). */
  restore(): void;
}

/**
 * Runs the calling thread `levels` nice levels ahead of where it is. Threads already running (the component threads,
 * V8's and libuv's) keep theirs; threads and processes this thread starts later inherit it. A lower nice value needs
 * CAP_SYS_NICE (root has it) or an RLIMIT_NICE that allows it: without, the thread stays as it is and the log says so.
 */
export function raiseThreadPriority(levels: number, log: Logger, thread: ThreadNice = CALLING_THREAD): RaisedPriority {
  const base = thread.get();
  const unchanged: RaisedPriority = { nice: base, raised: false, restore: () => undefined };
  if (levels <= 0) return unchanged;
  const nice = Math.max(HIGHEST, base - levels);
  try {
    thread.set(nice);
  } catch (err) {
    log.info('api server thread priority not raised', { nice: base, wanted: nice, error: String(err) });
    return unchanged;
  }
  log.info('api server thread priority raised', { nice, was: base });
  let restored = false;
  return {
    nice,
    raised: true,
    restore() {
      if (restored) return;
      restored = true;
      try {
        thread.set(base);
      } catch (err) {
        log.warn('api server thread priority not restored', { nice, was: base, error: String(err) });
      }
    },
  };
}
