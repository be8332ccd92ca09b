// The streams a command reads and writes: the process's by default, buffers in tests.
import type { Readable, Writable } from 'node:stream';

export interface Io {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  env: NodeJS.ProcessEnv;
}

export const processIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });

/** Writes text to stdout, adding a newline unless it ends in one. */
export function out(io: Io, text: string): void {
  io.stdout.write(text.endsWith('\n') || text === '' ? text : text + '\n');
}

export function err(io: Io, text: string): void {
  io.stderr.write(text.endsWith('\n') || text === '' ? text : text + '\n');
}

/** ANSI colour, only when the stream is a terminal and NO_COLOR is unset. */
export function colours(io: Io, stream: 'stdout' | 'stderr' = 'stdout'): Record<'red' | 'green' | 'yellow' | 'bold' | 'dim', (s: string) => string> {
  const on = !!io[stream].isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  const wrap = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), bold: wrap(1, 22), dim: wrap(2, 22) };
}
