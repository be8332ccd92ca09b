import assert from 'node:assert/strict';
import { formatInZone, isKnownTimeZone, parseSchedule } from './schedule.js';

const at = (s: string): number => Date.parse(s);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('cron schedules', () => {
  it('finds the next time strictly after a given one, in the given zone', () => {
    assert.equal(iso(parseSchedule('*/15 * * * *', 'UTC').next(at('2024-01-01T00:00:00Z'))), '2024-01-01T00:15:00.000Z');
    assert.equal(iso(parseSchedule('0 9 * * 1-5', 'UTC').next(at('2024-01-06T00:00:00Z'))), '2024-01-08T09:00:00.000Z', 'a Saturday skips to Monday');
    assert.equal(iso(parseSchedule('0 9 * * *', 'America/New_York').next(at('2024-01-01T00:00:00Z'))), '2024-01-01T14:00:00.000Z');
    assert.equal(iso(parseSchedule('TZ=Asia/Tokyo 0 0 * * *').next(at('2024-01-01T00:00:00Z'))), '2024-01-01T15:00:00.000Z');
  });
  it('knows the descriptors and @every', () => {
    assert.equal(iso(parseSchedule('@hourly', 'UTC').next(at('2024-01-01T00:30:00Z'))), '2024-01-01T01:00:00.000Z');
    assert.equal(iso(parseSchedule('@weekly', 'UTC').next(at('2024-01-01T00:00:00Z'))), '2024-01-07T00:00:00.000Z');
    assert.equal(iso(parseSchedule('@every 1h30m').next(at('2024-01-01T00:00:00.500Z'))), '2024-01-01T01:30:00.000Z');
  });
  it('returns no time for a schedule that never fires', () => {
    assert.equal(parseSchedule('0 0 31 2 *', 'UTC').next(at('2024-01-01T00:00:00Z')), undefined);
  });
  it('refuses what robfig/cron\'s ParseStandard refuses, with its wording', () => {
    assert.throws(() => parseSchedule('* * * * * *'), /expected exactly 5 fields, found 6/);
    assert.throws(() => parseSchedule('@fortnightly'), /unrecognized descriptor: @fortnightly/);
    assert.throws(() => parseSchedule('61 * * * *'), /minute/);
    assert.throws(() => parseSchedule(''), /empty spec string/);
    assert.throws(() => parseSchedule('TZ=Mars/Olympus * * * * *'), /provided bad location Mars\/Olympus/);
    assert.throws(() => parseSchedule('@every 5 minutes'), /invalid duration/);
    assert.throws(() => parseSchedule('0 0 L * *'), /failed to parse int from L/);
    assert.throws(() => parseSchedule('0 0 * * 5#3'), /failed to parse int from 5#3/);
    assert.doesNotThrow(() => parseSchedule('0 0 1-15/2 JAN,jul mon-FRI'));
  });
  it('knows IANA zones and formats times in them as RFC 3339 with the offset', () => {
    assert.equal(isKnownTimeZone('Europe/Paris'), true);
    assert.equal(isKnownTimeZone('Europe/Atlantis'), false);
    assert.equal(formatInZone(at('2024-07-01T12:00:00Z'), 'Europe/Paris'), '2024-07-01T14:00:00+02:00');
    assert.equal(formatInZone(at('2024-01-01T12:00:00Z'), 'America/New_York'), '2024-01-01T07:00:00-05:00');
    assert.equal(formatInZone(at('2024-01-01T12:00:00Z'), 'Europe/London'), '2024-01-01T12:00:00Z');
    assert.equal(formatInZone(at('2024-01-01T12:00:00Z')), '2024-01-01T12:00:00Z');
  });
});
