// Flag parsing shared by several verbs: --dry-run, durations (--timeout=30s), booleans given as strings.
import { parseDuration as goDuration } from '../lib/duration.js';
import { parseBool as goBool } from '../lib/flags.js';
import { CliError } from './errors.js';

export type DryRun = 'none' | 'client' | 'server';

export function parseDryRun(v: string | boolean | undefined): DryRun {
  if (v === undefined || v === false || v === 'none' || v === 'false') return 'none';
  if (v === true || v === 'client' || v === 'true') return 'client';
  if (v === 'server') return 'server';
  throw new CliError(`Invalid dry-run value (${String(v)}). Must be "none", "server", or "client".`);
}

/** The suffix kubectl adds to its messages in dry-run mode. */
export const dryRunSuffix = (d: DryRun): string => (d === 'client' ? ' (dry run)' : d === 'server' ? ' (server dry run)' : '');

/** A Go duration flag (--timeout=30s) in milliseconds; as kubectl's --request-timeout, a bare number is seconds. */
export function parseDuration(v: string, flag = '--timeout'): number {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  try {
    return goDuration(v);
  } catch (err) {
    throw new CliError(`invalid argument "${v}" for "${flag}" flag: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A boolean flag's value (given as a string by --flag=VALUE), dflt when absent. */
export function parseBool(v: string | boolean | undefined, dflt: boolean, flag: string): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  try {
    return goBool(v, flag);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}
