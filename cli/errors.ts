// CLI errors and how they print: `Error from server (Reason): ...` for API errors, `error: ...` otherwise, as kubectl.
import { ApiError } from '../api/errors.js';
import { KubeconfigError } from '../client/kubeconfig.js';

/** A failure of the command itself (bad flags, timeouts); exits with code (1 unless said). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The error already printed (e.g. an exec'd command's exit status): just exit with the code. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(readonly exitCode: number) {
    super(`exit code ${exitCode}`);
  }
}

export function formatError(e: unknown, server?: string): string {
  if (e instanceof ApiError) {
    if (e.reason) return `Error from server (${e.reason}): ${e.message}`;
    return `Error from server: ${e.message}`;
  }
  if (e instanceof CliError || e instanceof KubeconfigError) return `error: ${e.message}`;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED' && server) {
    const host = new URL(server).host;
    return `The connection to the server ${host} was refused - did you specify the right host or port?`;
  }
  if (code === 'ENOTFOUND' && server) return `Unable to connect to the server: dial tcp: lookup ${new URL(server).hostname}: no such host`;
  if (e instanceof Error) return `error: ${e.message}`;
  return `error: ${String(e)}`;
}
