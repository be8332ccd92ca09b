// The API server's compactor (kube-apiserver's storage/etcd3/compact.go): every interval, compact the store to the
// revision it had one interval earlier, so that watchers and paged lists younger than an interval never get 410. On
// etcd the compaction record's version makes one of several API servers compact per interval.
import { realClock, type Clock, type TimerHandle } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { Maintenance } from './maintenance.js';

export interface Compactor {
  /** Rounds finished (compacting or not), for tests and metrics. */
  readonly rounds: number;
  /** Stops the timer and waits for a round under way. */
  stop(): Promise<void>;
}

/** Starts compacting every intervalMs (0 disables it, as kube's --etcd-compaction-interval=0). */
export function startCompactor(storage: Pick<Maintenance, 'compactRound'>, intervalMs: number, log: Logger, clock: Clock = realClock): Compactor {
  if (intervalMs <= 0) {
    log.info('storage compaction disabled');
    return { rounds: 0, stop: () => Promise.resolve() };
  }
  let rounds = 0;
  let version = 0;
  let revision = 0;
  let timer: TimerHandle | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const round = async (): Promise<void> => {
    try {
      const r = await storage.compactRound(version, revision);
      ({ version, revision } = r);
      if (r.error) log.warn('storage compaction failed', { revision: r.compactedTo, error: String(r.error) });
      else if (r.compactedTo !== undefined) log.info('storage compacted', { revision: r.compactedTo, next: revision });
    } catch (err) {
      // The record could not be read or written (etcd unavailable): the next round tries again from the same point.
      log.warn('storage compaction round failed', { error: String(err) });
    }
    rounds++;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = clock.setTimer(intervalMs, () => {
      running = round().then(schedule);
    });
  };
  schedule();
  log.info('storage compaction started', { intervalMs });
  return {
    get rounds() {
      return rounds;
    },
    stop: async () => {
      stopped = true;
      timer?.cancel();
      await running;
    },
  };
}
