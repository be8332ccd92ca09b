import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Writable } from 'node:stream';
import winston from 'winston';
import { raiseThreadPriority, type ThreadNice } from './thread-priority.js';

/** A logger whose lines are kept (JSON) for the test to read. */
function recordingLogger(): { log: winston.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { log: winston.createLogger({ level: 'info', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] }), lines };
}

/** A thread of this process's nice value, from /proc/self/task/<tid>/stat (field 19). */
function niceOf(tid: string): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[16]);
}

/** A thread's nice value as the kernel holds it, with an optional refusal to lower it (no CAP_SYS_NICE). */
function fakeThread(nice: number, refuse = false): ThreadNice & { sets: number[] } {
  const sets: number[] = [];
  return {
    sets,
    get: () => nice,
    set(n: number) {
      if (refuse && n < nice) throw Object.assign(new Error('A system error occurred: uv_os_setpriority returned EACCES (permission denied)'), { code: 'ERR_SYSTEM_ERROR' });
      sets.push(n);
      nice = n;
    },
  };
}

describe('raiseThreadPriority', () => {
  it('lowers the nice value by the levels asked, says so, and restores it once', () => {
    const { log, lines } = recordingLogger();
    const thread = fakeThread(0);
    const p = raiseThreadPriority(10, log, thread);
    assert.deepEqual([p.raised, p.nice, thread.get()], [true, -10, -10]);
    assert.deepEqual(lines.map((l) => [l.message, l.nice, l.was]), [['api server thread priority raised', -10, 0]]);
    p.restore();
    p.restore();
    assert.equal(thread.get(), 0);
    assert.deepEqual(thread.sets, [-10, 0]);
  });

  it('stops at -20', () => {
    const thread = fakeThread(-15);
    assert.equal(raiseThreadPriority(10, recordingLogger().log, thread).nice, -20);
    assert.equal(thread.get(), -20);
  });

  it('leaves the thread as it is when not permitted, and logs why', () => {
    const { log, lines } = recordingLogger();
    const thread = fakeThread(2, true);
    const p = raiseThreadPriority(10, log, thread);
    assert.deepEqual([p.raised, p.nice, thread.get()], [false, 2, 2]);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.message, 'api server thread priority not raised');
    assert.equal(lines[0]!.wanted, -8);
    assert.match(String(lines[0]!.error), /EACCES/);
    p.restore();
    assert.deepEqual(thread.sets, []);
  });

  it('does nothing for 0 levels', () => {
    const { log, lines } = recordingLogger();
    const thread = fakeThread(0);
    assert.equal(raiseThreadPriority(0, log, thread).raised, false);
    assert.deepEqual([thread.sets, lines], [[], []]);
  });

  it("changes the calling thread's nice value only, not its process's other threads", () => {
    const self = readlinkSync('/proc/thread-self').split('/').pop()!;
    const others = (): Array<[string, number]> => readdirSync('/proc/self/task').filter((t) => t !== self).map((t) => [t, niceOf(t)]);
    const before = niceOf(self);
    const othersBefore = others();
    const p = raiseThreadPriority(3, recordingLogger().log);
    try {
      // Root (CI) may lower it; anyone else is refused and the thread stays as it was.
      assert.equal(p.raised, process.getuid?.() === 0);
      assert.equal(niceOf(self), p.raised ? Math.max(-20, before - 3) : before);
      assert.deepEqual(others(), othersBefore);
    } finally {
      p.restore();
    }
    assert.equal(niceOf(self), before);
  });
});
