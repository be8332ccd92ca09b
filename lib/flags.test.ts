import assert from 'node:assert/strict';
import { adjustFlags, FlagError, parseBool, parseFlagArgs, readFlags, type FlagTable } from './flags.js';

const TABLE: FlagTable = [
  { name: '--kubeconfig', kind: 'string', description: 'kubeconfig', arg: 'file' },
  { name: '--leader-elect', kind: 'bool', default: 'true', description: 'elect' },
  { name: '--hollow', kind: 'bool', description: 'fake nodes' },
  { name: '--period', kind: 'duration', default: '5s', description: 'period' },
  { name: '--workers', kind: 'int', default: '5', description: 'workers' },
  { name: '--controllers', kind: 'list', default: '*', description: 'which' },
  { name: '--mirror', kind: 'repeated', description: 'mirrors' },
];

describe('component flags', () => {
  it('fills in defaults and reads each kind', () => {
    const f = readFlags(TABLE, {});
    assert.equal(f.optional('--kubeconfig'), undefined);
    assert.throws(() => f.string('--kubeconfig'), /flag --kubeconfig has no value/);
    assert.equal(f.bool('--leader-elect'), true);
    assert.equal(f.bool('--hollow'), false);
    assert.equal(f.given('--hollow'), false);
    assert.equal(f.durationMs('--period'), 5000);
    assert.equal(f.int('--workers'), 5);
    assert.deepEqual(f.list('--controllers'), ['*']);
    assert.deepEqual(f.repeated('--mirror'), []);
    assert.equal(f.given('--period'), false);
  });

  it('parses --flag=value, --flag value, bare booleans and repeated flags', () => {
    const input = parseFlagArgs(TABLE, ['--kubeconfig', '/tmp/k', '--leader-elect=false', '--hollow', '--period=1m30s', '--controllers', '*,-b, ,c', '--mirror', 'a=1', '--mirror=b=2']);
    const f = readFlags(TABLE, input);
    assert.equal(f.string('--kubeconfig'), '/tmp/k');
    assert.equal(f.bool('--leader-elect'), false);
    assert.equal(f.bool('--hollow'), true);
    assert.equal(f.durationMs('--period'), 90_000);
    assert.deepEqual(f.list('--controllers'), ['*', '-b', 'c']);
    assert.deepEqual(f.repeated('--mirror'), ['a=1', 'b=2']);
    assert.ok(f.given('--period'));
  });

  it('names the flag in every error', () => {
    assert.throws(() => parseFlagArgs(TABLE, ['--bogus']), (e: unknown) => e instanceof FlagError && e.message === 'unknown flag: --bogus');
    assert.throws(() => parseFlagArgs(TABLE, ['--kubeconfig']), /flag needs an argument: --kubeconfig/);
    assert.throws(() => readFlags(TABLE, { '--leader-elect': 'maybe' }).bool('--leader-elect'), /invalid argument "maybe" for "--leader-elect" flag: strconv.ParseBool/);
    assert.throws(() => readFlags(TABLE, { '--period': '40' }).durationMs('--period'), /invalid argument "40" for "--period" flag: time: missing unit/);
    for (const bad of ['-1', '1.5', '', 'x']) assert.throws(() => readFlags(TABLE, { '--workers': bad }).int('--workers'), FlagError, bad);
    assert.throws(() => readFlags(TABLE, {}).optional('--nope'), /no flag --nope/);
  });

  it('takes Go\'s spellings of booleans', () => {
    for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(parseBool(t, '--x'), true);
    for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(parseBool(f, '--x'), false);
    assert.throws(() => parseBool('yes', '--x'), FlagError);
  });

  it('adjusts a table: other defaults, flags left out', () => {
    const t = adjustFlags(TABLE, { '--period': '1s' }, ['--kubeconfig']);
    assert.equal(t.length, TABLE.length - 1);
    assert.equal(readFlags(t, {}).durationMs('--period'), 1000);
    assert.equal(TABLE.find((f) => f.name === '--period')?.default, '5s', 'the original is unchanged');
  });
});
