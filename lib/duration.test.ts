import assert from 'node:assert/strict';
import { age, DurationError, humanDuration, parseDuration } from './duration.js';

describe('durations', () => {
  it('parses Go durations into milliseconds', () => {
    assert.equal(parseDuration('40s'), 40_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('300ms'), 300);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('2h45m0.5s'), 9_900_500);
    assert.equal(parseDuration('1500us'), 1.5);
    assert.equal(parseDuration('1500µs'), 1.5);
    assert.equal(parseDuration('2000000ns'), 2);
    assert.equal(parseDuration('.5s'), 500);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('-1s'), -1000);
    assert.equal(parseDuration('+2m'), 120_000);
  });

  it('refuses what Go refuses, with Go\'s messages', () => {
    assert.throws(() => parseDuration('40'), (e: unknown) => e instanceof DurationError && e.message === 'time: missing unit in duration "40"');
    assert.throws(() => parseDuration('5x'), /time: unknown unit "x" in duration "5x"/);
    for (const bad of ['', '-', 's', '1s ', ' 1s', '1..5s', '.s', 'soon']) assert.throws(() => parseDuration(bad), DurationError, bad);
  });

  it('prints ages as kubectl does', () => {
    assert.equal(humanDuration(59_000), '59s');
    assert.equal(humanDuration(150_000), '2m30s');
    assert.equal(humanDuration(3 * 3_600_000 + 60_000), '3h1m');
    assert.equal(humanDuration(-5), '0s');
    assert.equal(age('2024-01-01T00:00:00Z', Date.parse('2024-01-03T00:00:00Z')), '2d');
    assert.equal(age(undefined), '<unknown>');
    assert.equal(age('yesterday'), '<unknown>');
  });
});
