// When a CronJob is due (kube's cronjob/utils.go): the most recent missed schedule time since the last one (or the
// CronJob's creation), counted cheaply so that a controller down for years does no work per missed run, and at most
// that one run is made up for.
import { isKnownTimeZone, parseSchedule, type Schedule } from '../../api/schedule.js';
import type { CronJob } from '../job/types.js';

/** Past this many missed times the controller says so (event TooManyMissedTimes), and still runs the latest. */
export const TOO_MANY_MISSED = 100;
/**
 * Requeues land this long after the schedule time. kube waits 100 ms, in case its timer fires before its clock reads
 * the time; here the timer is the injected clock's own, and a sync woken early finds nothing due and is requeued for
 * the rest, so 1 ms does: every ms added is a ms of job creation skew for every CronJob.
 */
export const NEXT_SCHEDULE_DELTA_MS = 1;

export type Missed = 'none' | 'few' | 'many';

export interface RecentSchedule {
  /** The last schedule time, or the creation time (moved up to now - startingDeadlineSeconds when asked). */
  earliest: number;
  /** The latest schedule time in (earliest, now], if any. */
  mostRecent?: number;
  missed: Missed;
  /** A schedule that parses but never fires twice a second apart (e.g. February 31st). */
  error?: string;
}

const NO_INTERVAL = 'time difference between two schedules is less than 1 second';

export function mostRecentScheduleTime(cj: CronJob, now: number, sched: Schedule, includeStartingDeadline: boolean): RecentSchedule {
  let earliest = Date.parse(cj.status?.lastScheduleTime ?? cj.metadata.creationTimestamp ?? '');
  if (Number.isNaN(earliest)) earliest = now;
  const sds = cj.spec.startingDeadlineSeconds;
  if (includeStartingDeadline && sds !== undefined) earliest = Math.max(earliest, now - sds * 1000);
  const t1 = sched.next(earliest);
  if (t1 === undefined) return { earliest, missed: 'none', error: NO_INTERVAL };
  if (now < t1) return { earliest, missed: 'none' };
  const t2 = sched.next(t1);
  if (t2 === undefined) return { earliest, missed: 'none', error: NO_INTERVAL };
  if (now < t2) return { earliest, mostRecent: t1, missed: 'none' };
  const between = Math.round((t2 - t1) / 1000);
  if (between < 1) return { earliest, missed: 'none', error: NO_INTERVAL };
  // How many runs were missed, roughly (the first interval taken as typical), then the exact latest from just before.
  const missedRuns = Math.floor(Math.floor((now - t1) / 1000) / between) + 1;
  const from = t1 + (missedRuns - 2) * between * 1000;
  let mostRecent: number | undefined;
  for (let t = sched.next(from); t !== undefined && t <= now; t = sched.next(t)) mostRecent = t;
  const missed: Missed = missedRuns > TOO_MANY_MISSED ? 'many' : 'few';
  return mostRecent === undefined ? { earliest, missed } : { earliest, mostRecent, missed };
}

/** How long until the sync after the next schedule time (plus the skew margin). */
export function nextScheduleDelay(cj: CronJob, now: number, sched: Schedule): number | undefined {
  const r = mostRecentScheduleTime(cj, now, sched, false);
  let from: number;
  if (r.error) from = now;
  else if (r.mostRecent !== undefined) from = r.mostRecent;
  else from = r.missed === 'none' ? r.earliest : now;
  const next = sched.next(from);
  return next === undefined ? undefined : next + NEXT_SCHEDULE_DELTA_MS - now;
}

/** The schedule time to run now, if one is due (within startingDeadlineSeconds), and whether too many were missed. */
export function dueScheduleTime(cj: CronJob, now: number, sched: Schedule): { time?: number; tooManyMissed: boolean; error?: string } {
  const r = mostRecentScheduleTime(cj, now, sched, true);
  const base = r.error ? { tooManyMissed: false, error: r.error } : { tooManyMissed: false };
  if (r.mostRecent === undefined || r.mostRecent > now) return base;
  return { ...base, time: r.mostRecent, tooManyMissed: r.missed === 'many' };
}

/** Jobs of a CronJob are named by their schedule time in minutes, so that a time is never run twice. */
export const jobNameFor = (cj: CronJob, scheduledMs: number): string => `${cj.metadata.name ?? ''}-${Math.floor(scheduledMs / 60_000)}`;

/** Go's time.RFC1123Z in UTC, as kube's MissSchedule event prints the time. */
export function rfc1123z(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Parsed schedules and zone look-ups remembered (oldest forgotten first). */
const MAX_CACHED = 1024;
/** next() results remembered per schedule: a sync asks for the same few times, and CronJobs sharing a schedule too. */
const MAX_NEXT_CACHED = 64;
const schedules = new Map<string, Schedule>();
const zones = new Map<string, boolean>();

function remember<K, V>(m: Map<K, V>, k: K, v: V, max: number): V {
  m.set(k, v);
  if (m.size > max) m.delete(m.keys().next().value as K);
  return v;
}

/**
 * parseSchedule, parsed once per schedule and zone, with next() remembered: a due minute syncs every CronJob several
 * times (its Job's creation, its status, the Job's status), and parsing plus a zoned next() cost ~0.2-0.4 ms each.
 * Throws as parseSchedule does (a bad schedule is not remembered).
 */
export function cachedSchedule(schedule: string, timeZone: string | undefined): Schedule {
  const key = `${schedule}\u0000${timeZone ?? ''}`;
  const hit = schedules.get(key);
  if (hit) return hit;
  const parsed = parseSchedule(schedule, timeZone);
  const results = new Map<number, number | undefined>();
  const next = (after: number): number | undefined => {
    if (results.has(after)) return results.get(after);
    return remember(results, after, parsed.next(after), MAX_NEXT_CACHED);
  };
  return remember(schedules, key, { next }, MAX_CACHED);
}

/** isKnownTimeZone, asked once per zone (the zone database does not change while the process runs). */
export function knownTimeZone(tz: string): boolean {
  const hit = zones.get(tz);
  return hit ?? remember(zones, tz, isKnownTimeZone(tz), MAX_CACHED);
}
