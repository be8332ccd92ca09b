// End to end: `ketch up` runs a one-node cluster that the real kubectl drives (deployment, logs, exec), stops cleanly on
// SIGINT (no mounts or sandboxes left), and comes back with its objects on the same data dir.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBusyboxMirror } from '../support/local-registry.js';
import { freePort, waitFor } from '../support/util.js';

const run = promisify(execFile);
const entry = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));

describe('ketch up (e2e with kubectl)', function () {
  this.timeout(240_000);
  let dir: string;
  let mirror: Awaited<ReturnType<typeof startBusyboxMirror>>;
  let up: ChildProcess | undefined;
  let output = '';

  const kubectl = async (...args: string[]): Promise<string> => {
    const env = { ...process.env, KUBECONFIG: join(dir, 'server', 'admin.kubeconfig'), KUBECACHEDIR: join(dir, 'kubecache'), HOME: dir };
    const { stdout } = await run('kubectl', args, { env, timeout: 90_000 });
    return stdout;
  };

  const start = async (port: number): Promise<void> => {
    output = '';
    up = spawn(
      process.execPath,
      ['--import', 'tsx', entry, 'up', '--data-dir', dir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--agent-port', '0', '--registry-mirror', `docker.io=${mirror.url}`],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } },
    );
    up.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    up.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise((r) => up?.once('exit', r));
    await Promise.race([
      waitFor(() => output.includes('ketch is up'), { timeoutMs: 120_000, what: 'ketch up to report the cluster ready' }),
      exited.then(() => {
        throw new Error(`ketch up exited: ${output}`);
      }),
    ]);
  };

  const stop = async (): Promise<void> => {
    const p = up!;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGINT');
    assert.equal(await exited, 0, `ketch up exit status; output:\n${output}`);
    up = undefined;
  };

  const mountsUnder = (path: string): string[] =>
    readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[1]?.startsWith(path));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-up-e2e-'));
    mirror = await startBusyboxMirror();
  });
  after(async () => {
    if (up) up.kill('SIGKILL');
    await mirror?.stop();
    if (!mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a deployment that kubectl can roll out, read logs from and exec into; SIGINT leaves nothing mounted', async () => {
    const port = await freePort();
    await start(port);
    const nodes = await kubectl('get', 'nodes', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}');
    assert.equal(nodes, 'True');
    await kubectl('create', 'deployment', 'web', '--image=busybox:1.36', '--replicas=2', '--', 'sh', '-c', 'echo hello from $HOSTNAME; exec sleep 3600');
    await kubectl('rollout', 'status', 'deploy/web', '--timeout=90s');
    const pods = (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}')).split(' ');
    assert.equal(pods.length, 2);
    const ips = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.podIP}');
    assert.match(ips, /^10\.42\.\d+\.\d+ 10\.42\.\d+\.\d+$/);
    const pod = pods[0]!;
    await waitFor(async () => (await kubectl('logs', pod)).includes(`hello from ${pod}`), { timeoutMs: 30_000, what: 'the pod log' });
    assert.equal((await kubectl('exec', pod, '--', 'cat', '/etc/hostname')).trim(), pod);
    assert.ok(mountsUnder(dir).length > 0, 'containers are mounted while the cluster runs');

    await stop();
    assert.deepEqual(mountsUnder(dir), [], 'no mount left after SIGINT');
    const sandboxes = join(dir, 'runtime', 'sandboxes');
    assert.deepEqual(existsSync(sandboxes) ? readdirSync(sandboxes) : [], [], 'no sandbox left after SIGINT');

    // The same data dir brings the cluster back with its objects, and the agent runs the pods again.
    await start(port);
    await kubectl('rollout', 'status', 'deploy/web', '--timeout=90s');
    await waitFor(
      async () => (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}')) === 'Running Running',
      { timeoutMs: 90_000, what: 'the pods to run again after restart' },
    );
    await stop();
    assert.deepEqual(mountsUnder(dir), []);
  });
});
