// `ketch compose` against a real `ketch server` (API server, controller manager, scheduler; no nodes): up creates the
// objects, up again changes nothing, a changed file updates only what changed and prunes removed services, ps shows
// the pods the controllers made, logs and restart reach them, down removes exactly the project's objects.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import YAML from 'yaml';
import { isNotFound } from '../../api/errors.js';
import { loadClientConfig } from '../../client/kubeconfig.js';
import { RestClient } from '../../client/rest.js';
import { run } from '../../cli/main.js';
import { runServer, type RunningServer } from '../../cli/commands/server.js';
import { Sink } from './harness.js';
import { waitFor } from '../support/util.js';

const FILE = `
name: shop
services:
  web:
    image: busybox:1.36
    command: ["httpd", "-f", "-p", "80"]
    ports: ["18080:80"]
    environment: { MODE: one }
    configs: [{ source: site, target: /etc/site.conf }]
  cache:
    image: busybox:1.36
    command: sleep 3600
    expose: ["6379"]
  migrate:
    image: busybox:1.36
    command: ["true"]
    restart: "no"
configs:
  site: { content: "hello" }
`;

type Obj = { metadata?: { name?: string; resourceVersion?: string; generation?: number; labels?: Record<string, string>; deletionTimestamp?: string }; spec?: Record<string, unknown> };

describe('ketch compose against ketch server', function () {
  this.timeout(60_000);
  let dir: string;
  let server: RunningServer;
  let rest: RestClient;
  let file: string;

  const ketch = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const out = new Sink();
    const err = new Sink();
    const stdin = new PassThrough();
    stdin.end();
    const code = await run(['--kubeconfig', server.adminKubeconfigPath, ...args], { stdout: out, stderr: err, stdin, env: process.env });
    return { code, stdout: out.text, stderr: err.text };
  };
  const get = (path: string): Promise<Obj | undefined> => rest.request<Obj>('GET', path).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ketch-compose-e2e-'));
    server = await runServer({ '--data-dir': join(dir, 'server'), '--secure-port': '0', '--bind-address': '127.0.0.1' });
    rest = new RestClient(loadClientConfig({ kubeconfig: server.adminKubeconfigPath }));
    file = join(dir, 'compose.yaml');
    writeFileSync(file, FILE);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('config --objects prints what up applies', async () => {
    const r = await ketch('compose', '-f', file, 'config', '--objects');
    assert.equal(r.code, 0, r.stderr);
    const kinds = YAML.parseAllDocuments(r.stdout).map((d) => { const o = d.toJS() as { kind: string; metadata: { name: string } }; return `${o.kind}/${o.metadata.name}`; });
    assert.deepEqual(kinds, ['Namespace/shop', 'ConfigMap/site', 'Service/cache', 'Service/migrate', 'Service/web', 'Service/web-published', 'Deployment/cache', 'Job/migrate', 'Deployment/web']);
  });

  it('up creates the objects, labelled, in the project namespace; up again changes nothing', async () => {
    const first = await ketch('compose', '-f', file, 'up');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /deployment\/web created/);
    const web = await get('/apis/apps/v1/namespaces/shop/deployments/web');
    assert.equal(web?.metadata?.labels?.['com.docker.compose.project'], 'shop');
    assert.equal((await get('/api/v1/namespaces/shop/services/web-published'))?.spec?.type, 'LoadBalancer');
    assert.ok(await get('/apis/batch/v1/namespaces/shop/jobs/migrate'));
    const again = await ketch('compose', '-f', file, 'up');
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /created|configured|deleted/);
    assert.equal((again.stdout.match(/unchanged/g) ?? []).length, 9);
    // The controllers write status meanwhile; the spec (its generation) is as the first up left it.
    assert.equal((await get('/apis/apps/v1/namespaces/shop/deployments/web'))?.metadata?.generation, web?.metadata?.generation);
  });

  it('a changed file updates only what changed, and prunes a removed service', async () => {
    writeFileSync(file, FILE.replace('MODE: one', 'MODE: two').replace(/ {2}cache:\n(?: {4}.*\n)+/, ''));
    const r = await ketch('compose', '-f', file, 'up');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment\/web configured/);
    assert.match(r.stdout, /job\/migrate unchanged/);
    assert.match(r.stdout, /deployment\/cache deleted \(no longer in the compose file\)/);
    assert.match(r.stdout, /service\/cache deleted/);
    assert.equal(await get('/apis/apps/v1/namespaces/shop/deployments/cache'), undefined);
  });

  it('ps lists the pods the controllers made for the services', async () => {
    const r = await waitFor(async () => {
      const res = await ketch('compose', '-f', file, 'ps', '-a');
      return /\bweb\b/.test(res.stdout) && /\bmigrate\b/.test(res.stdout) ? res : undefined;
    }, { timeoutMs: 30_000, what: 'pods of web and migrate' });
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+SERVICE\s+STATUS\s+READY\s+RESTARTS\s+NODE/);
    assert.ok(lines.some((l) => /^web-\S+\s+web\s+Pending/.test(l)), r.stdout);
  });

  it('restart gives the long-running services a new template', async () => {
    const r = await ketch('compose', '-f', file, 'restart', 'web');
    assert.equal(r.code, 0, r.stderr);
    const web = (await get('/apis/apps/v1/namespaces/shop/deployments/web')) as { spec: { template: { metadata: { annotations?: Record<string, string> } } } };
    assert.ok(web.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']);
  });

  it('honours depends_on in start order: a dependent waits for its dependency (no node runs it here)', async () => {
    const ordered = join(dir, 'ordered.yaml');
    writeFileSync(ordered, 'name: ordered\nservices:\n  db: { image: busybox:1.36, command: sleep 3600 }\n  app:\n    image: busybox:1.36\n    depends_on: { db: { condition: service_started } }\n');
    const r = await ketch('compose', '-f', ordered, 'up', '--wait-timeout', '1s');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /waiting for db \(service_started\) before app/);
    assert.match(r.stderr, /db did not reach service_started within 1s/);
    assert.ok(await get('/apis/apps/v1/namespaces/ordered/deployments/db'));
    assert.equal(await get('/apis/apps/v1/namespaces/ordered/deployments/app'), undefined);
    assert.equal((await ketch('compose', '-f', ordered, 'down')).code, 0);
  });

  it('refuses an unsupported key by name, touching nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\nservices:\n  a:\n    image: x\n    network_mode: host\n');
    const r = await ketch('compose', '-f', bad, 'up');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /services\.a\.network_mode: not supported/);
    assert.equal(await get('/api/v1/namespaces/bad'), undefined);
  });

  it('down removes exactly the labelled objects and the namespace it made', async () => {
    await rest.request('POST', '/api/v1/namespaces/shop/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'not-ours' }, data: {} } });
    const r = await ketch('compose', '-f', file, 'down');
    assert.equal(r.code, 0, r.stderr);
    for (const path of ['/apis/apps/v1/namespaces/shop/deployments/web', '/apis/batch/v1/namespaces/shop/jobs/migrate', '/api/v1/namespaces/shop/services/web', '/api/v1/namespaces/shop/configmaps/site']) {
      assert.equal(await get(path), undefined, path);
    }
    assert.match(r.stdout, /namespace\/shop deleted/);
    await waitFor(async () => (await get('/api/v1/namespaces/shop')) === undefined, { timeoutMs: 30_000, what: 'namespace shop to go' });
  });
});
