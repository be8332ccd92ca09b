import assert from 'node:assert/strict';
import type { NodeCondition } from '../api/index.js';
import { sameVerdicts } from './node-status.js';

const cond = (type: string, status: string, reason: string, message: string, time = '2026-01-01T00:00:00Z'): NodeCondition =>
  ({ type, status, reason, message, lastHeartbeatTime: time, lastTransitionTime: time }) as NodeCondition;

describe('node status: what is news (logged at info) and what is the heartbeat (debug)', () => {
  it('calls a new message or heartbeat the same verdict', () => {
    const before = [cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', '1200Mi available'), cond('Ready', 'True', 'KubeletReady', 'ready')];
    const after = [cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', '1187Mi available', '2026-01-01T00:00:10Z'), cond('Ready', 'True', 'KubeletReady', 'ready', '2026-01-01T00:00:10Z')];
    assert.equal(sameVerdicts(before, after), true);
  });

  it('calls a status or reason change, or a condition coming or going, news', () => {
    const ready = [cond('Ready', 'True', 'KubeletReady', 'ready')];
    assert.equal(sameVerdicts(ready, [cond('Ready', 'False', 'KubeletNotReady', 'runtime down')]), false);
    assert.equal(sameVerdicts(ready, [cond('Ready', 'True', 'SomethingElse', 'ready')]), false);
    assert.equal(sameVerdicts(undefined, ready), false);
    assert.equal(sameVerdicts([...ready, cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', '')], ready), false);
  });
});
