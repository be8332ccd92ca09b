// Storage entry point: picks the backend (etcd when servers are given, else the embedded store under the data dir).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedStorage } from './embedded.js';
import { EtcdStorage } from './etcd.js';
import type { EtcdTls } from './etcd-kv.js';
import type { Storage } from './interface.js';

export * from './interface.js';
export { EmbeddedStorage } from './embedded.js';
export { EtcdStorage } from './etcd.js';
export type { EtcdTls } from './etcd-kv.js';

export interface OpenStorageOptions {
  /** Directory for the embedded store (DIR/db/state.db). */
  dataDir: string;
  /** etcd endpoints; when set the embedded store is not used. */
  etcdServers?: string[];
  /** The etcd client's CA, certificate and key (https endpoints). */
  etcdTls?: EtcdTls;
}

export function openStorage(opts: OpenStorageOptions): Promise<Storage> {
  if (opts.etcdServers?.length) return Promise.resolve(new EtcdStorage({ endpoints: opts.etcdServers, ...(opts.etcdTls ? { tls: opts.etcdTls } : {}) }));
  const dir = join(opts.dataDir, 'db');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return Promise.resolve(new EmbeddedStorage({ path: join(dir, 'state.db') }));
}
