import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneStaleClaims, type BridgeClaim } from './host-claims.js';
import { procStartTime } from './monitor-pool.js';

describe('bridge claims', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-claims-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (c: BridgeClaim): void => writeFileSync(join(dir, `${c.bridge}.json`), JSON.stringify(c));

  it('removes only the claims of dead runs whose bridge and root are both gone', async () => {
    const gone = join(dir, 'no-such-root');
    // Dead: a start time that no process has. Alive: this process.
    write({ bridge: 'ketchdead01', root: gone, pid: process.pid, startTime: 'not-a-start-time' });
    write({ bridge: 'ketchdead02', root: dir, pid: process.pid, startTime: 'not-a-start-time' }); // its root is still there
    write({ bridge: 'lo', root: gone, pid: process.pid, startTime: 'not-a-start-time' }); // a device of that name exists
    write({ bridge: 'ketchlive01', root: gone, pid: process.pid, startTime: procStartTime(process.pid) ?? '' });
    assert.deepEqual(await pruneStaleClaims(dir), ['ketchdead01']);
    assert.deepEqual(readdirSync(dir).sort(), ['ketchdead02.json', 'ketchlive01.json', 'lo.json']);
  });

  it('is a no-op without a claims directory', async () => {
    assert.deepEqual(await pruneStaleClaims(join(dir, 'absent')), []);
  });
});
