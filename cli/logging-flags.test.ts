import assert from 'node:assert/strict';
import { extractLoggingFlags } from './logging-flags.js';
import { configureLogging, levelForVerbosity, rootLogger, logger } from '../lib/logger.js';

describe('logging flags', () => {
  it('takes --logging-format and -v/--v out of the command line, wherever they stand', () => {
    assert.deepEqual(extractLoggingFlags(['up', '--logging-format', 'json', '-v', '4', '--data-dir', 'd']), { argv: ['up', '--data-dir', 'd'], flags: { format: 'json', verbosity: 4 } });
    assert.deepEqual(extractLoggingFlags(['--v=2', 'agent', '--logging-format=text']), { argv: ['agent'], flags: { format: 'text', verbosity: 2 } });
    assert.deepEqual(extractLoggingFlags(['-v=0', 'up']), { argv: ['up'], flags: { verbosity: 0 } });
  });

  it("leaves a -v without a number (compose down's volumes) and anything after -- alone", () => {
    assert.deepEqual(extractLoggingFlags(['compose', 'down', '-v']), { argv: ['compose', 'down', '-v'], flags: {} });
    assert.deepEqual(extractLoggingFlags(['exec', 'p', '--', 'ls', '-v', '3']), { argv: ['exec', 'p', '--', 'ls', '-v', '3'], flags: {} });
  });

  it('refuses a format or a level it does not know', () => {
    assert.throws(() => extractLoggingFlags(['--logging-format', 'yaml']), /text or json, got "yaml"/);
    assert.throws(() => extractLoggingFlags(['--logging-format']), /text or json/);
    assert.throws(() => extractLoggingFlags(['--v=high']), /--v wants a number/);
  });

  it('maps klog levels onto winston levels and applies them to child loggers', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 9].map(levelForVerbosity), ['info', 'info', 'verbose', 'verbose', 'debug', 'debug']);
    const before = { level: rootLogger.level, format: rootLogger.format, env: { ...process.env } };
    try {
      const child = logger('test');
      configureLogging({ verbosity: 4 });
      assert.equal(child.isLevelEnabled('debug'), true);
      assert.equal(process.env.KETCH_LOG_LEVEL, 'debug');
      configureLogging({ verbosity: 0, format: 'json' });
      assert.equal(child.isLevelEnabled('debug'), false);
      assert.equal(child.isLevelEnabled('info'), true);
      assert.equal(process.env.KETCH_LOG_FORMAT, 'json');
      assert.notEqual(rootLogger.format, before.format);
    } finally {
      rootLogger.level = before.level;
      rootLogger.format = before.format;
      for (const k of ['KETCH_LOG_LEVEL', 'KETCH_LOG_FORMAT']) {
        if (before.env[k] === undefined) delete process.env[k];
        else process.env[k] = before.env[k];
      }
    }
  });
});
