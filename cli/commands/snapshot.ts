// `ketch snapshot save|restore|ls|prune`: snapshots of the store (k3s's `etcd-snapshot`), for the embedded store and
// for etcd. save on the embedded store asks the running server (which holds the store locked) over its socket, or
// opens the store itself when no server runs; on etcd it reads etcd's snapshot stream.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { EmbeddedStorage, EtcdStorage, type Backend } from '../../apiserver/storage/index.js';
import { embeddedPath } from '../../apiserver/storage/index.js';
import {
  listSnapshots,
  ON_DEMAND_PREFIX,
  pruneSnapshots,
  requestSnapshot,
  restoreEmbedded,
  restoreEtcd,
  saveSnapshot,
  snapshotBackend,
  verifySnapshot,
  type SnapshotInfo,
} from '../../apiserver/storage/snapshots.js';
import { snapshotDirOf } from '../../apiserver/storage/upkeep.js';
import { readFlags, type FlagTable } from '../../lib/flags.js';
import { addFlags, givenFlags } from '../component-flags.js';
import { cliOf } from '../context.js';
import { CliError } from '../errors.js';
import { formatColumns } from '../printers/table.js';
import { VERSION } from '../version.js';

const STORE_FLAGS: FlagTable = [
  { name: '--data-dir', kind: 'string', arg: 'dir', default: '/var/lib/ketch/server', description: "the server's state directory (embedded store, default snapshot directory)" },
  { name: '--etcd-servers', kind: 'list', arg: 'urls', description: 'comma-separated etcd endpoints; without it the embedded store under --data-dir' },
  { name: '--snapshot-dir', kind: 'string', arg: 'dir', description: 'directory of snapshots (default <data-dir>/snapshots)' },
];
const SAVE_FLAGS: FlagTable = [
  ...STORE_FLAGS,
  { name: '--name', kind: 'string', arg: 'prefix', default: ON_DEMAND_PREFIX, description: 'name prefix of the snapshot (the time is appended)' },
];
const PRUNE_FLAGS: FlagTable = [
  ...STORE_FLAGS,
  { name: '--name', kind: 'string', arg: 'prefix', default: ON_DEMAND_PREFIX, description: 'prune the snapshots with this name prefix' },
  { name: '--snapshot-retention', kind: 'int', arg: 'n', default: '5', description: 'snapshots of that prefix to keep' },
];
const RESTORE_FLAGS: FlagTable = [
  { name: '--data-dir', kind: 'string', arg: 'dir', description: 'embedded snapshot: the new data directory to restore into (must have no store)' },
  { name: '--etcd-data-dir', kind: 'string', arg: 'dir', description: 'etcd snapshot: the new etcd member data directory to restore into (must not exist)' },
  { name: '--etcd-name', kind: 'string', arg: 'name', description: "etcd snapshot: the restored member's --name (etcd's default when absent)" },
  { name: '--initial-cluster', kind: 'string', arg: 'value', description: "etcd snapshot: the restored member's --initial-cluster" },
  { name: '--initial-advertise-peer-urls', kind: 'string', arg: 'urls', description: "etcd snapshot: the restored member's --initial-advertise-peer-urls" },
];

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** Opens the store named by the flags for a snapshot of it (the embedded one only when no server holds it). */
function openForSnapshot(etcdServers: string[], dataDir: string): Backend {
  if (etcdServers.length) return new EtcdStorage({ endpoints: etcdServers });
  // Opening a missing file would make an empty store, and snapshot that.
  if (!existsSync(embeddedPath(dataDir))) throw new CliError(`no store at ${embeddedPath(dataDir)}: pass the server's --data-dir, or --etcd-servers`);
  return new EmbeddedStorage({ path: embeddedPath(dataDir) });
}

async function save(cmd: Command): Promise<void> {
  const f = readFlags(SAVE_FLAGS, givenFlags(cmd));
  const dataDir = resolve(f.string('--data-dir'));
  const dir = resolve(snapshotDirOf(dataDir, f.optional('--snapshot-dir')));
  const etcdServers = f.list('--etcd-servers');
  const name = f.string('--name');
  let info: SnapshotInfo | undefined = etcdServers.length ? undefined : await requestSnapshot(dataDir, name);
  if (!info) {
    const backend = openForSnapshot(etcdServers, dataDir);
    try {
      info = await saveSnapshot(backend, dir, name, VERSION);
    } finally {
      await backend.close();
    }
  }
  cliOf(cmd).out(`snapshot ${info.name} saved: ${info.path} (${info.backend}, revision ${info.revision}, ${mib(info.size)})`);
}

async function ls(cmd: Command): Promise<void> {
  const f = readFlags(STORE_FLAGS, givenFlags(cmd));
  const dir = resolve(snapshotDirOf(resolve(f.string('--data-dir')), f.optional('--snapshot-dir')));
  const rows = (await listSnapshots(dir)).map((s) => [s.name, s.backend, String(s.revision), mib(s.size), s.createdAt, s.path]);
  cliOf(cmd).out(formatColumns([['NAME', 'BACKEND', 'REVISION', 'SIZE', 'CREATED', 'LOCATION'], ...rows]));
}

async function prune(cmd: Command): Promise<void> {
  const f = readFlags(PRUNE_FLAGS, givenFlags(cmd));
  const dir = resolve(snapshotDirOf(resolve(f.string('--data-dir')), f.optional('--snapshot-dir')));
  const gone = await pruneSnapshots(dir, f.string('--name'), f.int('--snapshot-retention'));
  const cli = cliOf(cmd);
  for (const s of gone) cli.out(`snapshot ${s.name} deleted`);
  if (!gone.length) cli.out('no snapshot to prune');
}

async function restore(file: string, cmd: Command): Promise<void> {
  const f = readFlags(RESTORE_FLAGS, givenFlags(cmd));
  const path = resolve(file);
  const cli = cliOf(cmd);
  await verifySnapshot(path);
  if ((await snapshotBackend(path)) === 'embedded') {
    const dataDir = f.optional('--data-dir');
    if (!dataDir) throw new CliError('an embedded snapshot is restored into a new data directory: pass --data-dir');
    const { revision } = await restoreEmbedded(path, embeddedPath(resolve(dataDir)));
    cli.out(`restored ${path} (revision ${revision}) into ${resolve(dataDir)}: start it with ketch server --data-dir ${resolve(dataDir)}`);
    return;
  }
  const etcdDataDir = f.optional('--etcd-data-dir');
  if (!etcdDataDir) throw new CliError('an etcd snapshot is restored into a new etcd data directory: pass --etcd-data-dir');
  const opt = (name: string): string | undefined => f.optional(name) || undefined;
  const name = opt('--etcd-name');
  const initialCluster = opt('--initial-cluster');
  const initialAdvertisePeerUrls = opt('--initial-advertise-peer-urls');
  const { tool } = await restoreEtcd(path, {
    dataDir: resolve(etcdDataDir),
    ...(name ? { name } : {}),
    ...(initialCluster ? { initialCluster } : {}),
    ...(initialAdvertisePeerUrls ? { initialAdvertisePeerUrls } : {}),
  });
  cli.out(`restored ${path} with ${tool} into ${resolve(etcdDataDir)}: start etcd with --data-dir ${resolve(etcdDataDir)}, then ketch server --etcd-servers`);
}

export function register(program: Command): void {
  const snapshot = program.command('snapshot').description('save, list, prune and restore snapshots of the store (embedded or etcd)');
  addFlags(snapshot.command('save').description('take a snapshot of the store now'), SAVE_FLAGS).action((_o: unknown, cmd: Command) => save(cmd));
  addFlags(snapshot.command('ls').alias('list').description('list the snapshots in the snapshot directory'), STORE_FLAGS).action((_o: unknown, cmd: Command) => ls(cmd));
  addFlags(snapshot.command('prune').description('delete all but the newest snapshots of a name prefix'), PRUNE_FLAGS).action((_o: unknown, cmd: Command) => prune(cmd));
  addFlags(snapshot.command('restore').argument('<file>', 'the snapshot file').description('restore a snapshot into a new data directory'), RESTORE_FLAGS).action(
    (file: string, _o: unknown, cmd: Command) => restore(file, cmd),
  );
}
