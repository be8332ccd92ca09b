// Several API servers for one client: two `ketch server` processes on one real etcd, an informer watching pods through
// the client-side balancer; the server it is connected to is killed with SIGKILL while pods are created through the
// other, and the informer sees every pod exactly once, in order, without relisting (its watch resumes from its last
// resourceVersion on the other server). The killed server comes back, the balancer's recheck takes it back, and the
// same holds when the other one is killed. kubectl reads a kubeconfig that lists both servers.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { Informer } from '../../client/informer.js';
import { loadClientConfig, SERVERS_EXTENSION, type KubeconfigFile } from '../../client/kubeconfig.js';
import { ResourceClient, RestClient, type ListLike, type ListOptions, type ObjectLike } from '../../client/rest.js';
import { PODS } from '../../client/resources.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';
import { freePort, waitFor } from '../support/util.js';

const ENTRY = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));

/** One `ketch server` process (API server only) on a fixed port, so that it can be started again at the same address. */
class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  output = '';

  constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly etcd: string,
  ) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.output = '';
    const child = spawn(
      process.execPath,
      [
        '--import', 'tsx', ENTRY, 'server',
        '--data-dir', this.dataDir,
        '--secure-port', String(this.port),
        '--bind-address', '127.0.0.1',
        '--etcd-servers', this.etcd,
        '--disable-scheduler', '--disable-controller-manager',
        '--snapshot-schedule', '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } },
    );
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`ketch server exited at start (${child.exitCode}): ${this.output}`);
        return this.output.includes('ketch server is up');
      },
      { timeoutMs: 60_000, what: `ketch server on ${this.port}` },
    );
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** The pods client of the informer, counting its lists: a relist would show as a second one. */
class CountingClient<T extends ObjectLike> extends ResourceClient<T> {
  lists = 0;
  override listAll(namespace?: string, opts?: ListOptions, pageSize?: number): Promise<ListLike<T>> {
    this.lists++;
    return super.listAll(namespace, opts, pageSize);
  }
}

describe('API server failover for clients (two ketch servers on one etcd)', function () {
  this.timeout(180_000);
  let etcd: EtcdServer;
  let dir: string;
  const servers: ServerProcess[] = [];
  before(async () => {
    etcd = await startEtcd();
    dir = mkdtempSync(join(tmpdir(), 'ketch-failover-'));
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.kill('SIGTERM')));
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an informer watching through the balancer sees every pod exactly once, in order, across SIGKILLs of the server it uses', async () => {
    const a = new ServerProcess(join(dir, 'a'), await freePort(), etcd.endpoint);
    servers.push(a);
    await a.start();
    // The second server shares the first one's CA, serving certificate and tokens (README: copy pki/ and token-file).
    const b = new ServerProcess(join(dir, 'b'), await freePort(), etcd.endpoint);
    servers.push(b);
    cpSync(join(a.dataDir, 'pki'), join(b.dataDir, 'pki'), { recursive: true });
    cpSync(join(a.dataDir, 'token-file'), join(b.dataDir, 'token-file'));
    await b.start();

    // A kubeconfig that lists both servers: kubectl uses `server` and keeps the extension; ketch balances over both.
    const kubeconfig = join(dir, 'both.kubeconfig');
    const doc = YAML.parse(readFileSync(join(a.dataDir, 'admin.kubeconfig'), 'utf8')) as KubeconfigFile;
    doc.clusters![0]!.cluster.extensions = [{ name: SERVERS_EXTENSION, extension: { servers: [a.url, b.url] } }];
    writeFileSync(kubeconfig, YAML.stringify(doc));
    const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, 'get', 'namespace', 'default', '-o', 'name']);
    assert.equal(stdout.trim(), 'namespace/default');

    const rest = new RestClient(loadClientConfig({ kubeconfig }), 'failover-test');
    assert.deepEqual(rest.balancer?.servers, [a.url, b.url]);
    const pods = new CountingClient<ObjectLike>(rest, PODS);
    const informer = new Informer(pods, { namespace: 'default' });
    const added: string[] = [];
    const revisions: number[] = [];
    const record = (o: ObjectLike): void => {
      revisions.push(Number(o.metadata?.resourceVersion));
    };
    informer.addEventHandler({
      onAdd: (o) => {
        added.push(o.metadata!.name!);
        record(o);
      },
      onUpdate: (_old, o) => record(o),
      onDelete: (o) => record(o),
    });
    informer.start();
    await informer.waitForSync();

    const direct = (s: ServerProcess): RestClient => new RestClient(loadClientConfig({ kubeconfig, server: s.url }), 'failover-writer');
    let n = 0;
    const createPods = async (via: RestClient, count: number): Promise<void> => {
      const client = via.resource<ObjectLike>(PODS);
      for (let i = 0; i < count; i++, n++) {
        const name = `p-${String(n).padStart(3, '0')}`;
        await client.create('default', { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } as ObjectLike);
      }
    };
    const seen = (count: number, what: string): Promise<boolean> => waitFor(() => added.length >= count, { timeoutMs: 30_000, what });
    const current = (): string | undefined => rest.balancer!.states().find((s) => s.current)?.server;

    // On a, then a killed: the pods created through b reach the informer through b.
    await createPods(direct(b), 20);
    await seen(20, 'the first 20 pods');
    assert.equal(current(), a.url);
    await a.kill('SIGKILL');
    await createPods(direct(b), 20);
    await seen(40, 'the pods created after a was killed');
    assert.equal(current(), b.url);

    // a back at its address; the balancer's recheck finds it healthy; then b is killed and a takes over.
    await a.start();
    await waitFor(() => rest.balancer!.states().every((s) => s.healthy), { timeoutMs: 30_000, what: 'the balancer to take a back' });
    await createPods(direct(a), 10);
    await seen(50, 'the pods created while both run');
    await b.kill('SIGKILL');
    await createPods(direct(a), 20);
    await seen(70, 'the pods created after b was killed');
    assert.equal(current(), a.url);
    await informer.stop();

    const want = Array.from({ length: 70 }, (_, i) => `p-${String(i).padStart(3, '0')}`);
    assert.deepEqual(added, want, 'every pod once, in creation order');
    assert.equal(pods.lists, 1, 'the informer never relisted: its watch resumed from its resourceVersion');
    for (let i = 1; i < revisions.length; i++) assert.ok(revisions[i]! > revisions[i - 1]!, `events out of order at ${i}: ${revisions.slice(i - 1, i + 1).join(' ')}`);
  });
});
