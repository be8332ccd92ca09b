// Waiting on the server: poll until a check passes or the deadline passes, with a spinner on a terminal.
import { setTimeout as delay } from 'node:timers/promises';
import { isGone, isNotFound } from '../api/errors.js';
import type { ObjectLike, ResourceClient } from '../client/rest.js';
import type { Io } from './io.js';

export interface Progress {
  update(text: string): void;
  done(): void;
}

/**
 * A one-line status on stderr, redrawn in place on a terminal. Elsewhere nothing, or with plainEveryMs a plain line
 * "TEXT (Ns)" that often (a log or CI job shows what a long wait waits on).
 */
export function progress(io: Io, opts: { plainEveryMs?: number } = {}): Progress {
  const tty = !!io.stderr.isTTY;
  if (!tty && !opts.plainEveryMs) return { update: () => undefined, done: () => undefined };
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  let last = '';
  const t0 = Date.now();
  const line = (): string => `${last} (${Math.round((Date.now() - t0) / 1000)}s)`;
  const draw = (): void => {
    if (tty) io.stderr.write(`\r\u001b[2K${frames[i++ % frames.length]} ${line()}`);
    else if (last) io.stderr.write(`${line()}\n`);
  };
  const timer = setInterval(draw, tty ? 120 : opts.plainEveryMs);
  timer.unref();
  return {
    update(text) {
      last = text;
    },
    done() {
      clearInterval(timer);
      if (tty) io.stderr.write('\r\u001b[2K');
    },
  };
}

/** Polls check until it returns a value other than undefined; undefined when the deadline (ms from now) passes. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let wait = Math.min(intervalMs, 50);
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await delay(Math.min(wait, Math.max(0, deadline - Date.now())));
    wait = Math.min(wait * 2, intervalMs * 4);
  }
}

/**
 * Watches one object until check(obj) returns a value (obj undefined: it does not exist); resolves to that value, or
 * to undefined when timeoutMs passes. A broken or expired watch starts again from a fresh read.
 */
export async function watchObject<T extends ObjectLike, R>(
  client: ResourceClient<T>,
  namespace: string | undefined,
  name: string,
  check: (obj: T | undefined) => R | undefined,
  timeoutMs: number,
): Promise<R | undefined> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), Math.min(timeoutMs, 2 ** 31 - 1)); // longer waits are "forever"
  try {
    while (!ac.signal.aborted) {
      let obj: T | undefined;
      let rv: string | undefined;
      try {
        obj = await client.get(namespace, name);
        rv = obj.metadata?.resourceVersion;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        const list = await client.list(namespace, { fieldSelector: `metadata.name=${name}` });
        rv = list.metadata.resourceVersion;
        obj = list.items[0];
      }
      const first = check(obj);
      if (first !== undefined) return first;
      try {
        for await (const ev of client.watch(namespace, { fieldSelector: `metadata.name=${name}`, ...(rv ? { resourceVersion: rv } : {}), signal: ac.signal })) {
          if (ev.type === 'BOOKMARK') continue;
          const r = check(ev.type === 'DELETED' ? undefined : ev.object);
          if (r !== undefined) return r;
        }
      } catch (e) {
        if (!isGone(e)) throw e;
      }
    }
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
