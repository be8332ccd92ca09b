// The console helper on its own (no runc): a pty for the command, sizes, resizes on the control fd, stdin and its
// end, exit statuses, and the parsing of resize messages. runtime.test.ts runs it under runc.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTROL_FD, HELPER_SOURCE, consoleHelper, helperArgs, resizeLine } from './console.js';
import { pollUntil } from '../../test/support/runtime/registry.js';

interface Session {
  output: () => string;
  stderr: () => string;
  stdin: NodeJS.WritableStream | null;
  control: NodeJS.WritableStream | null;
  done: Promise<number | null>;
}

describe('console helper', function () {
  this.timeout(30_000);
  let dir: string;
  let helper: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ketch-console-'));
    helper = await consoleHelper(dir);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const open = (args: string[], opts: { stdin?: boolean; control?: boolean } = {}): Session => {
    const [cmd = '', ...pre] = helper;
    const child = spawn(cmd, [...pre, ...args], { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(opts.control ? (['pipe'] as const) : [])] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    return {
      output: () => out,
      stderr: () => err,
      stdin: child.stdin,
      control: opts.control ? (child.stdio[CONTROL_FD] as NodeJS.WritableStream) : null,
      done: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    };
  };

  const waitOutput = (s: Session, re: RegExp): Promise<true> => pollUntil(`${re} in the output`, async () => (re.test(s.output()) ? true : undefined));

  it('is written once per directory, with the source as it is in console.ts', async () => {
    assert.deepEqual(await consoleHelper(dir), helper);
    assert.equal(await readFile(helper[1] ?? '', 'utf8'), HELPER_SOURCE);
  });

  it('runs the command on a raw terminal of the given size and exits with its code', async () => {
    const s = open([...helperArgs({ stdin: false, control: false, size: { width: 100, height: 40 } }), 'sh', '-c', 'tty; stty size; stty -a; exit 3']);
    assert.equal(await s.done, 3);
    // Raw but for \r\n: runc's terminal for the container, behind this one, does the echo and the line editing.
    assert.match(s.output(), /^\/dev\/pts\/\d+\r\n40 100\r\n/);
    assert.match(s.output(), /(^| )opost .* onlcr /m);
    assert.match(s.output(), /(^| )-isig -icanon -iexten -echo /m);
  });

  it('applies resize lines from the control fd and passes stdin, ending it with ^D', async () => {
    const script = 'while read x; do [ "$x" = end ] && break; echo "got $x $(stty size)"; done; head -c 1 | od -An -tx1';
    const s = open([...helperArgs({ stdin: true, control: true }), 'sh', '-c', script], { stdin: true, control: true });
    s.control?.write('80 24\n');
    s.stdin?.write('one\n');
    await waitOutput(s, /got one 24 80\r\n/);
    s.control?.write('100 40\nnot a size\n');
    s.stdin?.write('two\n');
    await waitOutput(s, /got two 40 100\r\n/);
    s.stdin?.end('end\n');
    assert.equal(await s.done, 0);
    assert.match(s.output(), / 04\r\n$/);
    assert.match(s.stderr(), /resize ignored: want COLS ROWS, got 'not a size'/);
  });

  it('reports a signal as 128+N and a missing command as 127', async () => {
    assert.equal(await open(['--', 'sh', '-c', 'kill -9 $$']).done, 137);
    const missing = open(['--', '/no/such/command']);
    assert.equal(await missing.done, 127);
    assert.match(missing.output(), /cannot run \/no\/such\/command/);
  });

  it('refuses bad arguments with 125 and a message', async () => {
    for (const args of [['--bogus', '--', 'true'], ['--size', '0x10', '--', 'true'], ['--control', '9', '--', 'true'], ['--']]) {
      const s = open(args);
      assert.equal(await s.done, 125, args.join(' '));
      assert.match(s.stderr(), /^console helper: /);
    }
  });

  it('turns channel-protocol resize messages into control lines and refuses bad ones', () => {
    assert.deepEqual(resizeLine(Buffer.from('{"Width":100,"Height":40}\n')), { size: { width: 100, height: 40 }, line: '100 40\n' });
    assert.throws(() => resizeLine(Buffer.from('100x40')), /resize: not JSON/);
    assert.throws(() => resizeLine(Buffer.from('{"Width":0,"Height":40}')), /resize: want/);
    assert.throws(() => resizeLine(Buffer.from('{"Width":"100","Height":40}')), /resize: want/);
    assert.throws(() => resizeLine(Buffer.from('null')), /resize: want/);
  });
});
