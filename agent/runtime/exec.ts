// Runs a host command (runc, ip, mount, ...) and collects its output; failure is an error naming the command.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`${command} failed (${result.signal ?? `exit ${result.code}`}): ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string;
  cwd?: string;
  /** Resolve with the result instead of throwing when the command fails. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const result: RunResult = { code: code ?? -1, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (result.code !== 0 && !opts.allowFailure) reject(new CommandError(`${cmd} ${args.slice(0, 3).join(' ')}`, result));
      else resolve(result);
    });
    // A command that exits without reading its input closes the pipe (EPIPE): its exit status tells the outcome.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
