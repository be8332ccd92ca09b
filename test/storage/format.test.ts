// Upgrades of the stored data: objects are stored with their apiVersion and read back through it; the store records
// its format and the ketch that wrote it; `ketch server` refuses a store of a newer format with a message naming both.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { findByResource } from '../../api/resources.js';
import { ApiError } from '../../api/errors.js';
import { EmbeddedStorage, EtcdStorage, openStorage, STORAGE_FORMAT_VERSION, type Backend } from '../../apiserver/storage/index.js';
import { embeddedPath } from '../../apiserver/storage/index.js';
import { Registry } from '../../apiserver/registry/index.js';
import { run } from '../../cli/main.js';
import { VERSION } from '../../cli/version.js';
import { Sink } from '../cli/harness.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } },
};

async function ketchServer(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = new Sink();
  const err = new Sink();
  const stdin = new PassThrough();
  stdin.end();
  const code = await run(['server', '--secure-port', '0', '--bind-address', '127.0.0.1', '--etcd-compaction-interval', '0', '--snapshot-schedule', '0', ...args], {
    stdout: out,
    stderr: err,
    stdin,
    env: process.env,
  });
  return { code, stderr: err.text };
}

describe('stored data format', function () {
  this.timeout(60_000);

  describe('objects keep their apiVersion in storage', () => {
    let db: EmbeddedStorage;
    let registry: Registry;
    beforeEach(() => {
      db = new EmbeddedStorage({ path: ':memory:' });
      registry = new Registry(db, { clock: { now: () => new Date() }, admission: [] });
    });
    afterEach(async () => {
      registry.close();
      await db.close();
    });

    it('stores apiVersion and kind with every object and reads it back as stored', async () => {
      const store = registry.store(findByResource('apps', 'v1', 'deployments')!);
      const created = await store.create('default', structuredClone(deployment), { fieldManager: 'test' });
      const raw = await db.get('/registry/apps/deployments/default/web');
      const stored = JSON.parse(Buffer.from(raw!.value).toString('utf8')) as Record<string, unknown>;
      assert.equal(stored.apiVersion, 'apps/v1');
      assert.equal(stored.kind, 'Deployment');
      assert.equal((await store.get('default', 'web')).metadata.uid, created.metadata.uid);
    });

    it('refuses, naming both versions, an object stored in a version this ketch cannot convert (never relabels it)', async () => {
      const store = registry.store(findByResource('apps', 'v1', 'deployments')!);
      const older = { ...structuredClone(deployment), apiVersion: 'apps/v1beta2', metadata: { name: 'old', namespace: 'default', uid: 'u-1' } };
      await db.create('/registry/apps/deployments/default/old', Buffer.from(JSON.stringify(older)));
      await assert.rejects(store.get('default', 'old'), (err: unknown) => {
        assert.ok(err instanceof ApiError && err.code === 500, String(err));
        assert.match(err.message, /stored as apps\/v1beta2, which this ketch cannot convert to apps\/v1/);
        return true;
      });
    });
  });

  const backends: [string, () => Promise<EtcdServer | undefined>][] = [
    ['embedded', () => Promise.resolve(undefined)],
    ['etcd', () => startEtcd()],
  ];
  for (const [name, startBackend] of backends) {
    describe(`format record (${name})`, () => {
      let dir: string;
      let etcd: EtcdServer | undefined;
      beforeEach(async () => {
        dir = mkdtempSync(join(tmpdir(), 'ketch-format-'));
        etcd = await startBackend();
      });
      afterEach(async () => {
        await etcd?.stop();
        rmSync(dir, { recursive: true, force: true });
      });
      const etcdArgs = (): string[] => (etcd ? ['--etcd-servers', etcd.endpoint] : []);
      const raw = (): Backend => (etcd ? new EtcdStorage({ endpoints: [etcd.endpoint] }) : new EmbeddedStorage({ path: embeddedPath(dir) }));

      it('records the format and the ketch version of a store without a record', async () => {
        const store = await openStorage({ dataDir: dir, ketchVersion: VERSION, ...(etcd ? { etcdServers: [etcd.endpoint] } : {}) });
        try {
          assert.deepEqual(await store.readFormat(), { formatVersion: STORAGE_FORMAT_VERSION, ketchVersion: VERSION });
        } finally {
          await store.close();
        }
      });

      it('ketch server refuses a store written in a newer format, naming both versions', async () => {
        const first = await openStorage({ dataDir: dir, ketchVersion: VERSION, ...(etcd ? { etcdServers: [etcd.endpoint] } : {}) });
        await first.close();
        const store = raw();
        await store.writeFormat({ formatVersion: STORAGE_FORMAT_VERSION + 1, ketchVersion: '9.9.9' });
        await store.close();
        const { code, stderr } = await ketchServer(['--data-dir', dir, ...etcdArgs()]);
        assert.equal(code, 1);
        assert.match(stderr, new RegExp(`written by ketch 9\\.9\\.9 in storage format ${STORAGE_FORMAT_VERSION + 1}`));
        assert.match(stderr, new RegExp(`this ketch \\(${VERSION.replace(/\./g, '\\.')}\\) reads storage format ${STORAGE_FORMAT_VERSION} and older`));
        // Nothing was written over the newer record.
        const after = raw();
        try {
          assert.deepEqual(await after.readFormat(), { formatVersion: STORAGE_FORMAT_VERSION + 1, ketchVersion: '9.9.9' });
        } finally {
          await after.close();
        }
      });
    });
  }
});
