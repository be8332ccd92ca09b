// End to end: the real `kubectl port-forward` (SPDY/3.1 inside a WebSocket, and the plain SPDY fallback) and
// `ketch port-forward` reach busybox httpd in a pod of a `ketch up` cluster, through the API server and the node agent.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBusyboxMirror } from '../support/local-registry.js';
import { freePort, waitFor } from '../support/util.js';

const run = promisify(execFile);
const entry = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo served-through-port-forward > /www/index.html && dd if=/dev/zero of=/www/big bs=1024 count=3072 && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
`;

/** One HTTP GET on its own connection (no keep-alive). */
function fetchOnce(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} through port ${port} timed out`)));
    req.on('error', reject);
  });
}

describe('port-forward (e2e with kubectl and ketch)', function () {
  this.timeout(180_000);
  let dir: string;
  let mirror: Awaited<ReturnType<typeof startBusyboxMirror>>;
  let up: ChildProcess | undefined;
  const forwarders: ChildProcess[] = [];
  let output = '';
  let env: NodeJS.ProcessEnv;

  const kubectl = async (...args: string[]): Promise<string> => (await run('kubectl', args, { env, timeout: 90_000 })).stdout;

  /** Starts a port-forward command and waits for the local port it prints ("Forwarding from 127.0.0.1:P -> R"). */
  const forward = async (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ port: number; proc: ChildProcess; out: () => string }> => {
    const proc = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    forwarders.push(proc);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    let exited = false;
    proc.once('exit', () => (exited = true));
    const m = await waitFor(
      () => {
        if (exited) throw new Error(`${cmd} port-forward exited at start: ${out}`);
        return /Forwarding from 127\.0\.0\.1:(\d+) -> \d+/.exec(out) ?? undefined;
      },
      { timeoutMs: 30_000, what: `${cmd} port-forward to listen` },
    );
    return { port: Number(m[1]), proc, out: () => out };
  };

  const stopForward = async (proc: ChildProcess): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGINT');
    await exited;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-pf-e2e-'));
    env = { ...process.env, KUBECONFIG: join(dir, 'server', 'admin.kubeconfig'), KUBECACHEDIR: join(dir, 'kubecache'), HOME: dir };
    mirror = await startBusyboxMirror();
    const port = await freePort();
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
    const manifest = join(dir, 'web.yaml');
    writeFileSync(manifest, POD);
    await kubectl('apply', '-f', manifest);
    try {
      await kubectl('wait', '--for=condition=Ready', 'pod/web', '--timeout=90s');
    } catch (err) {
      // The readiness probe, like port-forward, reaches the pod IP from the host: another cluster's bridge on the same
      // pod CIDR (a second `ketch up` on this host) takes those packets.
      const status = await kubectl('get', 'pod', 'web', '-o', 'jsonpath={.status}').catch((e: Error) => e.message);
      const routes = await run('ip', ['-4', 'route', 'show', '10.42.0.0/24']).then((r) => r.stdout, (e: Error) => e.message);
      throw new Error(`pod web is not Ready: ${(err as Error).message}\nstatus: ${status}\nhost routes to the pod network:\n${routes}`);
    }
  });

  afterEach(async () => {
    for (const p of forwarders.splice(0)) await stopForward(p);
  });

  after(async () => {
    if (up) {
      const p = up;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    }
    await mirror?.stop();
    const mounted = readFileSync('/proc/self/mounts', 'utf8').includes(dir);
    if (!mounted) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl port-forward (SPDY inside a WebSocket) carries connections to the pod, a 3 MiB file whole', async () => {
    const pf = await forward('kubectl', ['port-forward', 'pod/web', ':8080', '-v=6']);
    for (let i = 0; i < 2; i++) {
      const r = await fetchOnce(pf.port, '/index.html');
      assert.equal(r.status, 200, pf.out());
      assert.equal(r.body, 'served-through-port-forward\n');
    }
    const big = await fetchOnce(pf.port, '/big');
    assert.equal(big.body.length, 3 * 1024 * 1024, 'a 3 MiB file arrives whole');
    assert.equal(pf.out().match(/Handling connection for \d+/g)?.length, 3, pf.out());
    assert.match(pf.out(), /GET https:\S+\/pods\/web\/portforward 101 Switching Protocols/, 'the WebSocket upgrade was taken');
    assert.doesNotMatch(pf.out(), /fallback/i, 'no fallback to the plain SPDY upgrade');
    assert.equal(pf.proc.exitCode, null, `kubectl port-forward is still running: ${pf.out()}`);
  });

  it('kubectl port-forward over the plain SPDY upgrade (KUBECTL_PORT_FORWARD_WEBSOCKETS=false)', async () => {
    const pf = await forward('kubectl', ['port-forward', 'pod/web', ':8080', '-v=6'], { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' });
    const [a, b] = await Promise.all([fetchOnce(pf.port, '/index.html'), fetchOnce(pf.port, '/index.html')]);
    assert.equal(a.body, 'served-through-port-forward\n');
    assert.equal(b.body, 'served-through-port-forward\n');
    assert.match(pf.out(), /POST https:\S+\/pods\/web\/portforward 101 Switching Protocols/);
  });

  it('kubectl port-forward to a closed port reports the error that the agent sent', async () => {
    const pf = await forward('kubectl', ['port-forward', 'pod/web', ':8081']);
    await assert.rejects(fetchOnce(pf.port, '/'));
    const text = await waitFor(() => /an error occurred forwarding \d+ -> 8081: .+/.exec(pf.out())?.[0], { timeoutMs: 15_000, what: 'the forwarding error' });
    assert.doesNotMatch(text, /8081: $/);
  });

  it('ketch port-forward carries two connections to the pod', async () => {
    const pf = await forward(process.execPath, ['--import', 'tsx', entry, 'port-forward', 'pod/web', ':8080', '--kubeconfig', join(dir, 'server', 'admin.kubeconfig')]);
    for (let i = 0; i < 2; i++) {
      const r = await fetchOnce(pf.port, '/index.html');
      assert.equal(r.body, 'served-through-port-forward\n');
    }
  });
});
