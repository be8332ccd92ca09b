// Compose's value forms as Kubernetes wants them: durations, byte sizes, CPU counts, shell-split commands, names.
import { parseDuration } from '../../lib/duration.js';
import { ComposeError } from './load.js';

/** Whole seconds of a Compose duration ("1m30s", "10s"), at least `min`. */
export function seconds(v: unknown, where: string, min = 0): number {
  try {
    return Math.max(min, Math.ceil(parseDuration(String(v)) / 1000));
  } catch {
    throw new ComposeError(`${where}: "${String(v)}" is not a duration (e.g. 10s, 1m30s)`);
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** A Compose byte size (1024, "512m", "1g", "100k") as a Kubernetes quantity (512Mi, 1Gi, 100Ki or bytes). */
export function quantity(v: unknown, where: string): string {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(String(v).trim());
  const unit = SIZE_UNITS[(m?.[2] ?? 'x').toLowerCase()];
  if (!m || unit === undefined) throw new ComposeError(`${where}: "${String(v)}" is not a byte size (e.g. 512m, 1g)`);
  const bytes = Math.round(Number(m[1]) * unit);
  for (const [suffix, n] of [['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${suffix}`;
  }
  return String(bytes);
}

/** CPUs (0.5, "1.5") as millicores. */
export function cpuQuantity(v: unknown, where: string): string {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ComposeError(`${where}: "${String(v)}" is not a number of CPUs`);
  return `${Math.round(n * 1000)}m`;
}

/** Splits a command string as Compose does (shell words: quotes and backslashes, no expansion). */
export function shellSplit(s: string, where: string): string[] {
  const out: string[] = [];
  let cur = '';
  let word = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && (s[i + 1] === '"' || s[i + 1] === '\\')) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      word = true;
    } else if (/\s/.test(c)) {
      if (word) out.push(cur);
      cur = '';
      word = false;
    } else {
      cur += c;
      word = true;
    }
  }
  if (quote) throw new ComposeError(`${where}: unterminated quote in "${s}"`);
  if (word) out.push(cur);
  return out;
}

/** A command or entrypoint: a list as is, a string shell-split. */
export function commandList(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  return shellSplit(String(v), where);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A name that must be a DNS label (services, volumes, configs), refused with the reason when it is not one. */
export function dnsName(name: string, what: string): string {
  if (name.length > 63 || !DNS_LABEL.test(name)) {
    throw new ComposeError(`${what} "${name}" cannot be a cluster object name and DNS name: use lowercase letters, digits and '-' (at most 63)`);
  }
  return name;
}

/** An object name from a Compose name: lowercase, '_' and '.' as '-' (volumes, configs, secrets; never DNS names). */
export function objectName(name: string, what: string): string {
  return dnsName(name.toLowerCase().replace(/[_.]/g, '-'), what);
}

/** Octal file modes as Compose writes them (0440, "0440", 288). */
export function fileMode(v: unknown, where: string): number {
  const s = String(v);
  if (/^0[0-7]{1,4}$/.test(s)) return parseInt(s, 8);
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new ComposeError(`${where}: "${s}" is not a file mode`);
  // YAML 1.2 reads 0440 as the decimal 440 (Compose's parser reads it as octal): three or four digits 0-7 are octal.
  if (/^[0-7]{3,4}$/.test(s)) return parseInt(s, 8);
  return n;
}
