// Acknowledged writes survive kill -9: of the process holding the embedded store, and of an etcd client.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import type { Storage } from '../../apiserver/storage/interface.js';
import { startEtcd, type EtcdServer } from '../support/etcd-server.js';

const writer = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));

/** Runs the crash writer until it has acknowledged `acks` writes, then kills it with SIGKILL; returns the acked keys. */
async function writeThenKill(args: string[], acks: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const acked: string[] = [];
  let buf = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      acked.push(...lines);
      if (acked.length >= acks && !child.killed) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', (code) => {
      if (acked.length < acks) reject(new Error(`writer exited early (${String(code)}): ${stderr}`));
    });
  });
  assert.equal(await exited, 'SIGKILL');
  return acked;
}

async function assertAllPresent(store: Storage, keys: string[]): Promise<void> {
  const missing: string[] = [];
  for (const key of keys) {
    const kv = await store.get(key);
    if (!kv || Buffer.from(kv.value).toString() !== `value-of-${key}`) missing.push(key);
  }
  assert.deepEqual(missing, [], `${missing.length} of ${keys.length} acknowledged writes lost`);
}

describe('durability after kill -9', function () {
  this.timeout(60_000);

  it('embedded: every acknowledged write is there after the process is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ketch-crash-'));
    try {
      const file = join(dir, 'state.db');
      const acked = await writeThenKill(['embedded', file, '/crash/'], 300);
      const store = new EmbeddedStorage({ path: file });
      try {
        await assertAllPresent(store, acked);
        // The store is usable after recovery: revisions continue and new writes work.
        const before = await store.currentRevision();
        const kv = await store.create('/crash/after', Buffer.from('x'));
        assert.ok(kv.modRevision > before);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('etcd', () => {
    let etcd: EtcdServer;
    before(async () => (etcd = await startEtcd()));
    after(async () => etcd.stop());

    it('every acknowledged write is there after the client is killed', async () => {
      const acked = await writeThenKill(['etcd', etcd.endpoint, '/crash/'], 300);
      const store = new EtcdStorage({ endpoints: [etcd.endpoint] });
      try {
        await assertAllPresent(store, acked);
      } finally {
        await store.close();
      }
    });
  });
});
