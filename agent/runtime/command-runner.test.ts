import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandRunner } from './command-runner.js';
import { CommandError } from './exec.js';

describe('CommandRunner (host commands through the helper process)', () => {
  const runner = new CommandRunner();
  after(() => runner.close());

  it('passes input, arguments and cwd, and returns both streams', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ketch-runner-'));
    try {
      const r = await runner.run('sh', ['-c', 'cat; echo "$1" >&2; pwd', 'sh', 'arg one'], { input: 'from stdin\n', cwd: dir });
      assert.deepEqual(r, { code: 0, signal: null, stdout: `from stdin\n${dir}\n`, stderr: 'arg one\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects with a CommandError for a non-zero exit, unless failure is allowed', async () => {
    await assert.rejects(runner.run('sh', ['-c', 'echo bad >&2; exit 3']), (err: unknown) => err instanceof CommandError && err.result.code === 3 && err.result.stderr === 'bad\n');
    assert.equal((await runner.run('sh', ['-c', 'exit 4'], { allowFailure: true })).code, 4);
  });

  it("runs outside this process group and its session, so a terminal's Ctrl-C does not reach the helper", async () => {
    // Fields 5 and 6 of /proc/PID/stat (after the command name in parentheses): process group and session.
    const groupAndSession = (stat: string): string[] => stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(2, 4);
    const ours = groupAndSession(await readFile('/proc/self/stat', 'utf8'));
    // The command's own group and session are the helper's (it does not start new ones).
    const theirs = groupAndSession((await runner.run('sh', ['-c', 'cat /proc/$$/stat'])).stdout);
    assert.notEqual(theirs[0], ours[0]);
    assert.notEqual(theirs[1], ours[1]);
  });

  it('kills a command that overruns its timeout', async () => {
    const r = await runner.run('sleep', ['30'], { timeoutMs: 100, allowFailure: true });
    assert.deepEqual([r.code, r.signal], [-1, 'SIGKILL']);
  });

  it('rejects with ENOENT for a command that does not exist', async () => {
    await assert.rejects(runner.run('ketch-no-such-command', []), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });

  it('matches each answer to its command when many run at once', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => runner.run('sh', ['-c', `sleep 0.0${i % 5}; echo ${i}`])));
    assert.deepEqual(results.map((r) => r.stdout), results.map((_, i) => `${i}\n`));
  });
});
