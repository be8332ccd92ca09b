// The components' flag tables (lib/flags.ts) as commander options, and the flags given on the command line read back
// by name for the component to read with readFlags(). Defaults print as pflag prints them: (default 15s).
import { Option, type Command } from 'commander';
import type { FlagInput, FlagSpec, FlagTable } from '../lib/flags.js';

function help(f: FlagSpec): string {
  if (f.default === undefined) return f.description;
  return `${f.description} (default ${f.kind === 'string' ? JSON.stringify(f.default) : f.default})`;
}

/** Adds a table's flags to cmd: a bool takes an optional value (--leader-elect=false), a repeated flag collects. */
export function addFlags(cmd: Command, table: FlagTable): Command {
  for (const f of table) {
    const opt = new Option(f.kind === 'bool' ? `${f.name} [bool]` : `${f.name} <${f.arg ?? 'value'}>`, help(f));
    if (f.kind === 'repeated') opt.argParser((v: string, prev: unknown) => [...(Array.isArray(prev) ? (prev as string[]) : []), v]);
    cmd.addOption(opt);
  }
  return cmd;
}

/** The flags given on cmd's command line, by name (a table's defaults are not filled in: readFlags does that). */
export function givenFlags(cmd: Command): FlagInput {
  const out: Record<string, string | string[]> = {};
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (!o.long || cmd.getOptionValueSource(key) !== 'cli') continue;
    const v: unknown = cmd.getOptionValue(key);
    // A bare bool is true; commander stores a bare --no-foo as foo=false, which is --no-foo given, so true too.
    if (typeof v === 'boolean') out[o.long] = String(o.negate ? !v : v);
    else if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[o.long] = v as string | string[];
  }
  return out;
}
