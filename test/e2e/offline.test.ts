// The README's quick start on a machine without internet (issue 23): `ketch up --write-kubeconfig` (what
// scripts/quickstart.sh runs) in a network namespace with loopback only, no default route, then the README's kubectl
// commands as printed. The node's image store gets busybox:1.36 from the host's busybox-static, so the pod runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/util.js';
import { ENTRY, execResult, mountsUnder } from './cluster.js';

const NS = 'ketch-e2e-offline';
const netns = (): string[] => (existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : []);

describe('quick start without internet (e2e: a network namespace with no default route)', function () {
  this.timeout(240_000);
  let dir: string;
  let up: ReturnType<typeof spawn> | undefined;
  let out = '';
  let netnsBefore: string[] = [];
  // In the namespace, with a HOME of the test's own (where --write-kubeconfig writes ~/.kube/config).
  const inNs = (cmd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    execResult('nsenter', [`--net=/var/run/netns/${NS}`, cmd, ...args], { env: { ...process.env, HOME: dir, KUBECONFIG: '' } });
  const kubectl = async (...args: string[]): Promise<string> => {
    const r = await inNs('kubectl', ...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-offline-'));
    // A namespace a killed run left behind goes first.
    await execResult('ip', ['netns', 'del', NS]);
    netnsBefore = netns();
    assert.equal((await execResult('ip', ['netns', 'add', NS])).code, 0);
    assert.equal((await execResult('ip', ['-n', NS, 'link', 'set', 'lo', 'up'])).code, 0);
  });
  after(async () => {
    if (up && up.exitCode === null) {
      up.kill('SIGINT');
      await Promise.race([new Promise((r) => up!.once('exit', r)), new Promise((r) => setTimeout(r, 30_000).unref())]);
      up.kill('SIGKILL');
    }
    await execResult('ip', ['netns', 'del', NS]);
    if (dir && !mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the deployment of the README with no route to a registry', async () => {
    assert.equal((await execResult('ip', ['-n', NS, 'route', 'show', 'default'])).stdout.trim(), '', 'the namespace has no default route');
    // The quick start's `ketch up`, from source; only the data dir is the test's (the namespace has its own ports).
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, KETCH_LOG_LEVEL: 'warn' };
    // nsenter enters the network namespace only: `ip netns exec` also mounts a /sys of its own, without the host's
    // cgroup hierarchy that runc needs.
    up = spawn('nsenter', [`--net=/var/run/netns/${NS}`, process.execPath, '--import', 'tsx', ENTRY, 'up', '--write-kubeconfig', '--data-dir', dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    up.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    up.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((r) => up!.once('exit', (code) => r(code)));
    await waitFor(() => out.includes('ketch is up') || up!.exitCode !== null, { timeoutMs: 120_000, what: 'ketch up to say "ketch is up"' });
    assert.match(out, /ketch is up/, out);
    assert.match(out, /no route to the internet: docker\.io\/library\/busybox:1\.36, docker\.io\/library\/busybox:latest made from the host's busybox-static/);

    // The README's commands, as printed.
    await kubectl('create', 'deployment', 'web', '--image=busybox:1.36', '--', 'sh', '-c', 'echo hello; sleep 3600');
    await waitFor(async () => (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}')) === 'Running', {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: 'the web pod Running',
    });
    assert.equal((await kubectl('logs', 'deploy/web')).trim(), 'hello');
    assert.match(await kubectl('exec', 'deploy/web', '--', 'id'), /^uid=0\(root\) gid=0\(root\)/);

    up.kill('SIGINT');
    assert.equal(await exit, 0, out);
    assert.deepEqual(mountsUnder(dir), []);
    assert.deepEqual(netns().filter((n) => n.startsWith('ketch-') && n !== NS && !netnsBefore.includes(n)), []);
  });
});
