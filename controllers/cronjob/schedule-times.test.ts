import assert from 'node:assert/strict';
import { parseSchedule } from '../../api/schedule.js';
import type { CronJob } from '../job/types.js';
import { cachedSchedule, dueScheduleTime, jobNameFor, knownTimeZone, mostRecentScheduleTime, NEXT_SCHEDULE_DELTA_MS, nextScheduleDelay, rfc1123z } from './schedule-times.js';

const at = (s: string): number => Date.parse(s);
const cj = (created: string, last?: string, startingDeadlineSeconds?: number): CronJob => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'cj', creationTimestamp: created },
  spec: { schedule: '', jobTemplate: {}, ...(startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds } : {}) },
  status: last ? { lastScheduleTime: last } : {},
});
const everyMinute = parseSchedule('* * * * *', 'UTC');
const hourly = parseSchedule('0 * * * *', 'UTC');

describe('cron missed-schedule computation', () => {
  it('finds nothing due before the first time, the one time when one passed', () => {
    assert.deepEqual(mostRecentScheduleTime(cj('2024-01-01T00:00:30Z'), at('2024-01-01T00:00:59Z'), everyMinute, true), { earliest: at('2024-01-01T00:00:30Z'), missed: 'none' });
    assert.equal(dueScheduleTime(cj('2024-01-01T00:00:30Z'), at('2024-01-01T00:01:10Z'), everyMinute).time, at('2024-01-01T00:01:00Z'));
  });
  it('after missed runs, returns only the latest (one catch-up)', () => {
    const r = mostRecentScheduleTime(cj('2024-01-01T00:00:00Z', '2024-01-01T03:00:00Z'), at('2024-01-01T08:20:00Z'), hourly, true);
    assert.equal(r.mostRecent, at('2024-01-01T08:00:00Z'));
    assert.equal(r.missed, 'few');
  });
  it('flags more than 100 missed times but still returns the latest, without walking them all', () => {
    const r = dueScheduleTime(cj('2000-01-01T00:00:00Z'), at('2024-01-01T00:00:30Z'), everyMinute);
    assert.equal(r.time, at('2024-01-01T00:00:00Z'));
    assert.equal(r.tooManyMissed, true);
  });
  it('looks back no further than startingDeadlineSeconds', () => {
    const c = cj('2024-01-01T00:00:00Z', undefined, 200);
    assert.equal(dueScheduleTime(c, at('2024-01-01T05:30:00Z'), hourly).time, undefined);
    assert.equal(dueScheduleTime(c, at('2024-01-01T05:02:00Z'), hourly).time, at('2024-01-01T05:00:00Z'));
    assert.equal(dueScheduleTime(c, at('2024-01-01T05:02:00Z'), hourly).tooManyMissed, false);
  });
  it('reports a schedule that never fires', () => {
    assert.match(dueScheduleTime(cj('2024-01-01T00:00:00Z'), at('2024-06-01T00:00:00Z'), parseSchedule('0 0 30 2 *', 'UTC')).error ?? '', /less than 1 second/);
  });
  it('requeues just after the next time', () => {
    assert.equal(nextScheduleDelay(cj('2024-01-01T00:00:30Z'), at('2024-01-01T00:00:40Z'), everyMinute), 20_000 + NEXT_SCHEDULE_DELTA_MS);
    assert.equal(nextScheduleDelay(cj('2024-01-01T00:00:00Z', '2024-01-01T05:00:00Z'), at('2024-01-01T05:10:00Z'), hourly), 50 * 60_000 + NEXT_SCHEDULE_DELTA_MS);
  });
  it('parses a schedule once per schedule and zone, with the same times as parseSchedule, and throws as it does', () => {
    const a = cachedSchedule('30 9 * * 1-5', 'America/New_York');
    assert.equal(cachedSchedule('30 9 * * 1-5', 'America/New_York'), a, 'the same schedule object');
    assert.notEqual(cachedSchedule('30 9 * * 1-5', 'Europe/Paris'), a, 'another zone, another schedule');
    const fresh = parseSchedule('30 9 * * 1-5', 'America/New_York');
    for (const t of ['2024-03-08T20:00:00Z', '2024-03-10T06:59:59Z', '2024-11-01T13:30:00Z', '2024-11-01T13:30:00Z']) assert.equal(a.next(at(t)), fresh.next(at(t)), t);
    assert.throws(() => cachedSchedule('61 * * * *', 'UTC'), /minute/);
    assert.equal(knownTimeZone('Europe/Paris'), true);
    assert.equal(knownTimeZone('Europe/Atlantis'), false);
  });
  it('names Jobs by the minute and prints times as RFC 1123Z', () => {
    assert.equal(jobNameFor(cj('2024-01-01T00:00:00Z'), at('2024-01-01T00:01:00Z')), `cj-${at('2024-01-01T00:01:00Z') / 60_000}`);
    assert.equal(rfc1123z(at('2024-01-02T03:04:05Z')), 'Tue, 02 Jan 2024 03:04:05 +0000');
  });
});
