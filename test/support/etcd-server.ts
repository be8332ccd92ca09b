// Starts a real etcd server for tests and benchmarks: random free loopback ports, a temp data dir, stopped afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './util.js';

export interface EtcdServer {
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EtcdStartOptions {
  progressIntervalMs?: number;
  /** An existing member data dir (e.g. restored from a snapshot with --name test and this peer port); removed at stop. */
  dataDir?: string;
  peerPort?: number;
}

export async function startEtcd(opts: EtcdStartOptions = {}): Promise<EtcdServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ketch-etcd-'));
  const clientPort = await freePort();
  const peerPort = opts.peerPort ?? (await freePort());
  const endpoint = `http://127.0.0.1:${clientPort}`;
  let stderr = '';
  const proc: ChildProcess = spawn(
    'etcd',
    [
      '--name', 'test',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `test=http://127.0.0.1:${peerPort}`,
      // Room for a 1.5 MiB value plus the request's own framing (the store enforces 1.5 MiB itself).
      '--max-request-bytes', String(2 * 1024 * 1024),
      '--experimental-watch-progress-notify-interval', `${opts.progressIntervalMs ?? 1000}ms`,
      '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exited = false;
  proc.on('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`etcd exited at start: ${stderr}`);
      const res = await fetch(`${endpoint}/health`).catch(() => undefined);
      return res?.ok ?? false;
    },
    { timeoutMs: 20_000, what: 'etcd to answer /health' },
  );
  return {
    endpoint,
    dataDir,
    stop: async () => {
      if (!exited) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
