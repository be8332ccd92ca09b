// Keeps an in-memory consumer (the RBAC cache, the node graph) in step with one resource type, as an informer does:
// the initial objects as one snapshot, then each change; after a broken watch (an ERROR such as 410, or its end) it
// starts over with a fresh snapshot. Fed by a store's watch with sendInitialEvents (the type's watch cache).
import type { KubeObject } from '../../api/schemas/meta.js';
import { realClock, type Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One event of the source: what a store's watch yields (objects, the initial-events-end BOOKMARK, ERROR Statuses). */
export interface SourceEvent {
  type: EventType | 'BOOKMARK' | 'ERROR';
  object: unknown;
}

export interface EventSource extends AsyncIterable<SourceEvent> {
  close(): void;
}

export interface EventSink {
  /** Every object of the type, replacing what the sink had. */
  replace(objs: KubeObject[]): void;
  onEvent(type: EventType, obj: KubeObject): void;
}

export interface Feed {
  /** Resolves once the first snapshot has been delivered (decisions are complete from then on). */
  readonly synced: Promise<void>;
  readonly isSynced: () => boolean;
  /** Resolves once the consumer holds the type's state at resourceVersion rv or later (the server's own writes). */
  reached(rv: string): Promise<void>;
  close(): void;
}

const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/**
 * Follows `source()` (a watch that starts with the current objects as ADDED, then the initial-events-end BOOKMARK, as
 * Store.watch('', {sendInitialEvents: true, allowWatchBookmarks: true}) does) into `sink`.
 */
export function feed(what: string, source: () => EventSource, sink: EventSink, log: Logger, opts: { clock?: Clock; retryMs?: number } = {}): Feed {
  const clock = opts.clock ?? realClock;
  const retryMs = opts.retryMs ?? 1000;
  let closed = false;
  let current: EventSource | undefined;
  let synced = false;
  let markSynced: () => void = () => undefined;
  const syncedPromise = new Promise<void>((resolve) => (markSynced = resolve));
  const abort = new AbortController();
  // The newest resourceVersion delivered (ketch's storages number revisions), and who waits for one.
  let seen = 0;
  let waiters: { rv: number; resolve: () => void }[] = [];
  const saw = (rv: unknown): void => {
    const n = Number(rv);
    if (!Number.isFinite(n) || n <= seen) return;
    seen = n;
    const due = waiters.filter((w) => w.rv <= seen);
    waiters = waiters.filter((w) => w.rv > seen);
    for (const w of due) w.resolve();
  };

  const once = async (): Promise<void> => {
    const w = (current = source());
    let initial: KubeObject[] | undefined = [];
    try {
      for await (const ev of w) {
        if (ev.type === 'ERROR') {
          log.warn('authorization feed watch failed, starting over', { resource: what, status: ev.object });
          return;
        }
        const obj = ev.object as KubeObject;
        if (ev.type === 'BOOKMARK') {
          if (initial && obj.metadata?.annotations?.[INITIAL_EVENTS_END] === 'true') {
            sink.replace(initial);
            initial = undefined;
            saw(obj.metadata?.resourceVersion);
            if (!synced) {
              synced = true;
              markSynced();
            }
          }
          continue;
        }
        if (initial) initial.push(obj);
        else {
          sink.onEvent(ev.type, obj);
          saw(obj.metadata?.resourceVersion);
        }
      }
    } finally {
      w.close();
    }
  };

  void (async () => {
    while (!closed) {
      try {
        await once();
      } catch (err) {
        log.warn('authorization feed failed, starting over', { resource: what, error: err instanceof Error ? err.message : String(err) });
      }
      if (closed) break;
      try {
        await clock.sleep(retryMs, abort.signal);
      } catch {
        break; // closed while waiting
      }
    }
  })();

  return {
    synced: syncedPromise,
    isSynced: () => synced,
    reached(rv) {
      const n = Number(rv);
      if (!Number.isFinite(n) || n <= seen) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ rv: n, resolve }));
    },
    close() {
      closed = true;
      abort.abort(new Error('feed closed'));
      current?.close();
    },
  };
}
