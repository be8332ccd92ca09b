// Small test helpers: free ports and polling with a deadline (tests never sleep to wait for state).
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { isNotFound } from '../../api/errors.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls check until it returns true (or a truthy value), failing with a message after timeoutMs. */
export async function waitFor<T>(
  check: () => Promise<T | false | undefined> | T | false | undefined,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
      if (err instanceof Error && /exited at start/.test(err.message)) throw err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await delay(opts.intervalMs ?? 50);
  }
}

/** Whether a read answers 404 (an object is gone); any other error is thrown. */
export async function isGoneAfter(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}

/** mulberry32: a small seeded generator, so that a run (a fuzz case, a chaos run's faults) can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
