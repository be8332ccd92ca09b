// CronJob schedules as kube reads them (robfig/cron's ParseStandard): five fields, the @descriptors, `@every DURATION`,
// an optional TZ=/CRON_TZ= prefix; the field arithmetic is croner's. Shared by validation and the CronJob controller.
import { Cron } from 'croner';

export interface Schedule {
  /** The first activation strictly after `afterMs`, or undefined when there is none (e.g. February 31st). */
  next(afterMs: number): number | undefined;
}

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = /^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)$/i;
const WEEKDAYS = /^(sun|mon|tue|wed|thu|fri|sat)$/i;

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("90s", "1h30m") in milliseconds, for `@every`. */
function goDurationMs(text: string): number {
  const parts = text.match(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g);
  if (!parts || parts.join('') !== text) throw new Error(`time: invalid duration "${text}"`);
  return parts.reduce((sum, p) => {
    const [, n, unit] = /^(\d+(?:\.\d+)?)(\D+)$/.exec(p) ?? [];
    return sum + Number(n) * (GO_UNITS[unit ?? ''] ?? NaN);
  }, 0);
}

/** Whether `tz` names a time zone the runtime knows (as Go's time.LoadLocation would load it). */
export function isKnownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false; // RangeError: the zone is unknown
  }
}

/** True when the schedule names its own zone (TZ= or CRON_TZ=), which kube forbids beside spec.timeZone. */
export const scheduleHasTimeZone = (schedule: string): boolean => schedule.includes('TZ');

/**
 * Parses a schedule in `timeZone` (undefined: the process's zone). Throws an Error with robfig/cron's wording when the
 * schedule is not valid.
 */
export function parseSchedule(schedule: string, timeZone?: string): Schedule {
  let spec = schedule.trim();
  let zone = timeZone;
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const space = spec.indexOf(' ');
    const name = spec.slice(spec.indexOf('=') + 1, space < 0 ? undefined : space);
    if (!isKnownTimeZone(name)) throw new Error(`provided bad location ${name}: unknown time zone ${name}`);
    zone = name;
    spec = space < 0 ? '' : spec.slice(space).trim();
  }
  if (spec === '') throw new Error('empty spec string');
  if (spec.startsWith('@every ')) {
    const ms = goDurationMs(spec.slice('@every '.length).trim());
    // robfig: at least one second, in whole seconds, counted from the last activation's whole second.
    const delay = Math.max(1000, ms - (ms % 1000));
    return { next: (after) => after - (((after % 1000) + 1000) % 1000) + delay };
  }
  if (spec.startsWith('@')) {
    const expanded = DESCRIPTORS[spec];
    if (!expanded) throw new Error(`unrecognized descriptor: ${spec}`);
    spec = expanded;
  }
  const fields = spec.split(/\s+/);
  if (fields.length !== 5) throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  // croner knows more than robfig/cron (L, W, #): keep to what kube accepts.
  fields.forEach((f, i) => {
    for (const token of f.split(/[,/-]/)) {
      const named = (i === 3 && MONTHS.test(token)) || (i === 4 && WEEKDAYS.test(token));
      if (token !== '*' && token !== '?' && !/^\d+$/.test(token) && !named) throw new Error(`failed to parse int from ${token}: strconv.Atoi: parsing "${token}": invalid syntax`);
    }
  });
  let cron: Cron;
  try {
    cron = new Cron(spec, { paused: true, mode: '5-part', ...(zone ? { timezone: zone } : {}) });
  } catch (err) {
    throw new Error((err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, ''));
  }
  return { next: (after) => cron.nextRun(new Date(after))?.getTime() };
}

/** The schedule's time zone offset applied to an instant, as RFC 3339 with offset (Go's time.Format(RFC3339) in a location). */
export function formatInZone(ms: number, timeZone?: string): string {
  if (!timeZone || timeZone === 'UTC' || timeZone === 'Etc/UTC') return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offsetMin = Math.round((local - Math.floor(ms / 1000) * 1000) / 60_000);
  if (offsetMin === 0) return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}Z`;
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const off = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${off}`;
}
