// What the benchmarks that drive a `ketch server` child process share: starting and stopping it, a pool of writers
// at a fixed concurrency, and polling for a state with a deadline.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/util.js';

export interface ServerProcess {
  kubeconfig: string;
  stop(): Promise<void>;
}

/**
 * `ketch server` (API server, embedded store in dataDir, controller manager; no scheduler) in a child process; resolves
 * with its admin kubeconfig once it serves. profileDir: a CPU profile of the server process is written there.
 */
export async function startServer(dataDir: string, profileDir?: string): Promise<ServerProcess> {
  const port = await freePort();
  const entry = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', entry, 'server', '--data-dir', dataDir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--disable-scheduler'],
    { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: process.env.KETCH_LOG_LEVEL ?? 'warn' } },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true; // what it logs while it shuts down is not the benchmark's business
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`ketch server exited with ${code}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (/ketch server is up/.test(line)) resolve({ kubeconfig: join(dataDir, 'admin.kubeconfig'), stop });
      else if (!stopping && !/^\s+(export|kubectl)/.test(line)) process.stderr.write(`[server] ${line}\n`);
    });
  });
}

/** Runs op(0..total-1) with at most `concurrency` in flight. */
export async function pool(total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) await op(next++);
    }),
  );
}

/** Polls check every 20 ms until it holds; returns performance.now() at that moment. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 600_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now();
}
