// Joining a second machine with a bootstrap token, end to end: `ketch server` on this host, and a "worker host" made of
// a network namespace joined to it by a veth pair, where `ketch join URL --token ... --discovery-token-ca-cert-hash
// ...` discovers the CA, bootstraps the agent's client certificate and runs a pod (runc) with its own identity. The
// API server's request log (debug) shows the node's requests made as system:node:NAME, and the agent serves a
// certificate signed by the cluster CA. Runs under the host-wide e2e lock (fixed pod CIDR 10.79.0.0/16, 198.18.7.0/30).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { signedBy } from '../../lib/x509.js';
import { startBusyboxMirror } from '../support/local-registry.js';
import { freePort, waitFor } from '../support/util.js';
import { Clients, ENTRY, execResult, ketchIn, leftovers, removeBridgeAndDir, bridgeOf } from './cluster.js';

const NS = 'ketch-e2e-join';
const HOST_IP = '198.18.7.1';
const NODE_IP = '198.18.7.2';
const NODE = 'joined-node';
const CIDR = '10.79.0.0/16';

interface Proc {
  proc: ChildProcess;
  out: () => string;
}

function launch(cmd: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

async function stopProc(p: Proc | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const done = new Promise((r) => p.proc.once('exit', r));
  p.proc.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 30_000).unref())]);
  p.proc.kill('SIGKILL');
}

/** The API server's request log lines (JSON, debug level): method, url and user of each request. */
function requests(serverOut: string): { method: string; url: string; user?: string }[] {
  return serverOut.split('\n').flatMap((l) => {
    if (!l.includes('"message":"request"')) return [];
    try {
      return [JSON.parse(l) as { method: string; url: string; user?: string }];
    } catch {
      return []; // a line cut by the buffer boundary
    }
  });
}

describe('ketch join (e2e: a worker in a network namespace joins with a bootstrap token)', function () {
  this.timeout(300_000);
  let dir: string;
  let mirror: Awaited<ReturnType<typeof startBusyboxMirror>> | undefined;
  let forwarder: Server | undefined;
  let server: Proc | undefined;
  let worker: Proc | undefined;
  let c: Clients;
  const sandboxes = new Set<string>();
  const workerRoot = (): string => join(dir, 'worker');
  const noteSandboxes = (): void => {
    const sb = join(workerRoot(), 'runtime', 'sandboxes');
    if (existsSync(sb)) for (const id of readdirSync(sb)) sandboxes.add(id);
  };
  const ip = async (...args: string[]): Promise<void> => {
    const r = await execResult('ip', args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  };

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('these tests run containers and network namespaces and must run as root (CI does)');
    dir = mkdtempSync(join(tmpdir(), 'ketch-e2e-join-'));
    await execResult('ip', ['netns', 'del', NS]);
    await ip('netns', 'add', NS);
    await ip('link', 'add', 'kjoin-host', 'type', 'veth', 'peer', 'name', 'kjoin-node');
    await ip('link', 'set', 'kjoin-node', 'netns', NS);
    await ip('addr', 'add', `${HOST_IP}/30`, 'dev', 'kjoin-host');
    await ip('link', 'set', 'kjoin-host', 'up');
    await ip('-n', NS, 'addr', 'add', `${NODE_IP}/30`, 'dev', 'kjoin-node');
    await ip('-n', NS, 'link', 'set', 'kjoin-node', 'up');
    await ip('-n', NS, 'link', 'set', 'lo', 'up');
    // The image mirror listens on the host's loopback: the worker reaches it through a forwarder on the veth.
    mirror = await startBusyboxMirror();
    const target = new URL(mirror.url);
    forwarder = createServer((sock) => {
      const up = netConnect(Number(target.port), target.hostname);
      sock.pipe(up).pipe(sock);
      sock.on('error', () => up.destroy());
      up.on('error', () => sock.destroy());
    });
    await new Promise<void>((r) => forwarder!.listen(0, HOST_IP, r));
    const port = await freePort();
    server = launch(process.execPath, ['--import', 'tsx', ENTRY, 'server', '--data-dir', join(dir, 'server'), '--secure-port', String(port), '--bind-address', '0.0.0.0', '--advertise-address', HOST_IP, '--cluster-cidr', CIDR], { KETCH_LOG_LEVEL: 'debug' });
    await waitFor(() => server!.out().includes('ketch server is up'), { timeoutMs: 120_000, what: `ketch server to start: ${server.out().slice(-2000)}` });
    c = new Clients(join(dir, 'server', 'admin.kubeconfig'), dir);
  });

  after(async () => {
    if (c) await c.kubectl('delete', 'pods', '--all', '--grace-period=1', '--wait=true', '--timeout=60s').catch(() => undefined);
    noteSandboxes();
    await stopProc(worker);
    await stopProc(server);
    forwarder?.close();
    await mirror?.stop();
    await execResult('ip', ['link', 'del', 'kjoin-host']);
    await execResult('ip', ['netns', 'del', NS]);
    if (dir) await removeBridgeAndDir(bridgeOf(join(workerRoot(), 'runtime')), dir);
  });

  it('joins with a token, runs a pod with its own system:node certificate, and serves a cluster-CA certificate', async () => {
    const created = await ketchIn(c.kubeconfig, ['token', 'create', '--print-join-command']);
    const line = created.stdout.trim();
    const m = /^ketch join (https:\/\/198\.18\.7\.1:\d+) --token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})$/.exec(line);
    assert.ok(m, `${line}\n${created.stderr}`);
    const [, url, tokenId, tokenSecret, hash] = m;
    worker = launch(
      // nsenter, not `ip netns exec`: that one remounts /sys in a mount namespace of its own, hiding the cgroup
      // mount runc needs; a second machine has its own network, the rest of this host is shared.
      'nsenter',
      [`--net=/var/run/netns/${NS}`, process.execPath, '--import', 'tsx', ENTRY, 'join', url!, '--token', `${tokenId}.${tokenSecret}`, '--discovery-token-ca-cert-hash', hash!,
        '--node-name', NODE, '--root-dir', workerRoot(), '--node-ip', NODE_IP, '--registry-mirror', `docker.io=http://${HOST_IP}:${(forwarder!.address() as { port: number }).port}`],
      { KETCH_LOG_LEVEL: 'warn' },
    );
    await waitFor(() => worker!.out().includes('agent API on port') || worker!.proc.exitCode !== null, { timeoutMs: 120_000, what: 'the joined agent to start' });
    assert.match(worker.out(), /agent API on port/, worker.out());
    assert.match(worker.out(), /ketch join: the cluster CA at https:\/\/198\.18\.7\.1:\d+ is trusted \(sha256:/);
    await c.kubectl('wait', `node/${NODE}`, '--for=condition=Ready', '--timeout=90s');

    // The agent's kubeconfig names its own certificate; the token stays only in the bootstrap kubeconfig.
    const kubeconfig = readFileSync(join(workerRoot(), 'kubeconfig'), 'utf8');
    assert.match(kubeconfig, new RegExp(`client-certificate: ${join(workerRoot(), 'pki', 'kubelet-client-current.pem')}`));
    assert.ok(!kubeconfig.includes(tokenSecret!));

    writeFileSync(join(dir, 'pod.yaml'), `apiVersion: v1\nkind: Pod\nmetadata: {name: hello}\nspec:\n  nodeName: ${NODE}\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: "busybox:1.36", command: [sh, -c, 'echo hello from the joined node; exec sleep 3600']}\n`);
    await c.kubectl('apply', '-f', join(dir, 'pod.yaml'));
    await c.kubectl('wait', 'pod/hello', '--for=condition=Ready', '--timeout=120s').catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await c.kubectl('describe', 'pod', 'hello').catch(String)}\nworker:\n${worker!.out().slice(-4000)}`);
    });
    noteSandboxes();
    assert.equal(await waitFor(async () => {
      const out = await c.kubectl('logs', 'hello');
      return out.includes('hello') && out;
    }, { timeoutMs: 20_000, what: 'the pod log' }), 'hello from the joined node\n');

    // Both requests: the client certificate asked for with the token, the serving one by the node itself.
    const csrs = JSON.parse(await c.kubectl('get', 'csr', '-o', 'json')) as { items: { spec: { username: string; signerName: string }; status: { certificate?: string; conditions?: { type: string }[] } }[] };
    const bySigner = (s: string) => csrs.items.filter((x) => x.spec.signerName === s).map((x) => [x.spec.username, x.status.conditions?.map((k) => k.type).join(','), !!x.status.certificate]);
    assert.deepEqual(bySigner('kubernetes.io/kube-apiserver-client-kubelet'), [[`system:bootstrap:${tokenId}`, 'Approved', true]]);
    await waitFor(async () => (JSON.parse(await c.kubectl('get', 'csr', '-o', 'json')) as typeof csrs).items.some((x) => x.spec.signerName === 'kubernetes.io/kubelet-serving' && x.status.certificate), { what: 'the serving certificate' });

    // The agent serves a certificate of the cluster CA for its address (once issued, with no restart).
    const caPem = Buffer.from((/certificate-authority-data: (\S+)/.exec(readFileSync(c.kubeconfig, 'utf8')) ?? [])[1] ?? '', 'base64').toString();
    const agentPort = Number((/agent API on port (\d+)/.exec(worker.out()) ?? [])[1]);
    const served = await waitFor(() => new Promise<string | false>((resolve) => {
      const s = tlsConnect({ host: NODE_IP, port: agentPort, ca: caPem, rejectUnauthorized: false }, () => {
        const pem = `-----BEGIN CERTIFICATE-----\n${s.getPeerCertificate().raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
        s.end();
        resolve(s.authorized && signedBy(pem, caPem) ? pem : false);
      });
      s.on('error', () => resolve(false));
    }), { timeoutMs: 30_000, what: 'the agent to serve a cluster-CA certificate' });
    assert.ok(served);

    // Every request of the node after its bootstrap is made as system:node:NAME; the token only asked for a certificate.
    const log = requests(server!.out());
    const nodeWrites = log.filter((r) => r.user === `system:node:${NODE}`);
    assert.ok(nodeWrites.some((r) => r.method === 'PUT' || r.method === 'PATCH'), 'the node wrote its status as itself');
    assert.ok(nodeWrites.some((r) => r.url.startsWith('/api/v1/namespaces/default/pods/hello/status')), 'the pod status came from the node\'s own identity');
    const byToken = log.filter((r) => r.user === `system:bootstrap:${tokenId}`);
    assert.ok(byToken.length > 0);
    assert.deepEqual([...new Set(byToken.map((r) => r.url.split('?')[0]))], ['/apis/certificates.k8s.io/v1/certificatesigningrequests']);
  });

  it('removing the pod leaves no sandbox, netns or mount behind on the worker', async () => {
    await c.kubectl('delete', 'pod', 'hello', '--wait=true', '--timeout=60s');
    noteSandboxes();
    assert.ok(sandboxes.size >= 1, 'the worker ran a sandbox, so the check below can fail');
    await waitFor(() => {
      const left = leftovers(workerRoot(), join(workerRoot(), 'runtime'), sandboxes);
      return left.sandboxes.length + left.netns.length + left.mounts.length === 0;
    }, { timeoutMs: 30_000, what: 'the worker to clean up' });
  });
});
