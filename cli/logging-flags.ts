// The logging flags every ketch command takes, as kube components do: --logging-format text|json and -v/--v=N.
import type { LogFormat } from '../lib/logger.js';

export interface LoggingFlags {
  format?: LogFormat;
  verbosity?: number;
}

/** Help text for the flags (commander does not parse them: extractLoggingFlags takes them out first). */
export const LOGGING_FLAGS_HELP = [
  ['--logging-format <format>', 'log format: text (readable, the default on a terminal) or json (the default otherwise)'],
  ['-v, --v <level>', 'log detail, as klog: 0-1 info, 2-3 verbose, 4 and more debug'],
] as const;

const FORMATS: readonly string[] = ['text', 'json'];

/**
 * Takes the logging flags out of a command line, wherever they stand. `-v` counts only with a number (`-v 4`, `-v=4`):
 * `ketch compose down -v` keeps its own -v (volumes).
 */
export function extractLoggingFlags(argv: string[]): { argv: string[]; flags: LoggingFlags } {
  const rest: string[] = [];
  const flags: LoggingFlags = {};
  const verbosity = (value: string, flag: string): number => {
    if (!/^\d+$/.test(value)) throw new Error(`${flag} wants a number (0-10), got "${value}"`);
    return Number(value);
  };
  const format = (value: string | undefined): LogFormat => {
    if (value === undefined || !FORMATS.includes(value)) throw new Error(`--logging-format wants text or json, got "${value ?? ''}"`);
    return value as LogFormat;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const eq = /^(--logging-format|--v|-v)=(.*)$/.exec(a);
    if (eq) {
      if (eq[1] === '--logging-format') flags.format = format(eq[2]);
      else flags.verbosity = verbosity(eq[2]!, eq[1]!);
    } else if (a === '--logging-format') {
      flags.format = format(argv[++i]);
    } else if (a === '--v' || (a === '-v' && /^\d+$/.test(argv[i + 1] ?? ''))) {
      flags.verbosity = verbosity(argv[++i] ?? '', a);
    } else {
      rest.push(a);
    }
  }
  return { argv: rest, flags };
}
