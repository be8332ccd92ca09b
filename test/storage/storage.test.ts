// Runs the storage contract against both backends: the embedded store (in memory and on disk) and a real etcd.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import { isStorageError } from '../../apiserver/storage/interface.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';
import { storageContract } from './contract.js';

storageContract('embedded (:memory:)', { make: () => Promise.resolve(new EmbeddedStorage({ path: ':memory:' })), progressMs: 100 });

describe('embedded on disk', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'ketch-store-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  storageContract('embedded (file, WAL)', {
    make: () => Promise.resolve(new EmbeddedStorage({ path: join(dir, `db-${n++}.sqlite`) })),
    progressMs: 100,
  });

  it('belongs to one store at a time: a second one on the same file fails until the first is closed', async () => {
    const file = join(dir, 'owned.sqlite');
    const first = new EmbeddedStorage({ path: file });
    await first.create('/owned/a', Buffer.from('a'));
    assert.throws(
      () => new EmbeddedStorage({ path: file }),
      (err: unknown) => isStorageError(err, 'Unavailable') && /in use by another process/.test((err as Error).message),
    );
    // The first store is unharmed and still writes.
    await first.create('/owned/b', Buffer.from('b'));
    await first.close();
    const second = new EmbeddedStorage({ path: file });
    try {
      assert.deepEqual((await second.list('/owned/')).items.map((kv) => kv.key), ['/owned/a', '/owned/b']);
    } finally {
      await second.close();
    }
  });
});

describe('etcd', () => {
  let etcd: EtcdServer;
  before(async function () {
    this.timeout(30_000);
    etcd = await startEtcd({ progressIntervalMs: 200 });
  });
  after(async () => etcd.stop());
  storageContract('etcd', { make: () => Promise.resolve(new EtcdStorage({ endpoints: [etcd.endpoint] })), progressMs: 200 });
});
