// Durations: Go's time.ParseDuration (every duration flag and config field) and kubectl's HumanDuration (ages in
// tables), shared by the API server, the components and the CLI.

/** A string that is not a Go duration; the message is Go's (`time: invalid duration "5x"`). */
export class DurationError extends Error {
  override name = 'DurationError';
}

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Go's time.ParseDuration, in milliseconds: an optional sign, then one or more decimal numbers each with a unit
 * (ns, us, µs, ms, s, m, h), e.g. "300ms", "-1.5h", "2h45m"; "0" alone needs no unit.
 */
export function parseDuration(s: string): number {
  const m = /^([-+]?)(.*)$/s.exec(s)!;
  const body = m[2]!;
  if (body === '0') return 0;
  if (body === '') throw new DurationError(`time: invalid duration ${JSON.stringify(s)}`);
  const re = /(\d+\.?\d*|\.\d+)([^\d.]*)/gy;
  let total = 0;
  let end = 0;
  for (let part = re.exec(body); part; part = re.exec(body)) {
    const unit = part[2]!;
    if (unit === '') throw new DurationError(`time: missing unit in duration ${JSON.stringify(s)}`);
    const ms = UNIT_MS[unit];
    if (ms === undefined) throw new DurationError(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(s)}`);
    total += Number(part[1]) * ms;
    end = re.lastIndex;
  }
  if (end !== body.length) throw new DurationError(`time: invalid duration ${JSON.stringify(s)}`);
  return m[1] === '-' ? -total : total;
}

/** kubectl's HumanDuration: 0s..119s, 2m..9m59s, 10m..2h59m, 3h..7h59m, 8h..47h, 2d..7d23h, 8d..2y, then years. */
export function humanDuration(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 192) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  if (d < 365 * 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

/** The age of an RFC 3339 timestamp at `nowMs`, or <unknown>. */
export function age(ts: unknown, nowMs = Date.now()): string {
  if (typeof ts !== 'string') return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(nowMs - t);
}
