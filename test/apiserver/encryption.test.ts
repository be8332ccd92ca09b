// Encryption at rest against a real API server, kubectl and both backends: Secrets read raw from the SQLite file and
// from etcd are ciphertext under kube's prefix, and rotate to a new key as kube's docs say (the new key added, then
// made first, every Secret rewritten with `kubectl get secrets -A -o json | kubectl replace -f -`, the old key removed).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import { loadEncryptionConfig, secretsEncryptionYaml } from '../../apiserver/encryption/config.js';
import { startApiServer, type ApiServer } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import type { Storage } from '../../apiserver/storage/interface.js';
import { kubectlEnv } from '../e2e/cluster.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';

const SECRET_KEY = '/registry/core/secrets/default/db';
const key = (fill: number): string => Buffer.alloc(32, fill).toString('base64');
const configYaml = (keys: { name: string; fill: number }[]): string => secretsEncryptionYaml(keys.map((k) => ({ name: k.name, secret: key(k.fill) })));

interface Backend {
  name: string;
  open(): Storage;
  /** The stored bytes of a key, read past ketch (the SQLite file, or etcd with etcd3), with the API server stopped (the embedded store locks its file). */
  raw(k: string): Promise<Buffer>;
  close(): Promise<void>;
}

async function embedded(dir: string): Promise<Backend> {
  const path = join(dir, 'state.db');
  return {
    name: 'embedded SQLite',
    open: () => new EmbeddedStorage({ path }),
    raw: async (k) => {
      const db = new Database(path, { readonly: true });
      try {
        const row = db.prepare('SELECT value FROM log WHERE key = ? ORDER BY rev DESC LIMIT 1').get(k) as { value: Buffer } | undefined;
        if (!row) throw new Error(`no row for ${k}`);
        return row.value;
      } finally {
        db.close();
      }
    },
    close: async () => undefined,
  };
}

async function etcd(): Promise<Backend> {
  const server: EtcdServer = await startEtcd();
  const client = new Etcd3({ hosts: [server.endpoint] });
  return {
    name: 'etcd',
    open: () => new EtcdStorage({ endpoints: [server.endpoint] }),
    raw: async (k) => {
      const v = await client.get(k).buffer();
      if (!v) throw new Error(`no value for ${k}`);
      return v;
    },
    close: async () => {
      client.close();
      await server.stop();
    },
  };
}

for (const makeBackend of [embedded, async (_dir: string) => etcd()]) {
  describe(`encryption at rest (${makeBackend === embedded ? 'embedded SQLite' : 'etcd'}, real kubectl)`, function () {
    this.timeout(60_000);
    let dir: string;
    let backend: Backend;
    let storage: Storage | undefined;
    let api: ApiServer | undefined;
    const configPath = (): string => join(dir, 'encryption.yaml');

    /** (Re)starts the API server over the same store with the configuration given. */
    const start = async (keys: { name: string; fill: number }[]): Promise<void> => {
      await stop();
      writeFileSync(configPath(), configYaml(keys), { mode: 0o600 });
      storage = backend.open();
      api = await startApiServer({ dataDir: dir, securePort: 0, bindAddress: '127.0.0.1', storage, encryption: await loadEncryptionConfig(configPath()) });
    };
    const stop = async (): Promise<void> => {
      await api?.close();
      await storage?.close();
      api = undefined;
      storage = undefined;
    };
    /** The real kubectl (asynchronously: the API server answers on this process's event loop); rejects with its stderr. */
    const kubectl = (args: string[], input?: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = execFile('kubectl', args, { env: kubectlEnv(api!.adminKubeconfigPath, dir), timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
        );
        child.stdin?.end(input ?? '');
      });
    /** The stored bytes of k, the server stopped for the read (SQLite's file is locked by its one writer). */
    const raw = async (k: string): Promise<Buffer> => {
      await stop();
      return backend.raw(k);
    };
    const prefixOf = async (k: string): Promise<string> => /^k8s:enc:[a-z]+:v1:[^:]+:/.exec((await raw(k)).toString('latin1'))?.[0] ?? 'plain';

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ketch-encryption-'));
      backend = await makeBackend(dir);
    });
    after(async () => {
      await stop();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores Secrets as AES-GCM ciphertext (never the value, plain or base64) and serves them decrypted', async () => {
      await start([{ name: 'first', fill: 1 }]);
      await kubectl(['create', 'secret', 'generic', 'db', '--from-literal=password=hunter2-top-secret']);
      await kubectl(['create', 'configmap', 'cfg', '--from-literal=k=visible-config']);
      const stored = await raw(SECRET_KEY);
      assert.match(stored.toString('latin1'), /^k8s:enc:aesgcm:v1:first:/);
      assert.ok(!stored.includes(Buffer.from('hunter2-top-secret')));
      assert.ok(!stored.includes(Buffer.from(Buffer.from('hunter2-top-secret').toString('base64'))));
      assert.ok(!stored.includes(Buffer.from('"kind":"Secret"')));
      // Resources not in the configuration stay as they were.
      assert.ok((await raw('/registry/core/configmaps/default/cfg')).includes(Buffer.from('visible-config')));
      await start([{ name: 'first', fill: 1 }]);
      assert.equal(await kubectl(['get', 'secret', 'db', '-o', 'jsonpath={.data.password}']), Buffer.from('hunter2-top-secret').toString('base64'));
      assert.match(await kubectl(['get', 'secrets', '-o', 'name']), /secret\/db/);
    });

    it('rotates to a new key: added, made first, every Secret rewritten by kubectl replace, the old key removed', async () => {
      await start([{ name: 'first', fill: 1 }, { name: 'second', fill: 2 }]);
      assert.equal(await prefixOf(SECRET_KEY), 'k8s:enc:aesgcm:v1:first:');
      await start([{ name: 'second', fill: 2 }, { name: 'first', fill: 1 }]);
      const all = await kubectl(['get', 'secrets', '--all-namespaces', '-o', 'json']);
      assert.equal(await prefixOf(SECRET_KEY), 'k8s:enc:aesgcm:v1:first:', 'nothing is rewritten behind the user\'s back');
      await start([{ name: 'second', fill: 2 }, { name: 'first', fill: 1 }]);
      // kubectl validates a List against /openapi/v2, which ketch does not serve yet (the extensibility issue adds it).
      assert.match(await kubectl(['replace', '--validate=false', '-f', '-'], all), /secret\/db replaced/);
      assert.equal(await prefixOf(SECRET_KEY), 'k8s:enc:aesgcm:v1:second:', 'an unchanged object under an old key is written again');
      await start([{ name: 'second', fill: 2 }]);
      assert.equal(await kubectl(['get', 'secret', 'db', '-o', 'jsonpath={.data.password}']), Buffer.from('hunter2-top-secret').toString('base64'));
    });

    it('a server without the key answers a Status naming the key, and keeps serving other kinds', async () => {
      await start([{ name: 'third', fill: 3 }]);
      const out = await kubectl(['get', 'secret', 'db']).then(
        () => 'succeeded',
        (err: Error) => err.message,
      );
      assert.match(out, /InternalError|Internal error/i);
      assert.match(out, /unable to transform key "\/registry\/core\/secrets\/default\/db": failed to decrypt the data: identity transformer tried to read encrypted data/);
      assert.match(await kubectl(['get', 'configmap', 'cfg', '-o', 'name']), /configmap\/cfg/);
    });
  });
}
