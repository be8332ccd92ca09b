// The first minutes in a terminal (issue 23): `ketch up` under a pseudo-terminal (util-linux `script`) logs in text,
// stays quiet while nothing changes, and Ctrl-C (the terminal's ^C, SIGINT to the whole foreground process group)
// stops it with ketch's own lines only: no Python traceback from a helper, and it says which containers it waits for.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../support/util.js';
import { ENTRY, UpCluster } from './cluster.js';

/** A command on a new pseudo-terminal: what it prints (\r\n made \n), keys typed into it, and its exit. */
function onTerminal(argv: string[], env: NodeJS.ProcessEnv): { proc: ChildProcess; output(): string; type(keys: string): void; exit: Promise<number | null> } {
  // `exec`: script runs the command with $SHELL -c, and dash (/bin/sh, when SHELL is unset) stays as the parent, catches
  // the ^C itself and ends by SIGINT (status 130) after the command exited 0.
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const proc = spawn('script', ['-q', '-e', '-c', `exec ${quoted}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString().replace(/\r\n/g, '\n')));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => out, type: (keys) => void proc.stdin?.write(keys), exit };
}

describe('ketch up on a terminal (e2e: script, Ctrl-C with pods running)', function () {
  this.timeout(240_000);
  let cluster: UpCluster;
  let term: ReturnType<typeof onTerminal> | undefined;

  before(async () => {
    cluster = await UpCluster.create({ clusterCidr: '10.63.0.0/16' });
  });
  after(async () => {
    if (term && term.proc.exitCode === null) {
      term.type('\x03');
      await Promise.race([term.exit, new Promise((r) => setTimeout(r, 30_000).unref())]);
      term.proc.kill('SIGKILL');
    }
    await cluster?.dispose();
  });

  it('logs readable lines, keeps quiet while nothing changes, and stops on ^C without a traceback', async () => {
    // What a user's shell has: no test settings for the log level.
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
    delete env.KETCH_LOG_LEVEL;
    delete env.KETCH_LOG_FORMAT;
    delete env.NODE_ENV;
    term = onTerminal([process.execPath, '--import', 'tsx', ENTRY, ...(await cluster.upArgs())], env);
    cluster.watchSandboxes();
    await waitFor(() => term!.output().includes('ketch is up') || term!.proc.exitCode !== null, { timeoutMs: 120_000, what: 'ketch up to say "ketch is up"' });
    assert.match(term.output(), /ketch is up/, term.output());
    // A terminal gets text lines, not JSON.
    assert.match(term.output(), /^\d\d:\d\d:\d\d\.\d{3} \S*info\S* \[agent\] node registered/m);

    // One pod that ends on SIGTERM, one that ignores it.
    await cluster.kubectl('create', 'deployment', 'polite', '--image=busybox:1.36', '--', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done');
    await cluster.kubectl('create', 'deployment', 'stubborn', '--image=busybox:1.36', '--', 'sh', '-c', 'trap "" TERM; while true; do sleep 1; done');
    for (const app of ['polite', 'stubborn']) {
      await waitFor(async () => (await cluster.kubectl('get', 'pods', '-l', `app=${app}`, '-o', 'jsonpath={.items[*].status.phase}')) === 'Running', { timeoutMs: 60_000, intervalMs: 300, what: `the ${app} pod Running` });
    }
    await cluster.kubectl('get', 'pods', '-o', 'wide');
    const stubborn = await cluster.kubectl('get', 'pods', '-l', 'app=stubborn', '-o', 'jsonpath={.items[0].metadata.name}');

    // Nothing changes for 25 s: more than two node status reports (every 10 s) and lease renewals. This watches for
    // output that must not come, so it has to let the time pass.
    const settled = term.output().length;
    await new Promise((r) => setTimeout(r, 25_000));
    assert.equal(term.output().slice(settled), '', 'ketch up printed while nothing changed');

    term.type('\x03');
    const code = await Promise.race([term.exit, new Promise<string>((r) => setTimeout(() => r('still running after 60 s'), 60_000).unref())]);
    const out = term.output();
    assert.equal(code, 0, out);
    const stop = out.slice(settled);
    assert.match(stop, /SIGINT: stopping/);
    // The controller manager and the scheduler run in threads of their own, whose stderr is a pipe: text all the same.
    assert.match(out, /\[deployment-controller\] created new replica set/);
    assert.doesNotMatch(out, /^\{"/m, out);
    assert.doesNotMatch(stop, /Traceback|KeyboardInterrupt|File "<string>"/, stop);
    // It names the container that does not exit on SIGTERM while it waits for it.
    assert.match(stop, new RegExp(`waiting for containers to exit after their stop signal.*default/${stubborn}/busybox`), stop);
    assert.deepEqual(cluster.leftovers(), { mounts: [], sandboxes: [], netns: [], veths: [] });
    assert.ok(cluster.sandboxesSeen >= 2);
  });
});
