// Runs the ketch CLI in-process against a real API server (embedded in-memory storage), capturing its output.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { startApiServer, type ApiServer } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/index.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { run } from '../../cli/main.js';
import type { Io } from '../../cli/io.js';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Harness {
  dir: string;
  server: ApiServer;
  kubeconfig: string;
  rest: RestClient;
  ketch(args: string[], opts?: { stdin?: string; signal?: AbortSignal; env?: NodeJS.ProcessEnv }): Promise<Result>;
  /** Starts a long-running command (get -w); read its output as it comes, abort to end it. */
  start(args: string[]): { output: () => string; stop: () => void; done: Promise<number> };
  close(): Promise<void>;
}

export class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

export async function startHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ketch-cli-'));
  const storage = new EmbeddedStorage({ path: ':memory:' });
  const server = await startApiServer({ dataDir: dir, securePort: 0, bindAddress: '127.0.0.1', storage });
  const kubeconfig = server.adminKubeconfigPath;
  const rest = new RestClient(loadClientConfig({ kubeconfig }));
  const io = (stdin?: string, env?: NodeJS.ProcessEnv): { io: Io; out: Sink; err: Sink } => {
    const out = new Sink();
    const err = new Sink();
    const input = stdin !== undefined ? Readable.from([Buffer.from(stdin)]) : new PassThrough();
    if (stdin === undefined) (input as PassThrough).end();
    return { io: { stdout: out, stderr: err, stdin: input, env: { ...process.env, ...env } }, out, err };
  };
  return {
    dir,
    server,
    kubeconfig,
    rest,
    async ketch(args, opts = {}) {
      const { io: i, out, err } = io(opts.stdin, opts.env);
      const code = await run(['--kubeconfig', kubeconfig, ...args], i);
      return { code, stdout: out.text, stderr: err.text };
    },
    start(args) {
      const { io: i, out, err } = io();
      const ac = new AbortController();
      const done = Promise.race([
        run(['--kubeconfig', kubeconfig, ...args], i),
        new Promise<number>((res) => ac.signal.addEventListener('abort', () => res(-1))),
      ]);
      return { output: () => out.text + err.text, stop: () => ac.abort(), done };
    },
    async close() {
      await server.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
