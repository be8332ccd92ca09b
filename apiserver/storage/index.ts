// Storage entry point: picks the backend (etcd when servers are given, else the embedded store under the data dir)
// and checks the stored-data format before anything reads it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { logger, type Logger } from '../../lib/logger.js';
import { EmbeddedStorage } from './embedded.js';
import { EtcdStorage } from './etcd.js';
import type { EtcdTls } from './etcd-kv.js';
import { checkFormat } from './format.js';
import type { Backend } from './maintenance.js';

export * from './interface.js';
export type { Backend, BackendKind, CompactRound, FormatRecord, Maintenance, SnapshotResult } from './maintenance.js';
export { EmbeddedStorage } from './embedded.js';
export { EtcdStorage } from './etcd.js';
export type { EtcdTls } from './etcd-kv.js';
export { checkFormat, FormatError, STORAGE_FORMAT_VERSION } from './format.js';
export { startCompactor, type Compactor } from './compactor.js';

export interface OpenStorageOptions {
  /** Directory for the embedded store (DIR/db/state.db). */
  dataDir: string;
  /** etcd endpoints; when set the embedded store is not used. */
  etcdServers?: string[];
  /** The etcd client's CA, certificate and key (https endpoints). */
  etcdTls?: EtcdTls;
  /** The version of the ketch opening the store, recorded in it (see format.ts). */
  ketchVersion: string;
  log?: Logger;
}

/** The embedded store's file under a data dir. */
export const embeddedPath = (dataDir: string): string => join(dataDir, 'db', 'state.db');

/** Opens the backend; fails with FormatError when the store was written by a newer storage format. */
export async function openStorage(opts: OpenStorageOptions): Promise<Backend> {
  const log = opts.log ?? logger('storage');
  let backend: Backend;
  let where: string;
  if (opts.etcdServers?.length) {
    backend = new EtcdStorage({ endpoints: opts.etcdServers, ...(opts.etcdTls ? { tls: opts.etcdTls } : {}) });
    where = `etcd ${opts.etcdServers.join(',')}`;
  } else {
    mkdirSync(join(opts.dataDir, 'db'), { recursive: true, mode: 0o700 });
    where = embeddedPath(opts.dataDir);
    backend = new EmbeddedStorage({ path: where, log });
  }
  try {
    await checkFormat(backend, opts.ketchVersion, where, log);
  } catch (err) {
    await backend.close();
    throw err;
  }
  return backend;
}
