import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Io } from './io.js';
import { progress } from './wait-util.js';
import { waitFor } from '../test/support/util.js';

function io(tty: boolean): { io: Io; text: () => string } {
  let text = '';
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  return { io: { stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: {} }, text: () => text };
}

describe('progress on long waits', () => {
  it('draws a spinner line in place on a terminal and clears it when done', async () => {
    const t = io(true);
    const p = progress(t.io);
    p.update('waiting for Ready on pod/web');
    await waitFor(() => t.text().includes('waiting for Ready on pod/web'), { timeoutMs: 2000, what: 'the spinner line' });
    p.done();
    assert.match(t.text(), /^\r\u001b\[2K. waiting for Ready on pod\/web \(0s\)/);
    assert.ok(t.text().endsWith('\r\u001b[2K'));
  });

  it('elsewhere writes plain lines when asked, and nothing otherwise', async () => {
    const plain = io(false);
    const p = progress(plain.io, { plainEveryMs: 20 });
    p.update('waiting for Ready on pod/web');
    await waitFor(() => plain.text().split('\n').length > 2, { timeoutMs: 2000, what: 'two plain lines' });
    p.done();
    assert.match(plain.text(), /^waiting for Ready on pod\/web \(\d+s\)\n/);
    assert.doesNotMatch(plain.text(), /\r|\u001b/);
    const quiet = io(false);
    const q = progress(quiet.io);
    q.update('waiting');
    q.done();
    assert.equal(quiet.text(), '');
  });
});
