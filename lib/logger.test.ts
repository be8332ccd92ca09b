import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import winston from 'winston';
import { logger, rootLogger } from './logger.js';

describe('logger', () => {
  it('does no work for a line below the level (its fields are never read)', () => {
    const log = logger('test-component');
    assert.equal(log.isLevelEnabled('debug'), rootLogger.isLevelEnabled('debug'));
    const before = rootLogger.level;
    rootLogger.level = 'info';
    try {
      let reads = 0;
      const fields = {
        get probe(): number {
          reads++;
          return 1;
        },
      };
      log.debug('a line nobody sees', fields);
      log.child({ reconcileId: 'x' }).debug('nor this', fields);
      assert.equal(reads, 0);
    } finally {
      rootLogger.level = before;
    }
  });

  it('still writes lines at or above the level, with the component and redacted secrets', () => {
    const lines: string[] = [];
    const sink = new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    rootLogger.add(sink);
    const before = rootLogger.level;
    rootLogger.level = 'info';
    try {
      logger('test-component').warn('something happened', { token: 'abc', node: 'n1' });
      logger('test-component').debug('hidden');
    } finally {
      rootLogger.level = before;
      rootLogger.remove(sink);
    }
    assert.equal(lines.length, 1, lines.join(''));
    assert.match(lines[0]!, /something happened/);
    assert.match(lines[0]!, /test-component/);
    assert.match(lines[0]!, /n1/);
    assert.doesNotMatch(lines[0]!, /abc/);
  });
});
