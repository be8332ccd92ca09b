// Flag parsing shared by several verbs: --dry-run, durations (--timeout=30s), booleans given as strings.
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

/** Go-style durations: 30s, 5m, 1h30m, 500ms; a bare number is seconds. */
export function parseDuration(v: string, flag = '--timeout'): number {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s|us|µs|ns)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(v))) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : m[2] === 'ms' ? n : n / 1000;
    end = re.lastIndex;
  }
  if (!v || end !== v.length) throw new CliError(`invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
  return total;
}

export function parseBool(v: string | boolean | undefined, dflt: boolean, flag: string): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(v)) return true;
  if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(v)) return false;
  throw new CliError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}
