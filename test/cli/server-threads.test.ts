// `ketch server` hosts the controller manager and the scheduler each in a worker thread of its own (the default) or on
// the API server's thread (--single-process); either way a Deployment becomes bound pods, the components' metrics
// show on the API server's /metrics (kube's names and labels), and stop ends every thread. They reach the API server
// over its local socket (plain HTTP, a token each), or over loopback TLS when told to or when the socket is taken.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Deployment, Node, Pod } from '../../api/index.js';
import { DEPLOYMENTS, NODES, PODS } from '../../client/index.js';
import { runServer, type RunningServer } from '../../cli/commands/server.js';
import { waitFor } from '../support/util.js';

const node: Node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'n1' },
  status: {
    allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    capacity: { cpu: '4', memory: '8Gi', pods: '110' },
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
  },
};

const deployment: Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }] } },
  },
};

/** One replica asking for more CPU than any node has: created, never bound. */
const huge: Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'huge', namespace: 'default' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'huge' } },
    template: {
      metadata: { labels: { app: 'huge' } },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100' } } }] },
    },
  },
};

/** GET /metrics as text. */
async function scrape(server: RunningServer): Promise<string> {
  const res = await server.rest.open('GET', '/metrics');
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return text;
}

/** A thread's nice value, from /proc/self/task/<tid>/stat (field 19). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[16]);
}

/** Whether this process may lower a nice value (CAP_SYS_NICE: root here; CI runs as root). */
const mayRaise = process.getuid?.() === 0;

/** The value of the sample `name{labels}` (labels exactly as written), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

for (const mode of ['threads', 'single-process'] as const) {
  describe(`ketch server hosting its components (${mode})`, () => {
    let dir: string;
    let server: RunningServer | undefined;
    let niceBefore: number;

    before(async () => {
      niceBefore = niceOf(process.pid);
      dir = mkdtempSync(join(tmpdir(), 'ketch-server-threads-'));
      server = await runServer({
        '--data-dir': dir,
        '--secure-port': '0',
        '--bind-address': '127.0.0.1',
        '--snapshot-schedule': '0',
        ...(mode === 'single-process' ? { '--single-process': 'true' } : {}),
      });
    });

    after(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it(`runs the controller manager and the scheduler ${mode === 'threads' ? 'on threads of their own' : "on the API server's thread"}`, () => {
      const threads = JSON.parse(readFileSync(join(dir, 'components.json'), 'utf8')) as Array<{ name: string; pid: number; tid?: number }>;
      assert.deepEqual(threads.map((t) => t.name), ['apiserver', 'controller-manager', 'scheduler']);
      assert.ok(threads.every((t) => t.pid === process.pid));
      if (mode === 'threads') {
        assert.equal(new Set(threads.map((t) => t.tid)).size, 3, `three OS threads: ${JSON.stringify(threads)}`);
        assert.equal(threads[0]!.tid, process.pid, 'the API server keeps the main thread');
      } else {
        assert.ok(threads.slice(1).every((t) => t.tid === undefined));
      }
    });

    it(mode === 'threads' ? "runs the API server's thread 10 nice levels ahead of the component threads" : "leaves the API server's thread's priority as it was", () => {
      const threads = JSON.parse(readFileSync(join(dir, 'components.json'), 'utf8')) as Array<{ name: string; tid?: number }>;
      const raised = mode === 'threads' && mayRaise;
      assert.equal(niceOf(process.pid), raised ? Math.max(-20, niceBefore - 10) : niceBefore, `the API server's thread (${mayRaise ? 'root' : 'not root'})`);
      for (const t of threads.slice(1)) if (t.tid !== undefined) assert.equal(niceOf(t.tid), niceBefore, t.name);
    });

    it('turns a Deployment into pods bound to the node', async () => {
      await server!.rest.resource<Node>(NODES).create(undefined, node);
      await server!.rest.resource<Deployment>(DEPLOYMENTS).create('default', deployment);
      const pods = server!.rest.resource<Pod>(PODS);
      await waitFor(async () => {
        const list = (await pods.list('default', { labelSelector: 'app=web' })).items;
        return list.length === 3 && list.every((p) => p.spec.nodeName === 'n1');
      }, { timeoutMs: 30_000, what: '3 pods bound to n1' });
    });

    it('shows the work queues and the scheduling queue as kube names them', async () => {
      // n1 (4 CPUs) is there from the test before; this one replica asks for 100.
      await server!.rest.resource<Deployment>(DEPLOYMENTS).create('default', huge);
      const text = await waitFor(
        async () => {
          const t = await scrape(server!);
          const pending = sample(t, 'scheduler_pending_pods{queue="unschedulable"}') === 1;
          return pending && (sample(t, 'workqueue_work_duration_seconds_count{name="replicaset"}') ?? 0) >= 1 ? t : false;
        },
        { timeoutMs: 30_000, what: 'one unschedulable pod and a replicaset sync done, in /metrics' },
      );
      // The API server's own metrics are still there, once each.
      assert.equal(text.split('\n').filter((l) => l === '# TYPE apiserver_request_total counter').length, 1);
      for (const type of ['# TYPE workqueue_depth gauge', '# TYPE workqueue_queue_duration_seconds histogram', '# TYPE scheduler_pending_pods gauge']) {
        assert.equal(text.split('\n').filter((l) => l === type).length, 1, type);
      }
      assert.notEqual(sample(text, 'workqueue_depth{name="replicaset"}'), undefined, 'workqueue_depth{name="replicaset"}');
      assert.ok((sample(text, 'workqueue_adds_total{name="replicaset"}') ?? 0) >= 1, 'the replicaset queue counted its adds');
      assert.ok((sample(text, 'workqueue_adds_total{name="deployment"}') ?? 0) >= 1, 'the deployment queue counted its adds');
      assert.equal(sample(text, 'scheduler_pending_pods{queue="active"}'), 0);
      assert.equal(sample(text, 'scheduler_pending_pods{queue="gated"}'), 0);
      assert.ok((sample(text, 'scheduler_schedule_attempts_total{result="unschedulable",profile="default-scheduler"}') ?? 0) >= 1);
      assert.ok((sample(text, 'scheduler_schedule_attempts_total{result="scheduled",profile="default-scheduler"}') ?? 0) >= 3, 'the three web pods');
      assert.ok((sample(text, 'scheduler_queue_incoming_pods_total{queue="active",event="PodAdd"}') ?? 0) >= 1);
      assert.ok((sample(text, 'scheduler_queue_incoming_pods_total{queue="unschedulable",event="ScheduleAttemptFailure"}') ?? 0) >= 1);
    });
  });
}

describe('ketch server stop', () => {
  it('ends the component threads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ketch-server-threads-'));
    try {
      const niceBefore = niceOf(process.pid);
      const server = await runServer({ '--data-dir': dir, '--secure-port': '0', '--bind-address': '127.0.0.1', '--snapshot-schedule': '0' });
      const threads = JSON.parse(readFileSync(join(dir, 'components.json'), 'utf8')) as Array<{ name: string; tid: number }>;
      const alive = (): string[] => threads.slice(1).filter((t) => existsSync(`/proc/self/task/${t.tid}`)).map((t) => t.name);
      assert.deepEqual(alive(), ['controller-manager', 'scheduler']);
      assert.equal(niceOf(process.pid), mayRaise ? Math.max(-20, niceBefore - 10) : niceBefore);
      const t0 = Date.now();
      await server.stop();
      assert.ok(Date.now() - t0 < 15_000, `stopped in ${Date.now() - t0} ms`);
      // The calling thread's priority is back where it was.
      assert.equal(niceOf(process.pid), niceBefore);
      await waitFor(() => alive().length === 0, { what: `threads gone, still ${alive().join(', ')}` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Connected sockets of the Unix socket at path, from /proc/net/unix (the server's accepted ends carry its path). */
function connectionsOn(path: string): number {
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(` ${path}`) && l.trim().split(/\s+/)[5] === '03').length;
}

/** A plain HTTP request over the Unix socket at path: its status and body. */
function overSocket(path: string, url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: path, path: url, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The node and the Deployment: the controller manager makes 3 pods and the scheduler binds them to n1. */
async function deployAndBind(server: RunningServer): Promise<void> {
  await server.rest.resource<Node>(NODES).create(undefined, node);
  await server.rest.resource<Deployment>(DEPLOYMENTS).create('default', deployment);
  const pods = server.rest.resource<Pod>(PODS);
  await waitFor(async () => (await pods.list('default', { labelSelector: 'app=web' })).items.filter((p) => p.spec.nodeName === 'n1').length === 3, {
    timeoutMs: 30_000,
    what: '3 pods bound to n1',
  });
}

describe("ketch server's local socket for its hosted components", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-server-local-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const flags = (extra: Record<string, string> = {}) => ({ '--data-dir': dir, '--secure-port': '0', '--bind-address': '127.0.0.1', '--snapshot-schedule': '0', ...extra });

  it('serves the components over <data-dir>/local/apiserver.sock (owner only), authenticating every request', async function () {
    this.timeout(60_000);
    const server = await runServer(flags());
    try {
      const sock = join(dir, 'local', 'apiserver.sock');
      assert.ok(statSync(sock).isSocket());
      assert.equal(statSync(join(dir, 'local')).mode & 0o777, 0o700, 'only the owner may enter the directory');
      await deployAndBind(server);
      // The controller manager's and the scheduler's clients are connected there (their watches stay open).
      assert.ok(connectionsOn(sock) >= 2, `connections on the socket: ${connectionsOn(sock)}`);
      // Without a token, or with one the server did not make, nothing is served: a 401 Status.
      for (const token of [undefined, 'not-a-token']) {
        const r = await overSocket(sock, '/api/v1/namespaces', token);
        assert.equal(r.status, 401, r.body);
        assert.equal((JSON.parse(r.body) as { kind: string; code: number }).code, 401);
      }
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(join(dir, 'local', 'apiserver.sock')), false, 'the socket is removed at stop');
  });

  it('replaces a socket left by a crash, and leaves one that another server answers on (its components use TLS then)', async function () {
    this.timeout(90_000); // two server starts
    const sock = join(dir, 'local', 'apiserver.sock');
    mkdirSync(join(dir, 'local'), { recursive: true });
    // A crash leaves the socket file with nothing listening (a process bound it and died without closing).
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(sock)})`]);
    assert.ok(statSync(sock).isSocket());
    let server = await runServer(flags());
    try {
      await waitFor(() => connectionsOn(sock) >= 2, { timeoutMs: 30_000, what: 'the components connected on the socket made anew' });
    } finally {
      await server.stop();
    }
    // Someone else answers on it: kept as it is, and this server's components go over loopback TLS.
    const other = createNetServer((c) => c.end());
    await new Promise<void>((r) => other.listen(sock, r));
    try {
      server = await runServer(flags());
      try {
        await deployAndBind(server);
        assert.equal(connectionsOn(sock), 0, 'nothing of this server on the other socket');
      } finally {
        await server.stop();
      }
      assert.ok(existsSync(sock), "the other server's socket is left alone");
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('--hosted-components-over-tls: no socket, the components reach the API server over TLS', async function () {
    this.timeout(60_000);
    const server = await runServer(flags({ '--hosted-components-over-tls': 'true' }));
    try {
      assert.equal(existsSync(join(dir, 'local', 'apiserver.sock')), false);
      await deployAndBind(server);
    } finally {
      await server.stop();
    }
  });
});
