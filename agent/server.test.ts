import { strict as assert } from 'node:assert';
import { formatLogs } from './server.js';

describe('agent log formatting (CRI log files)', () => {
  const file = [
    '2024-01-01T00:00:01.000000000Z stdout F one',
    '2024-01-01T00:00:02.000000000Z stderr P par',
    '2024-01-01T00:00:02.500000000Z stderr F tial',
    '2024-01-01T00:00:03.000000000Z stdout F three',
    '',
  ].join('\n');

  it('joins partial records and prints lines', () => {
    assert.deepEqual(formatLogs(file, { timestamps: false }), ['one\n', 'partial\n', 'three\n']);
  });

  it('supports timestamps, tailLines and sinceSeconds', () => {
    assert.deepEqual(formatLogs(file, { timestamps: true, tailLines: 1 }), ['2024-01-01T00:00:03.000000000Z three\n']);
    assert.deepEqual(formatLogs(file, { timestamps: false, sinceSeconds: 1 }, Date.parse('2024-01-01T00:00:03.500Z')), ['three\n']);
  });
});
