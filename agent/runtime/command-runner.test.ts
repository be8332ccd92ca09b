import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, open, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
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

describe('CommandRunner system calls (mount, umount, namespaces held on files; needs root)', () => {
  // The helper's own mount(2), umount2(2) and unshare(2), and the same through mount(8), umount(8) and unshare(1)
  // when there is no helper (a python that does not exist).
  for (const [label, python] of [['helper', undefined], ['no helper', '/nonexistent/python3']] as const) {
    describe(label, () => {
      const runner = new CommandRunner(python);
      let dir: string;
      before(async () => {
        dir = await mkdtemp(join(tmpdir(), 'ketch-runner-mount-'));
        // Namespaces can be bind-mounted only under a private mount (systemd makes / shared).
        await runner.run('mount', ['--bind', dir, dir]);
        await runner.run('mount', ['--make-private', dir]);
      });
      after(async () => {
        runner.close();
        await runner.unmount(dir, true, { allowFailure: true });
        await rm(dir, { recursive: true, force: true });
      });

      const mountLine = async (path: string): Promise<string | undefined> =>
        (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === path);

      it('mounts a tmpfs with its options and unmounts it', async () => {
        const target = join(dir, 'tmpfs');
        await mkdir(target);
        assert.equal((await runner.mount('tmpfs', 'tmpfs', target, 'mode=0700,size=1m')).code, 0);
        const line = await mountLine(target);
        assert.match(line ?? '', / - tmpfs tmpfs rw,.*size=1024k.*mode=700/);
        assert.equal((await stat(target)).mode & 0o777, 0o700);
        assert.equal((await runner.unmount(target)).code, 0);
        assert.equal(await mountLine(target), undefined);
      });

      it('fails with exit code 32 and the reason, rejecting unless failure is allowed', async () => {
        const missing = join(dir, 'missing');
        await assert.rejects(runner.mount('tmpfs', 'tmpfs', missing, ''), (err: unknown) => err instanceof CommandError && err.result.code === 32 && /no such file|does not exist/i.test(err.result.stderr));
        const r = await runner.unmount(dir + '/not-mounted', false, { allowFailure: true });
        assert.equal(r.code, 32);
        assert.notEqual(r.stderr, '');
      });

      it('detaches a busy mount when lazy', async () => {
        const target = join(dir, 'busy');
        await mkdir(target);
        await runner.mount('tmpfs', 'tmpfs', target, '');
        const fh = await open(join(target, 'f'), 'w');
        try {
          await assert.rejects(runner.unmount(target), (err: unknown) => err instanceof CommandError && /busy/i.test(err.result.stderr));
          assert.equal((await runner.unmount(target, true)).code, 0);
          assert.equal(await mountLine(target), undefined);
        } finally {
          await fh.close();
        }
      });

      it('holds new UTS and IPC namespaces on files, with the host name set in the UTS one', async () => {
        const uts = join(dir, 'uts');
        const ipc = join(dir, 'ipc');
        await writeFile(uts, '');
        await writeFile(ipc, '');
        try {
          assert.equal((await runner.holdNamespaces([{ kind: 'uts', path: uts }, { kind: 'ipc', path: ipc }], 'held-pod')).code, 0);
          assert.equal((await runner.run('nsenter', [`--uts=${uts}`, 'hostname'])).stdout, 'held-pod\n');
          assert.equal((await runner.run('hostname', [])).stdout, `${hostname()}\n`);
          const ours = await readlink('/proc/self/ns/ipc');
          const held = (await runner.run('nsenter', [`--ipc=${ipc}`, 'readlink', '/proc/self/ns/ipc'])).stdout.trim();
          assert.match(held, /^ipc:\[\d+\]$/);
          assert.notEqual(held, ours);
        } finally {
          for (const f of [uts, ipc]) await runner.unmount(f, false, { allowFailure: true });
        }
        assert.equal(await mountLine(uts), undefined);
      });

      it('refuses to hold a namespace on a file that does not exist', async () => {
        const r = await runner.holdNamespaces([{ kind: 'uts', path: join(dir, 'nofile', 'uts') }], 'x', { allowFailure: true });
        assert.equal(r.code, 1);
        assert.notEqual(r.stderr, '');
      });
    });
  }
});
