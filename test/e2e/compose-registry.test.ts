// End to end on `ketch up`: the built-in registry (skopeo push with a cluster token, `ketch registry gc` with the
// kubeconfig's client certificate), and a compose project whose web service waits for a healthy cache and a
// completed migration; the cache's name is a headless Service on its pod, which web reaches; ps and logs show them;
// down leaves nothing. (Reaching it by name needs the cluster DNS in `ketch up`, which answers no pod yet.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildBusyboxImage } from '../support/runtime/oci-image.js';
import { waitFor } from '../support/util.js';
import { UpCluster } from './cluster.js';

const run = promisify(execFile);

const COMPOSE = `
name: e2e
services:
  cache:
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo cached-value > /www/index.html && exec httpd -f -p 6379 -h /www"]
    expose: ["6379"]
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- http://127.0.0.1:6379/ >/dev/null"]
      interval: 1s
      retries: 30
  migrate:
    image: busybox:1.36
    command: ["sh", "-c", "echo migrated"]
    restart: "no"
  web:
    image: busybox:1.36
    command: ["sh", "-c", "echo web-started; while true; do timeout 2 wget -qO- http://cache:6379/ 2>&1 || echo fetch-failed; sleep 2; done"]
    depends_on:
      cache: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
`;

describe('ketch up: built-in registry and ketch compose (e2e)', function () {
  this.timeout(300_000);
  let cluster: UpCluster;

  before(async () => {
    cluster = await UpCluster.create();
    await cluster.start();
  });
  after(async () => {
    await cluster?.dispose();
  });

  it('serves the registry on the cluster CA: skopeo pushes with a cluster token, registry gc runs', async () => {
    const host = `127.0.0.1:${cluster.registryPort}`;
    const certs = join(cluster.dir, 'certs');
    mkdirSync(certs, { recursive: true });
    writeFileSync(join(certs, 'ca.crt'), readFileSync(join(cluster.dir, 'server', 'pki', 'ca.crt')));
    const token = readFileSync(join(cluster.dir, 'server', 'token-file'), 'utf8').split(',')[0] ?? '';
    const image = await buildBusyboxImage({ tag: 'v1' });
    try {
      await run('skopeo', ['--insecure-policy', 'copy', '--preserve-digests', '--dest-cert-dir', certs, '--dest-creds', `x:${token}`, `oci:${image.layout}:v1`, `docker://${host}/default/busybox:1.36`], { timeout: 60_000 });
      const { stdout } = await run('skopeo', ['inspect', '--cert-dir', certs, '--creds', `x:${token}`, `docker://${host}/default/busybox:1.36`], { timeout: 60_000 });
      assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, image.manifestDigest);
    } finally {
      await image.dispose();
    }
    const gc = await cluster.ketch('registry', 'gc', '--registry', `https://${host}`, '--grace', '0s');
    assert.match(gc, /removed 0 of 3 blobs/);
  });

  it('runs a compose project in dependency order; web reaches cache through its Service endpoints; ps, logs, down', async () => {
    const file = join(cluster.dir, 'compose.yaml');
    writeFileSync(file, COMPOSE);
    const up = await cluster.ketchResult(['compose', '-f', file, 'up', '--wait-timeout', '120s']);
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    const order = ['job/migrate created', 'deployment/cache created', 'deployment/web created'].map((l) => up.stdout.indexOf(l));
    assert.ok(order.every((i) => i >= 0), up.stdout);
    assert.match(up.stderr, /waiting for cache \(service_healthy\) before web/);
    assert.match(up.stderr, /waiting for migrate \(service_completed_successfully\) before web/);
    await waitFor(async () => (await cluster.ketchResult(['compose', '-f', file, 'logs', 'web'])).stdout.includes('web-started'), { timeoutMs: 60_000, what: 'web to start' });
    // The name `cache` is a headless Service whose endpoints are the cache pod: what the cluster DNS answers with.
    const endpoint = await cluster.kubectl('-n', 'e2e', 'get', 'endpoints', 'cache', '-o', 'jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}');
    const cacheIp = await cluster.kubectl('-n', 'e2e', 'get', 'pods', '-l', 'com.docker.compose.service=cache', '-o', 'jsonpath={.items[0].status.podIP}');
    assert.equal(endpoint, `${cacheIp}:6379`);
    // (Debian's busybox wget crashes with -T: timeout(1) bounds it instead.)
    const fetched = await cluster.kubectl('-n', 'e2e', 'exec', 'deploy/web', '--', 'timeout', '5', 'wget', '-qO-', `http://${endpoint}/`);
    assert.equal(fetched.trim(), 'cached-value');
    // Readiness is reported by the agent's next status write after the container starts: polled, not assumed.
    const ps = await waitFor(async () => {
      const out = await cluster.ketch('compose', '-f', file, 'ps', '-a');
      return /web-\S+\s+web\s+Running\s+1\/1/.test(out) ? out : undefined;
    }, { timeoutMs: 30_000, what: 'web Running and ready in compose ps' });
    assert.match(ps, /cache-\S+\s+cache\s+Running\s+1\/1/);
    assert.match(ps, /migrate-\S+\s+migrate\s+(Succeeded|Completed)/);
    assert.match(await cluster.ketch('compose', '-f', file, 'logs', 'migrate'), /migrated/);
    const again = await cluster.ketch('compose', '-f', file, 'up', '--wait-timeout', '60s');
    assert.doesNotMatch(again, /created|configured/);
    await cluster.ketch('compose', '-f', file, 'down');
    await waitFor(async () => (await cluster.kubectlResult(['get', 'namespace', 'e2e'])).code !== 0, { timeoutMs: 90_000, what: 'the project namespace to go' });
    const left = await cluster.kubectl('get', 'pods', '-A', '-l', 'com.docker.compose.project=e2e', '-o', 'name');
    assert.equal(left.trim(), '');
  });
});
