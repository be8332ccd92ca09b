// Pulling events for a pull that takes a while: the pod hears how far it has come (bytes from a runtime that reports
// them through a verbose ImageStatus, see cri/pull-progress.ts; else only the time it has taken).
import type { ObjectReference } from '../api/index.js';
import type { EventRecorder } from '../client/index.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { decodePullProgress, type PullProgressInfo, type RuntimeClient } from './cri/index.js';

/** A pull still running this long gets its first progress event. */
export const PULL_EVENT_AFTER_MS = 5000;
/** Progress events of one pull come at least this far apart. */
export const PULL_EVENT_MIN_GAP_MS = 10_000;

export interface PullReporter {
  clock: Clock;
  runtime: Pick<RuntimeClient, 'image'>;
  events: Pick<EventRecorder, 'event'>;
  log: Logger;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** `Pulling image "X": 12.3 MB of 40.1 MB (31%), 10s elapsed`, or without the bytes when the runtime has none. */
export function pullProgressMessage(image: string, elapsedMs: number, bytes: PullProgressInfo | undefined): string {
  const elapsed = `${Math.round(elapsedMs / 1000)}s elapsed`;
  if (!bytes) return `Pulling image "${image}": ${elapsed}`;
  const pct = Math.floor((100 * bytes.doneBytes) / bytes.totalBytes);
  return `Pulling image "${image}": ${mb(bytes.doneBytes)} of ${mb(bytes.totalBytes)} (${pct}%), ${elapsed}`;
}

/**
 * Sends `about` a Normal Pulling event with the progress once the pull has run PULL_EVENT_AFTER_MS, then again while
 * it lasts, each after max(PULL_EVENT_MIN_GAP_MS, half the time elapsed): every message differs (the time does), so
 * each is an event of its own, and a long pull adds a few of them (11 in 10 minutes) rather than a stream that would
 * spend the pod's event budget (client-go's spam filter, 25 per object) before Created and Started come. Cancel the
 * handle when the pull ends.
 */
export function reportPullProgress(r: PullReporter, about: ObjectReference, image: string): TimerHandle {
  const started = r.clock.now();
  let timer: TimerHandle | undefined;
  let done = false;
  const tick = async (): Promise<void> => {
    const status = await r.runtime.image.imageStatus({ image: { image }, verbose: true }, { timeoutMs: 10_000 }).catch((err: unknown) => {
      // Progress is a courtesy: without the runtime's answer the event still tells the time.
      r.log.debug('pull progress unavailable', { image, error: String(err) });
      return undefined;
    });
    if (done) return;
    const elapsed = r.clock.now() - started;
    await r.events.event(about, 'Normal', 'Pulling', pullProgressMessage(image, elapsed, decodePullProgress(status?.info)));
  };
  const arm = (ms: number): void => {
    timer = r.clock.setTimer(ms, () => {
      void tick()
        .catch((err: unknown) => r.log.debug('pull progress event failed', { image, error: String(err) }))
        .finally(() => {
          if (!done) arm(Math.max(PULL_EVENT_MIN_GAP_MS, (r.clock.now() - started) / 2));
        });
    });
  };
  arm(PULL_EVENT_AFTER_MS);
  return {
    cancel() {
      done = true;
      timer?.cancel();
    },
  };
}
