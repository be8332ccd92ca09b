// exec over the WebSocket channel protocol (against a fake API server speaking v5.channel.k8s.io), and the node
// verbs (cordon, drain with evictions), describe, events, explain, rollout and logs against a real API server.
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { WebSocketServer } from 'ws';
import { run } from '../../cli/main.js';
import { Sink, startHarness, type Harness } from './harness.js';

describe('ketch exec (channel protocol)', () => {
  let srv: Server;
  let port = 0;
  const dirs: string[] = [];
  const frames: Buffer[] = [];
  let query = '';
  before(async () => {
    srv = createServer((req, res) => {
      const send = (body: unknown): void => void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/api' || req.url === '/apis') {
        send({
          kind: 'APIGroupDiscoveryList',
          items: req.url === '/api' ? [{ metadata: { name: '' }, versions: [{ version: 'v1', resources: [{ resource: 'pods', responseKind: { group: '', version: 'v1', kind: 'Pod' }, scope: 'Namespaced', singularResource: 'pod', shortNames: ['po'], verbs: ['get'] }] }] }] : [],
        });
      } else if (req.url === '/api/v1/namespaces/default/pods/box') {
        send({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'box', namespace: 'default' }, spec: { containers: [{ name: 'main' }, { name: 'side' }] }, status: { phase: 'Running' } });
      } else res.writeHead(404).end();
    });
    const wss = new WebSocketServer({ server: srv, handleProtocols: (ps) => (ps.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
    wss.on('connection', (ws, req) => {
      query = req.url ?? '';
      let input = '';
      ws.on('message', (d: Buffer) => {
        frames.push(d);
        if (d[0] === 0) input += d.subarray(1).toString();
        if (d[0] === 255 && d[1] === 0) {
          ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(input.toUpperCase())]));
          ws.send(Buffer.concat([Buffer.from([2]), Buffer.from('warn\n')]));
          const st = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'command terminated with non-zero exit code', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } };
          ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(st))]));
          ws.close();
        }
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    port = (srv.address() as { port: number }).port;
  });
  after(() => {
    srv.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('streams stdin, stdout and stderr and exits with the remote exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ketch-exec-'));
    dirs.push(dir);
    const kc = join(dir, 'kubeconfig');
    writeFileSync(kc, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`);
    const stdin = new PassThrough();
    const out = new Sink();
    const err = new Sink();
    const done = run(['--kubeconfig', kc, 'exec', '-i', 'box', '-c', 'side', '--', 'sh', '-c', 'cat'], { stdin, stdout: out, stderr: err, env: {} });
    stdin.end('hello');
    const code = await done;
    assert.equal(code, 3);
    assert.equal(out.text, 'HELLO');
    assert.match(err.text, /warn\n/);
    assert.match(err.text, /command terminated with exit code 3/);
    assert.match(query, /command=sh&command=-c&command=cat/);
    assert.match(query, /container=side/);
    assert.match(query, /stdin=true/);
    assert.ok(frames.some((f) => f[0] === 255 && f[1] === 0), 'stdin was closed with the v5 close frame');
  });
});

describe('ketch node verbs, describe, events, explain, rollout, logs', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.rest.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } } });
  });
  after(async () => {
    await h?.close();
  });

  it('cordons and uncordons', async () => {
    assert.equal((await h.ketch(['cordon', 'n1'])).stdout, 'node/n1 cordoned\n');
    assert.equal((await h.ketch(['cordon', 'n1'])).stdout, 'node/n1 already cordoned\n');
    assert.equal((await h.ketch(['get', 'node', 'n1', '-o', 'jsonpath={.spec.unschedulable}'])).stdout, 'true');
    assert.equal((await h.ketch(['uncordon', 'n1'])).stdout, 'node/n1 uncordoned\n');
    assert.equal((await h.ketch(['get', 'node', 'n1', '-o', 'jsonpath={.spec.unschedulable}'])).stdout, '');
    assert.equal((await h.ketch(['cordon', 'nope'])).code, 1);
  });

  it('drains: refuses unmanaged pods without --force, then evicts and waits', async () => {
    const pod = (name: string, owned: boolean) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, ...(owned ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: '00000000-0000-0000-0000-000000000001', controller: true }] } : {}) },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'nginx' }] },
    });
    await h.rest.request('POST', '/api/v1/namespaces/default/pods', { body: pod('managed', true) });
    await h.rest.request('POST', '/api/v1/namespaces/default/pods', { body: pod('loner', false) });
    const refused = await h.ketch(['drain', 'n1']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, 'node/n1 cordoned\n');
    assert.match(refused.stderr, /error: unable to drain node "n1" due to error: cannot delete Pods that declare no controller \(use --force to override\): default\/loner/);
    const r = await h.ketch(['drain', 'n1', '--force', '--grace-period=0', '--timeout=20s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^node\/n1 already cordoned\n/);
    assert.match(r.stdout, /evicting pod default\/managed\n/);
    assert.match(r.stdout, /pod\/loner evicted\n/);
    assert.match(r.stdout, /node\/n1 drained\n$/);
    assert.match(r.stderr, /Warning: deleting Pods that declare no controller: default\/loner/);
    assert.equal((await h.ketch(['get', 'pods', '-o', 'name'])).stdout, '');
  });

  it('describes a node and a pod with its events; lists events', async () => {
    await h.rest.request('POST', '/api/v1/namespaces/default/pods', { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'd1', labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80 }] }] } } });
    const ts = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await h.rest.request('POST', '/api/v1/namespaces/default/events', {
      body: { apiVersion: 'v1', kind: 'Event', metadata: { name: 'd1.1' }, involvedObject: { kind: 'Pod', name: 'd1', namespace: 'default' }, reason: 'FailedScheduling', message: '0/1 nodes are available', type: 'Warning', count: 2, firstTimestamp: ts, lastTimestamp: ts, source: { component: 'default-scheduler' } },
    });
    const d = await h.ketch(['describe', 'pod', 'd1']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^Name: {13}d1\nNamespace: {8}default\n/);
    assert.match(d.stdout, /Labels: {11}app=d\n/);
    assert.match(d.stdout, /Containers:\n {2}c:\n {4}Image: +nginx\n {4}Port: +80\/TCP\n/);
    assert.match(d.stdout, /Events:\n {2}Type +Reason +Age +From +Message\n {2}---- +------ +---- +---- +-------\n {2}Warning +FailedScheduling +\d+s \(x2 over \d+s\) +default-scheduler +0\/1 nodes are available\n/);
    const byPrefix = await h.ketch(['describe', 'pods', 'd']);
    assert.match(byPrefix.stdout, /^Name: +d1\n/);
    const node = await h.ketch(['describe', 'node', 'n1']);
    assert.match(node.stdout, /Unschedulable: +true\n/);
    assert.match(node.stdout, /Non-terminated Pods: +\(0 in total\)/);
    const ev = await h.ketch(['events']);
    assert.match(ev.stdout, /^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n\d+s \(x2 over \d+s\) +Warning +FailedScheduling +pod\/d1 +0\/1 nodes are available\n$/);
    const none = await h.ketch(['events', '--types', 'Normal']);
    assert.equal(none.stderr.trim(), 'No events found in default namespace.');
  });

  it('explains fields from the OpenAPI document', async () => {
    const r = await h.ketch(['explain', 'deployments.spec.replicas']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^GROUP: +apps\nKIND: +Deployment\nVERSION: +v1\n\nFIELD: replicas <integer>\n/);
    const pod = await h.ketch(['explain', 'po']);
    assert.match(pod.stdout, /^KIND: +Pod\nVERSION: +v1\n/);
    assert.match(pod.stdout, /\n {2}spec\t<PodSpec>/);
    const bad = await h.ketch(['explain', 'pods.spec.nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /field "nope" does not exist/);
  });

  it('reports rollout status by the Kubernetes rules, and restarts and pauses', async () => {
    await h.ketch(['create', 'deployment', 'web', '--image', 'nginx', '--replicas', '2']);
    const status = (st: Record<string, unknown>) => h.rest.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/web/status', { body: { status: st }, contentType: 'application/merge-patch+json' });
    await status({ observedGeneration: 1, replicas: 2, updatedReplicas: 1, availableReplicas: 1 });
    const watching = h.ketch(['rollout', 'status', 'deploy/web', '--timeout=10s']);
    await new Promise((r) => setTimeout(r, 300));
    await status({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await status({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    const r = await watching;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...\n' +
        'Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...\n' +
        'deployment "web" successfully rolled out\n',
    );
    await status({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }] });
    const dead = await h.ketch(['rollout', 'status', 'deployment', 'web']);
    assert.equal(dead.code, 1);
    assert.equal(dead.stderr.trim(), 'error: deployment "web" exceeded its progress deadline');
    assert.equal((await h.ketch(['rollout', 'restart', 'deploy/web'])).stdout, 'deployment.apps/web restarted\n');
    assert.match((await h.ketch(['get', 'deploy', 'web', '-o', 'yaml'])).stdout, /kubectl\.kubernetes\.io\/restartedAt: "\d{4}-/);
    assert.equal((await h.ketch(['rollout', 'pause', 'deploy/web'])).stdout, 'deployment.apps/web paused\n');
    assert.equal((await h.ketch(['rollout', 'restart', 'deploy/web'])).code, 1);
    assert.equal((await h.ketch(['rollout', 'resume', 'deploy/web'])).stdout, 'deployment.apps/web resumed\n');
    const undo = await h.ketch(['rollout', 'undo', 'deploy/web']);
    assert.equal(undo.code, 1);
    assert.match(undo.stderr, /no rollout history found for deployment "web"/);
  });

  it('logs and exec report the server error when no node agent can serve them', async () => {
    await h.rest.request('POST', '/api/v1/namespaces/default/pods', { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lg' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } });
    const l = await h.ketch(['logs', 'lg']);
    assert.equal(l.code, 1);
    assert.match(l.stderr, /^Error from server/);
    const missing = await h.ketch(['logs', 'nope']);
    assert.equal(missing.stderr.trim(), 'Error from server (NotFound): pods "nope" not found');
    const x = await h.ketch(['exec', 'lg', '--', 'true']);
    assert.equal(x.code, 1);
    assert.match(x.stderr, /error: /);
  });
});
