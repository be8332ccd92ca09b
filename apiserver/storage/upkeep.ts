// What a server process runs beside its store: the compactor, scheduled snapshots and, for the embedded store, the
// socket through which `ketch snapshot save` asks for a snapshot.
import { join } from 'node:path';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { startCompactor } from './compactor.js';
import type { Backend } from './maintenance.js';
import { serveSnapshotSocket, snapshotSocketPath, startSnapshotSchedule } from './snapshots.js';

export interface UpkeepOptions {
  dataDir: string;
  /** kube-apiserver's --etcd-compaction-interval; 0 disables compaction. */
  compactionIntervalMs: number;
  /** Time between scheduled snapshots; 0 disables them. */
  snapshotIntervalMs: number;
  snapshotRetention: number;
  /** Default DATA/snapshots. */
  snapshotDir?: string;
  ketchVersion: string;
  log: Logger;
  clock?: Clock;
}

/** The snapshot directory of a data dir unless one is given. */
export const snapshotDirOf = (dataDir: string, given?: string): string => given || join(dataDir, 'snapshots');

export async function startStorageUpkeep(backend: Backend, o: UpkeepOptions): Promise<{ stop(): Promise<void> }> {
  const dir = snapshotDirOf(o.dataDir, o.snapshotDir);
  const compactor = startCompactor(backend, o.compactionIntervalMs, o.log, o.clock);
  const schedule = startSnapshotSchedule({ backend, dir, intervalMs: o.snapshotIntervalMs, retention: o.snapshotRetention, ketchVersion: o.ketchVersion, log: o.log, ...(o.clock ? { clock: o.clock } : {}) });
  const socketPath = snapshotSocketPath(o.dataDir);
  const socket =
    backend.kind === 'embedded'
      ? await serveSnapshotSocket({ backend, socketPath, dir, ketchVersion: o.ketchVersion, log: o.log }).catch((err: unknown) => {
          // The server runs without it (e.g. a data dir path too long for a unix socket): `ketch snapshot save` then
          // reports the store in use, and scheduled snapshots still run.
          o.log.warn('snapshot socket not served', { socketPath, error: String(err) });
          return undefined;
        })
      : undefined;
  return {
    stop: async () => {
      await socket?.close();
      await schedule.stop();
      await compactor.stop();
    },
  };
}
