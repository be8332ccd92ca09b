// Component flags, declared one way: each component keeps a table of FlagSpecs (Kubernetes' names and defaults where
// they exist), the CLI turns a table into options of its command parser, and the component reads the values given
// back through readFlags(), which fills in the defaults and parses each kind. parseFlagArgs() reads raw argv
// against a table (for running a component without the CLI, and for tests).
import { parseDuration } from './duration.js';
import { parseCIDR } from './ipv4.js';

export type FlagKind =
  /** --flag VALUE */
  | 'string'
  /** --flag, --flag=true|false (Go's strconv.ParseBool spellings) */
  | 'bool'
  /** a whole number, 0 or more */
  | 'int'
  /** a Go duration, read in milliseconds */
  | 'duration'
  /** comma-separated values */
  | 'list'
  /** may be given more than once; every value is kept */
  | 'repeated';

export interface FlagSpec {
  /** e.g. '--node-monitor-grace-period' */
  name: `--${string}`;
  kind: FlagKind;
  description: string;
  /** The value when the flag is not given. */
  default?: string;
  /** The value's placeholder in help, e.g. 'file' for `--kubeconfig <file>`; default 'value'. */
  arg?: string;
}

export type FlagTable = readonly FlagSpec[];

/** The flags given on a command line, by name: a string each, every value of a repeated flag. */
export type FlagInput = Readonly<Record<string, string | readonly string[]>>;

export class FlagError extends Error {
  override name = 'FlagError';
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool. */
export function parseBool(v: string, flag: string): boolean {
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new FlagError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

/** Reads `--flag=value`, `--flag value` and a bare `--bool`; an unknown flag or a missing value is an error. */
export function parseFlagArgs(table: FlagTable, argv: readonly string[]): FlagInput {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = table.find((f) => f.name === name);
    if (!spec) throw new FlagError(`unknown flag: ${name}`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool') value = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) throw new FlagError(`flag needs an argument: ${name}`);
      value = next;
    }
    const prev = out[name];
    out[name] = spec.kind === 'repeated' ? [...(Array.isArray(prev) ? prev : []), value] : value;
  }
  return out;
}

/**
 * Typed values of a table's flags: the value given, else the table's default. A flag with neither reads as absent
 * (optional(), list(), repeated(); bool() is false) or is an error (string(), int(), durationMs()).
 */
export class Flags {
  constructor(
    private readonly table: FlagTable,
    private readonly input: FlagInput,
  ) {}

  /** Whether the flag was given (rather than defaulted). */
  given(name: string): boolean {
    return this.input[name] !== undefined;
  }

  /** The value, or undefined when the flag has neither a value nor a default. */
  optional(name: string): string | undefined {
    const v = this.raw(name);
    return Array.isArray(v) ? v.join(',') : (v as string | undefined);
  }

  string(name: string): string {
    const v = this.optional(name);
    if (v === undefined) throw new FlagError(`flag ${name} has no value`);
    return v;
  }

  bool(name: string): boolean {
    const v = this.optional(name);
    return v === undefined ? false : parseBool(v, name);
  }

  int(name: string): number {
    const v = this.string(name);
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new FlagError(`invalid argument "${v}" for "${name}" flag: want a whole number, 0 or more`);
    return n;
  }

  durationMs(name: string): number {
    const v = this.string(name);
    try {
      return parseDuration(v);
    } catch (err) {
      throw new FlagError(`invalid argument "${v}" for "${name}" flag: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** An IPv4 CIDR, checked; with a prefix from minPrefix to maxPrefix. */
  cidr(name: string, minPrefix = 0, maxPrefix = 32): string {
    const v = this.string(name);
    let prefix: number;
    try {
      prefix = parseCIDR(v).prefix;
    } catch (err) {
      throw new FlagError(`invalid argument "${v}" for "${name}" flag: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (prefix < minPrefix || prefix > maxPrefix) throw new FlagError(`invalid argument "${v}" for "${name}" flag: want a prefix from /${minPrefix} to /${maxPrefix}`);
    return v;
  }

  /** A comma-separated list, blanks dropped. */
  list(name: string): string[] {
    return (this.optional(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  }

  /** Every value of a repeatable flag. */
  repeated(name: string): string[] {
    const v = this.raw(name);
    return v === undefined ? [] : typeof v === 'string' ? [v] : [...v];
  }

  private raw(name: string): string | readonly string[] | undefined {
    const spec = this.table.find((f) => f.name === name);
    if (!spec) throw new Error(`no flag ${name} in this table`);
    return this.input[name] ?? spec.default;
  }
}

export function readFlags(table: FlagTable, input: FlagInput): Flags {
  return new Flags(table, input);
}

/** A copy of table with other defaults (e.g. `ketch up`'s --data-dir) and without the flags named in `omit`. */
export function adjustFlags(table: FlagTable, defaults: Readonly<Record<string, string>> = {}, omit: readonly string[] = []): FlagTable {
  return table.filter((f) => !omit.includes(f.name)).map((f) => (defaults[f.name] !== undefined ? { ...f, default: defaults[f.name] } : f));
}
