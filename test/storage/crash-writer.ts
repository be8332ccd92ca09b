// Child process for the durability tests: writes keys one after another and prints each key once its write is acknowledged.
// Usage: tsx crash-writer.ts embedded <db-file> <prefix> | etcd <endpoint> <prefix>
import { EmbeddedStorage } from '../../apiserver/storage/embedded.js';
import { EtcdStorage } from '../../apiserver/storage/etcd.js';
import type { Storage } from '../../apiserver/storage/interface.js';

const [backend, target, prefix] = process.argv.slice(2);
if (!backend || !target || !prefix) throw new Error('usage: crash-writer embedded|etcd TARGET PREFIX');
const store: Storage = backend === 'etcd' ? new EtcdStorage({ endpoints: [target] }) : new EmbeddedStorage({ path: target });
// Eight writers in flight at once, so that acknowledged and unacknowledged writes interleave when the kill comes.
let next = 0;
async function writer(): Promise<never> {
  for (;;) {
    const key = `${prefix}${String(next++).padStart(8, '0')}`;
    await store.create(key, Buffer.from(`value-of-${key}`));
    process.stdout.write(`${key}\n`);
  }
}
await Promise.all(Array.from({ length: 8 }, writer));
