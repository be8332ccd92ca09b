import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseMirrors } from './components.js';
import { checkEtcd, checkPrerequisites, mergeKubeconfig, PrerequisiteError } from './up.js';
import { startEtcd } from '../../test/support/etcd-server.js';
import { freePort } from '../../test/support/util.js';

describe('ketch up helpers', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-up-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const admin = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': 'Q0E=' } }],
    users: [{ name: 'admin', user: { token: 't0k3n' } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'admin' } }],
    'current-context': 'local',
  };

  it('merges the admin kubeconfig into an existing one as context "ketch", keeping the other entries', () => {
    const adminPath = join(dir, 'admin.kubeconfig');
    writeFileSync(adminPath, YAML.stringify(admin));
    const target = join(dir, 'kube', 'config');
    const existing = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'prod', cluster: { server: 'https://prod:6443' } }],
      users: [{ name: 'me', user: { token: 'x' } }],
      contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'me' } }],
      'current-context': 'prod',
    };
    mergeKubeconfig(adminPath, target); // creates the file and its folder
    writeFileSync(target, YAML.stringify(existing));
    mergeKubeconfig(adminPath, target);
    mergeKubeconfig(adminPath, target); // idempotent
    const merged = YAML.parse(readFileSync(target, 'utf8')) as typeof existing;
    assert.equal(merged['current-context'], 'ketch');
    assert.deepEqual(merged.clusters.map((c) => c.name), ['prod', 'ketch']);
    assert.deepEqual(merged.users.map((u) => u.name), ['me', 'ketch']);
    assert.deepEqual(merged.contexts.find((c) => c.name === 'ketch')?.context, { cluster: 'ketch', user: 'ketch' });
    assert.equal(merged.clusters[1]?.cluster.server, 'https://127.0.0.1:6443');
  });

  it('names the fix for a malformed --etcd-servers', () => {
    assert.throws(
      () => checkPrerequisites({ etcdServers: '127.0.0.1:2379' }),
      (e: unknown) => e instanceof PrerequisiteError && /--etcd-servers wants URLs/.test(e.message),
    );
  });

  it('names the fix when no etcd answers at --etcd-servers', async () => {
    const port = await freePort();
    await assert.rejects(
      checkEtcd(`http://127.0.0.1:${port}`),
      (e: unknown) => e instanceof PrerequisiteError && /no etcd answers at http:\/\/127\.0\.0\.1:\d+: start etcd there/.test(e.message),
    );
  });

  it('passes when one of the --etcd-servers answers etcd\'s Status with a leader', async function () {
    this.timeout(30_000);
    const etcd = await startEtcd();
    try {
      const dead = `http://127.0.0.1:${await freePort()}`;
      await checkEtcd(`${dead},${etcd.endpoint}`);
    } finally {
      await etcd.stop();
    }
  });

  it('parses registry mirrors and rejects a flag without NAME=', () => {
    assert.deepEqual(parseMirrors(['docker.io=http://127.0.0.1:5000']), { 'docker.io': 'http://127.0.0.1:5000' });
    assert.throws(() => parseMirrors(['http://x']), /NAME=URL/);
  });
});
