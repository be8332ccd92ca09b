// The one logger module: winston, JSON in production (or KETCH_LOG_FORMAT=json), readable on a terminal; the CLI's
// --logging-format and -v set format and level (configureLogging) as kube components' flags do.
import winston from 'winston';

export type Logger = winston.Logger;

const SECRET_KEYS = /token|password|secret|authorization|key$|cert/i;

/** Replaces values of fields whose names look secret, so no credential reaches a log line. */
const redact = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k !== 'message' && k !== 'level' && SECRET_KEYS.test(k) && typeof info[k] === 'string') info[k] = '[redacted]';
  }
  return info;
});

function pickFormat(): winston.Logform.Format {
  const json = process.env.KETCH_LOG_FORMAT === 'json' || (process.env.KETCH_LOG_FORMAT !== 'text' && !process.stderr.isTTY);
  return json
    ? winston.format.combine(redact(), winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
        redact(),
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.colorize(),
        winston.format.printf(({ level, message, timestamp, component, ...rest }) => {
          const fields = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
          return `${String(timestamp)} ${level} [${String(component ?? 'ketch')}] ${String(message)}${fields}`;
        }),
      );
}

export const rootLogger: Logger = winston.createLogger({
  level: process.env.KETCH_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
  format: pickFormat(),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
});

// winston runs the formats (redaction, timestamp, JSON) before its transports drop a line below their level, so a
// debug line costs tens of microseconds even when debug is off. The level methods check the level first; child
// loggers inherit them.
for (const level of Object.keys(rootLogger.levels)) {
  const method = (rootLogger as unknown as Record<string, (...args: unknown[]) => Logger>)[level];
  if (typeof method !== 'function') continue;
  (rootLogger as unknown as Record<string, unknown>)[level] = function (this: Logger, ...args: unknown[]): Logger {
    return this.isLevelEnabled(level) ? method.apply(this, args) : this;
  };
}

export type LogFormat = 'text' | 'json';

/** klog's -v on winston's levels: 0-1 info (what kube components log by default), 2-3 verbose, 4 and more debug. */
export function levelForVerbosity(v: number): string {
  return v >= 4 ? 'debug' : v >= 2 ? 'verbose' : 'info';
}

/**
 * Sets the format and the detail of every logger (children included: they write through the root). The environment
 * carries both on to child processes (the runtime service), which read it at start.
 */
export function configureLogging(opts: { format?: LogFormat; verbosity?: number }): void {
  if (opts.format) {
    process.env.KETCH_LOG_FORMAT = opts.format;
    rootLogger.format = pickFormat();
  }
  if (opts.verbosity !== undefined) {
    const level = levelForVerbosity(opts.verbosity);
    process.env.KETCH_LOG_LEVEL = level;
    rootLogger.level = level;
  }
}

/** A child logger for one component: every line carries {component}. */
export function logger(component: string, fields: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}
