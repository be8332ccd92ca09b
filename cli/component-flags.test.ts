import assert from 'node:assert/strict';
import { Command } from 'commander';
import { controllerManagerOptionsFromFlags, CONTROLLER_MANAGER_FLAGS } from '../controllers/flags.js';
import { readFlags, type FlagTable } from '../lib/flags.js';
import { addFlags, givenFlags } from './component-flags.js';

const TABLE: FlagTable = [
  { name: '--data-dir', kind: 'string', arg: 'dir', default: '/var/lib/x', description: 'state' },
  { name: '--port', kind: 'int', default: '10250', description: 'port' },
  { name: '--no-pod-routes', kind: 'bool', description: 'no routes' },
  { name: '--hollow', kind: 'bool', description: 'fake' },
  { name: '--registry-mirror', kind: 'repeated', arg: 'name=url', description: 'mirrors' },
];

function parse(table: FlagTable, argv: string[]): Command {
  const cmd = addFlags(new Command('x'), table).exitOverride();
  cmd.parse(argv, { from: 'user' });
  return cmd;
}

describe('component flags on commander', () => {
  it('gives back only the flags on the command line, by name', () => {
    const cmd = parse(TABLE, ['--port', '1', '--hollow', '--registry-mirror', 'a=1', '--registry-mirror=b=2']);
    assert.deepEqual(givenFlags(cmd), { '--port': '1', '--hollow': 'true', '--registry-mirror': ['a=1', 'b=2'] });
    const f = readFlags(TABLE, givenFlags(cmd));
    assert.equal(f.string('--data-dir'), '/var/lib/x', 'the default comes from the table');
    assert.equal(f.bool('--no-pod-routes'), false);
  });

  it('reads a --no- flag as itself, bare or with a value', () => {
    assert.deepEqual(givenFlags(parse(TABLE, ['--no-pod-routes'])), { '--no-pod-routes': 'true' });
    assert.deepEqual(givenFlags(parse(TABLE, ['--no-pod-routes=false'])), { '--no-pod-routes': 'false' });
    assert.deepEqual(givenFlags(parse(TABLE, [])), {});
  });

  it('prints defaults as pflag does', () => {
    const help = addFlags(new Command('x'), TABLE).helpInformation();
    assert.match(help, /--data-dir <dir>\s+state \(default "\/var\/lib\/x"\)/);
    assert.match(help, /--port <value>\s+port \(default 10250\)/);
    assert.match(help, /--hollow \[bool\]\s+fake\n/);
  });

  it('carries the controller manager flags through to its options', () => {
    const cmd = parse(CONTROLLER_MANAGER_FLAGS, ['--leader-elect=false', '--node-monitor-period', '2s', '--controllers', 'replicaset,deployment']);
    const { options } = controllerManagerOptionsFromFlags(givenFlags(cmd));
    assert.equal(options.leaderElect, false);
    assert.equal(options.nodeMonitorPeriodMs, 2000);
    assert.equal(options.nodeMonitorGracePeriodMs, 40_000);
    assert.deepEqual(options.controllers, ['replicaset', 'deployment']);
  });
});
