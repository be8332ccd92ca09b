// A hosted control-plane component (controller manager, scheduler) in a worker thread of `ketch server`: an event loop
// and a V8 heap of its own, so that the API server, the controllers and the scheduler each get a core. The thread
// reaches the API server over loopback HTTPS as any client does; the parent only starts it, stops it, learns its
// OS thread id (for per-component CPU in /proc/<pid>/task/<tid>), and asks it for its metrics' Prometheus text over
// the worker's message port (the API server appends it to its /metrics). With the API server's local socket (the
// default), the thread talks plain HTTP over it with a token of its own instead (see hosted-component.ts).
import { readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { readFlags, type FlagInput, type FlagTable } from '../../lib/flags.js';
import { compactionFlag } from '../../lib/heap-compaction.js';
import { logger } from '../../lib/logger.js';
import type { ComponentClient } from './hosted-component.js';
import type { ThreadMemory } from './thread-memory.js';

export type HostedComponent = 'controller-manager' | 'scheduler';

/** A hosted component as `ketch server` runs it: on a thread of its own (tid: the OS thread id) or on the server's. */
export interface HostedThread {
  name: HostedComponent;
  pid: number;
  tid?: number;
}

/** What the parent hands the thread. */
export interface ComponentThreadData {
  component: HostedComponent;
  /** How it reaches the API server (a token for the local socket travels here, in memory, never in a file). */
  client: ComponentClient;
  input: FlagInput;
  /** The process's count of heap-compaction flag holders (lib/heap-compaction.ts), shared with the parent. */
  compactionHolders?: Int32Array;
}

/** Messages from the thread: started (with its OS thread id), stopped, the metrics or memory asked for by id. */
export type ComponentThreadMessage =
  | { type: 'started'; tid?: number }
  | { type: 'stopped'; error?: string }
  | { type: 'metrics'; id: number; text?: string; error?: string }
  | { type: 'memory'; id: number; memory: ThreadMemory };

/** Messages to the thread: stop, or send the metrics' text, or its isolate's memory. */
export type ComponentThreadRequest = 'stop' | { type: 'metrics' | 'memory'; id: number };

/** The component threads' own limits (`ketch server`, `ketch up`). */
export const THREAD_FLAGS: FlagTable = [
  {
    name: '--thread-young-generation-mb',
    kind: 'int',
    arg: 'mb',
    default: '16',
    description:
      "the young generation of each component thread's JavaScript heap (its semi-spaces and new large objects; 0: V8's own, up to 48 MB): smaller young generations cost more minor collections and less memory (at 1,000 nodes and 30,000 pods, 16 MB against 8: 424 and 397 minor collections in the controller manager and the scheduler against 900 and 821, ~18 MB more)",
  },
];
/** `ketch server`'s compaction interval, read by the component threads too (see lib/heap-compaction.ts). */
export const HEAP_COMPACT_FLAG: FlagTable[number] = {
  name: '--heap-compact-interval',
  kind: 'duration',
  default: '5s',
  description:
    "how often every thread's JavaScript heap is compacted whole: the API server's at its next full collection, in a window of 1 s, a component thread's at once when its old space holds over 25% more than it uses (V8 alone compacts only its most fragmented pages; 0 disables)",
};

/** A scrape waits this long for a thread (one busy for longer is left out of that scrape). */
const METRICS_TIMEOUT_MS = 10_000;

/** The calling thread's OS thread id (Linux), or undefined elsewhere. */
export function osThreadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined; // not Linux: the figure is only a diagnostic
  }
}

/** The thread's entry module beside this one (.ts under tsx, .js in the build). */
const ENTRY = new URL(`./component-thread-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** The ESM build of tsx's register() API (tsx/esm/api, import condition), from tsx's package.json. */
function tsxApiUrl(): string {
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import?: { default?: string } } | string> };
  const api = pkg.exports['./esm/api'];
  const rel = typeof api === 'object' ? api.import?.default : undefined;
  if (!rel) throw new Error('tsx/esm/api: no ESM export in tsx/package.json');
  return pathToFileURL(join(dirname(pkgPath), rel)).href;
}

/**
 * A worker on the entry. Run from source under tsx (tests), the thread first registers tsx's loader: Node 20 does not
 * pass a loader registered with module.register() on to worker threads.
 */
function newWorker(given: ComponentThreadData, name: string): Worker {
  const data: ComponentThreadData = { ...given, compactionHolders: compactionFlag().holders };
  // A thread's stderr is a pipe to this one, never a terminal: it logs in the format this process chose.
  const env = { ...process.env, KETCH_LOG_FORMAT: process.env.KETCH_LOG_FORMAT ?? (process.stderr.isTTY ? 'text' : 'json') };
  const young = readFlags(THREAD_FLAGS, data.input).int('--thread-young-generation-mb');
  const limits = young > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: young } } : {};
  if (!ENTRY.pathname.endsWith('.ts')) return new Worker(ENTRY, { workerData: data, name, env, ...limits });
  const boot = `import(${JSON.stringify(tsxApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data, name, env, ...limits });
}
const STOP_TIMEOUT_MS = 30_000;

/** The parent's side of the metrics (or memory) requests: one id per request, answered or failed by the thread's reply. */
class ThreadRequests<T> {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(answer: T): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  constructor(
    private readonly worker: Worker,
    private readonly type: 'metrics' | 'memory',
  ) {}

  ask(): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, undefined, `no answer within ${METRICS_TIMEOUT_MS} ms`), METRICS_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ type: this.type, id } satisfies ComponentThreadRequest);
    });
  }

  settle(id: number, text: T | undefined, error?: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (text !== undefined) p.resolve(text);
    else p.reject(new Error(error ?? 'no metrics'));
  }

  /** The thread is gone: every request fails. */
  failAll(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, 'component thread exited');
  }
}

/** A started component thread. */
export interface ComponentThread {
  thread: HostedThread;
  failed: Promise<never>;
  stop(): Promise<void>;
  /** The component's metrics in the Prometheus text format. */
  metrics(): Promise<string>;
  /** The thread's isolate's memory. */
  memory(): Promise<ThreadMemory>;
  /** A heap snapshot of the thread's isolate (a diagnostic: pauses the thread). */
  heapSnapshot(): Promise<Readable>;
}

/** Starts a component in a worker thread; resolves once it runs, rejects if it fails to start. */
export function startComponentThread(name: HostedComponent, client: ComponentClient, input: FlagInput): Promise<ComponentThread> {
  const log = logger('server').child({ thread: name });
  const data: ComponentThreadData = { component: name, client, input };
  const worker = newWorker(data, name);
  let stopping = false;
  let onStopped: (() => void) | undefined;
  const exited = new Promise<number>((res) => worker.once('exit', res));
  const metrics = new ThreadRequests<string>(worker, 'metrics');
  const memory = new ThreadRequests<ThreadMemory>(worker, 'memory');
  void exited.then(() => {
    metrics.failAll();
    memory.failAll();
  });
  const failed = new Promise<never>((_res, reject) => {
    worker.on('error', (err) => {
      if (!stopping) log.error('component thread failed', { error: String(err instanceof Error ? err.stack : err) });
      reject(err);
    });
    void exited.then((code) => {
      if (!stopping) reject(new Error(`${name} thread exited with code ${code}`));
    });
  });
  failed.catch(() => undefined); // observed by startup below and by the caller's race; not an unhandled rejection
  const stop = async (): Promise<void> => {
    if (stopping) return exited.then(() => undefined);
    stopping = true;
    const stopped = new Promise<void>((res) => (onStopped = res));
    worker.postMessage('stop' satisfies ComponentThreadRequest);
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<void>((res) => {
      timer = setTimeout(() => {
        log.warn('component thread slow to stop, terminating', { timeoutMs: STOP_TIMEOUT_MS });
        res();
      }, STOP_TIMEOUT_MS);
    });
    await Promise.race([stopped, exited, slow]);
    clearTimeout(timer);
    // The component stopped (informers, leases); sockets its clients keep alive would hold the thread open.
    await worker.terminate();
  };
  return new Promise((resolve, reject) => {
    worker.on('message', (m: ComponentThreadMessage) => {
      if (m.type === 'metrics') metrics.settle(m.id, m.text, m.error);
      else if (m.type === 'memory') memory.settle(m.id, m.memory);
      else if (m.type === 'stopped') {
        if (m.error) log.error('component failed to stop', { error: m.error });
        onStopped?.();
      } else resolve({ thread: { name, pid: process.pid, ...(m.tid !== undefined ? { tid: m.tid } : {}) }, failed, stop, metrics: () => metrics.ask(), memory: () => memory.ask(), heapSnapshot: () => worker.getHeapSnapshot() });
    });
    failed.catch(reject);
  });
}
