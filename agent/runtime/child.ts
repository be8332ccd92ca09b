// The runtime service in a child process (as kubelet runs containerd apart): its own event loop and core, same handle.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connectRuntime } from '../cri/client.js';
import { isChildReply, type ChildReply, type ChildRequest } from './child-protocol.js';
import type { RuntimeServiceHandle, RuntimeServiceOptions } from './service.js';
import { realClock, type Clock, type TimerHandle } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

export interface RuntimeChildOptions {
  /** After SIGTERM, how long the child gets to close before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** How long the child may take to say it is ready before it is stopped and the start fails (default 120 s). */
  startTimeoutMs?: number;
  /** First wait before a child that died is started again (default 1 s, doubling to 30 s). */
  restartDelayMs?: number;
  /** Times the waits above (default: the real clock). */
  clock?: Clock;
}

/** node arguments that run child-main beside this file: from source (.ts) through tsx's loader, from dist/ as is. */
function childArgv(opts: RuntimeServiceOptions): string[] {
  const self = fileURLToPath(import.meta.url);
  const ext = self.endsWith('.ts') ? '.ts' : '.js';
  const entry = fileURLToPath(new URL(`./child-main${ext}`, import.meta.url));
  const loader = ext === '.ts' ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
  return [...loader, entry, JSON.stringify(opts)];
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));

/**
 * Starts the runtime service in a child process and resolves once it answers Version on its endpoint. The child logs
 * to this process's stderr, exits when this process goes away, and close() stops it (SIGTERM, then SIGKILL). A child
 * that exits unexpectedly after it was ready is started again (back-off 1 s doubling to 30 s), as systemd restarts a
 * CRI runtime; running containers are not affected, since their monitors are processes of their own.
 */
export async function spawnRuntimeService(opts: RuntimeServiceOptions, co: RuntimeChildOptions = {}): Promise<RuntimeServiceHandle> {
  const waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let exitError: Error | undefined;
  let closing = false;
  let child!: ChildProcess;
  let restartDelayMs = co.restartDelayMs ?? 1000;
  let restartTimer: TimerHandle | undefined;
  const clock = co.clock ?? realClock;

  /** Spawns a child and wires it; resolves when it says it is ready, rejects if it exits first. */
  const launch = (): Promise<void> => {
    // stdout and stderr both go to our stderr; stdin is unused; the IPC channel carries control and ties the lifetimes.
    const c = spawn(process.execPath, childArgv(opts), { stdio: ['ignore', 2, 2, 'ipc'], env: process.env });
    child = c;
    exitError = undefined;
    let wasReady = false;
    return new Promise<void>((resolve, reject) => {
      c.on('message', (m: unknown) => {
        if (!isChildReply(m)) return;
        const r: ChildReply = m;
        if (r.type === 'ready') {
          wasReady = true;
          return resolve();
        }
        const w = waiting.get(r.id);
        waiting.delete(r.id);
        if (r.error) w?.reject(new Error(r.error));
        else w?.resolve();
      });
      c.once('error', reject);
      c.once('exit', (code, signal) => {
        exitError = new Error(`runtime child exited (${signal ?? `code ${code}`}); its log is above`);
        reject(exitError);
        for (const w of waiting.values()) w.reject(exitError);
        waiting.clear();
        if (closing || !wasReady) return;
        log.error('runtime child exited, starting it again', { pid: c.pid, code, signal, inMs: restartDelayMs });
        restartTimer = clock.setTimer(restartDelayMs, () => {
          restartTimer = undefined;
          if (closing) return;
          launch().then(
            () => {
              restartDelayMs = co.restartDelayMs ?? 1000;
              log.info('runtime child started again', { pid: child.pid });
            },
            (err: unknown) => log.error('runtime child did not start again', { error: String(err) }),
          );
        });
        restartDelayMs = Math.min(restartDelayMs * 2, 30_000);
      });
    });
  };

  const close = async (): Promise<void> => {
    closing = true;
    restartTimer?.cancel();
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = exited(child);
    child.kill('SIGTERM');
    let timer: TimerHandle | undefined;
    const timedOut = await Promise.race([
      done.then(() => false),
      new Promise<boolean>((r) => (timer = clock.setTimer(co.stopTimeoutMs ?? 10_000, () => r(true)))),
    ]);
    timer?.cancel();
    if (timedOut) {
      log.warn('runtime child did not stop in time, killing it', { pid: child.pid });
      child.kill('SIGKILL');
      await done;
    }
  };

  try {
    let startTimer: TimerHandle | undefined;
    const startTimeoutMs = co.startTimeoutMs ?? 120_000;
    await Promise.race([
      launch(),
      new Promise<never>((_r, reject) => {
        startTimer = clock.setTimer(startTimeoutMs, () => reject(new Error(`the runtime child was not ready within ${startTimeoutMs / 1000}s; its log is above`)));
      }),
    ]).finally(() => startTimer?.cancel());
    const client = connectRuntime(opts.listen, { timeoutMs: 10_000 });
    try {
      await client.runtime.version({ version: 'v1' });
    } finally {
      client.close();
    }
  } catch (err) {
    await close();
    throw err;
  }
  log.info('runtime child started', { pid: child.pid, listen: opts.listen });
  return {
    close,
    removeAllPods(graceSeconds = 0) {
      if (exitError) return Promise.reject(exitError);
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        const req: ChildRequest = { type: 'removeAllPods', id, graceSeconds };
        child.send(req);
      });
    },
  };
}
