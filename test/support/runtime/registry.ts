// Test support: a real distribution registry (Debian's docker-registry) on a free port of loopback (or of an address
// the test gives, for nodes in other network namespaces).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRegistry {
  /** http://ADDRESS:PORT */
  url: string;
  /** ADDRESS:PORT (127.0.0.1 unless given) */
  host: string;
  /** The filesystem driver's root: blobs live under docker/registry/v2/blobs/sha256/xx/<hex>/data. */
  storage: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function pollUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface RegistryOptions {
  /** Serve another registry's storage (a second registry on the same blobs, e.g. one that asks for credentials). */
  storage?: string;
  /** An htpasswd file (bcrypt): the registry then answers 401 with a Basic challenge without credentials. */
  htpasswd?: string;
  /** The address it listens on (default 127.0.0.1). */
  address?: string;
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const address = opts.address ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'ketch-registry-'));
  const storage = opts.storage ?? join(dir, 'data');
  const port = await freePort();
  const host = `${address}:${port}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: error }',
      `storage: { filesystem: { rootdirectory: ${storage} }, delete: { enabled: true } }`,
      `http: { addr: "${host}" }`,
      ...(opts.htpasswd ? [`auth: { htpasswd: { realm: ketch-test, path: ${opts.htpasswd} } }`] : []),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://${host}`;
  try {
    await pollUntil('registry to answer /v2/', async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      const res = await fetch(`${url}/v2/`);
      return res.status === (opts.htpasswd ? 401 : 200) ? true : undefined;
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    host,
    storage,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
