// Snapshots of the store (k3s's pkg/etcd/snapshot.go, for both backends): files in a snapshot directory, each with a
// JSON record beside it (backend, revision, size, SHA-256, format); scheduled ones with retention; restore into a new
// data directory (embedded) or a new etcd data directory (etcdutl/etcdctl snapshot restore); and a local socket
// through which `ketch snapshot save` asks a running server for a snapshot of the embedded store, which that server
// holds locked.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, copyFile, constants, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { realClock, type Clock, type TimerHandle } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { FormatError, STORAGE_FORMAT_VERSION } from './format.js';
import type { Backend, BackendKind } from './maintenance.js';

export interface SnapshotInfo {
  /** File name without its directory and without `.db`; the record is NAME.json beside it. */
  name: string;
  path: string;
  backend: BackendKind;
  createdAt: string;
  /** The store's revision in the snapshot. */
  revision: number;
  size: number;
  /** SHA-256 of the whole file, checked at restore. */
  sha256: string;
  formatVersion: number;
  ketchVersion: string;
}

/** Name prefixes: scheduled snapshots are pruned by the server's retention; others only by `ketch snapshot prune`. */
export const SCHEDULED_PREFIX = 'scheduled';
export const ON_DEMAND_PREFIX = 'on-demand';

/** The socket of a running server, under its data dir, that takes snapshots of its embedded store. */
export const snapshotSocketPath = (dataDir: string): string => join(dataDir, 'db', 'snapshot.sock');

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0');
const NAME = /^[a-z0-9][a-z0-9.-]{0,62}$/;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** 20250102T030405.678Z: sorts as it reads, and has no ':' (file names on every system). */
const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '');

/** Takes a snapshot into dir as PREFIX-STAMP.db with its record. */
export async function saveSnapshot(backend: Backend, dir: string, prefix: string, ketchVersion: string, clock: Clock = realClock): Promise<SnapshotInfo> {
  if (!NAME.test(prefix)) throw new Error(`snapshot name ${JSON.stringify(prefix)} is not valid: lower-case letters, digits, '-' and '.'`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const created = clock.now();
  const name = `${prefix}-${stamp(created)}`;
  const path = join(dir, `${name}.db`);
  const { revision, size } = await backend.snapshot(path);
  await chmod(path, 0o600);
  const info: SnapshotInfo = {
    name,
    path,
    backend: backend.kind,
    createdAt: new Date(created).toISOString(),
    revision,
    size,
    sha256: await sha256File(path),
    formatVersion: STORAGE_FORMAT_VERSION,
    ketchVersion,
  };
  // The record last: a snapshot without one is a save that did not finish, which ls does not list.
  await writeFile(join(dir, `${name}.json`), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  return info;
}

/** Snapshots in dir, newest first (those with a record). */
export async function listSnapshots(dir: string): Promise<SnapshotInfo[]> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SnapshotInfo[] = [];
  for (const f of files.filter((x) => x.endsWith('.json'))) {
    const info = JSON.parse(await readFile(join(dir, f), 'utf8')) as SnapshotInfo;
    out.push({ ...info, path: join(dir, `${info.name}.db`) });
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}

/** Deletes all but the `retain` newest snapshots named PREFIX-...; returns the deleted ones. */
export async function pruneSnapshots(dir: string, prefix: string, retain: number): Promise<SnapshotInfo[]> {
  const mine = (await listSnapshots(dir)).filter((s) => s.name.startsWith(`${prefix}-`));
  const doomed = mine.slice(Math.max(0, retain));
  for (const s of doomed) {
    await rm(s.path, { force: true });
    await rm(join(dir, `${s.name}.json`), { force: true });
  }
  return doomed;
}

/** The record beside a snapshot file, when there is one (a file copied without it is restored all the same). */
async function recordOf(file: string): Promise<SnapshotInfo | undefined> {
  const record = join(dirname(file), `${basename(file).replace(/\.db$/, '')}.json`);
  if (!existsSync(record)) return undefined;
  return JSON.parse(await readFile(record, 'utf8')) as SnapshotInfo;
}

/** Which backend a snapshot file is from: SQLite's header, else etcd's (bbolt) database. */
export async function snapshotBackend(file: string): Promise<BackendKind> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    await fh.read(head, 0, head.length, 0);
    return head.equals(SQLITE_MAGIC) ? 'embedded' : 'etcd';
  } finally {
    await fh.close();
  }
}

/** Checks a snapshot file against its record's SHA-256, and its format against this ketch's. */
export async function verifySnapshot(file: string): Promise<SnapshotInfo | undefined> {
  const info = await recordOf(file);
  if (info) {
    const sum = await sha256File(file);
    if (sum !== info.sha256) throw new Error(`snapshot ${file} does not match its record: SHA-256 ${sum}, recorded ${info.sha256}`);
    if (info.formatVersion > STORAGE_FORMAT_VERSION) {
      throw new FormatError(`snapshot ${file} was taken by ketch ${info.ketchVersion} in storage format ${info.formatVersion}; this ketch reads format ${STORAGE_FORMAT_VERSION} and older`);
    }
  }
  return info;
}

/** Restores an embedded snapshot as the store of a new data dir (which must have no store yet). */
export async function restoreEmbedded(file: string, storePath: string): Promise<{ revision: number }> {
  if (existsSync(storePath)) throw new Error(`${storePath} exists: restore into a new data directory`);
  await mkdir(dirname(storePath), { recursive: true, mode: 0o700 });
  const part = `${storePath}.restoring`;
  await copyFile(file, part, constants.COPYFILE_EXCL);
  try {
    const db = new Database(part);
    let revision: number;
    try {
      const check = db.pragma('integrity_check', { simple: true }) as string;
      if (check !== 'ok') throw new Error(`snapshot ${file} failed its integrity check: ${check}`);
      revision = db.prepare(`SELECT max(rev) FROM log`).pluck().get() as number;
    } finally {
      db.close();
    }
    await rename(part, storePath);
    return { revision };
  } finally {
    await rm(part, { force: true });
  }
}

export interface EtcdRestoreOptions {
  /** The new member's data directory (must not exist). */
  dataDir: string;
  /** etcd's --name, --initial-cluster and --initial-advertise-peer-urls for the restored member (etcd's defaults when absent). */
  name?: string;
  initialCluster?: string;
  initialAdvertisePeerUrls?: string;
}

/** The restore tool: etcdutl (etcd 3.5+) when installed, else etcdctl (Debian's etcd 3.4, where restore is etcdctl's). */
async function etcdRestoreTool(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(join(dir, 'etcdutl'))) return 'etcdutl';
  }
  return 'etcdctl';
}

/** Restores an etcd snapshot into a new member data dir with etcd's own tool, which checks the snapshot's hash. */
export async function restoreEtcd(file: string, opts: EtcdRestoreOptions): Promise<{ tool: string; output: string }> {
  if (existsSync(opts.dataDir)) throw new Error(`${opts.dataDir} exists: restore into a new etcd data directory`);
  const tool = await etcdRestoreTool();
  const args = ['snapshot', 'restore', file, '--data-dir', opts.dataDir];
  if (opts.name) args.push('--name', opts.name);
  if (opts.initialCluster) args.push('--initial-cluster', opts.initialCluster);
  if (opts.initialAdvertisePeerUrls) args.push('--initial-advertise-peer-urls', opts.initialAdvertisePeerUrls);
  try {
    const { stdout, stderr } = await promisify(execFile)(tool, args, { env: { ...process.env, ETCDCTL_API: '3' } });
    return { tool, output: stdout + stderr };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export interface SnapshotScheduleOptions {
  backend: Backend;
  dir: string;
  intervalMs: number;
  /** Scheduled snapshots kept (older ones are deleted after each new one); 0 keeps all. */
  retention: number;
  ketchVersion: string;
  log: Logger;
  clock?: Clock;
}

/** Takes a snapshot every interval and prunes the scheduled ones to the retention; 0 disables it. */
export function startSnapshotSchedule(o: SnapshotScheduleOptions): { stop(): Promise<void> } {
  if (o.intervalMs <= 0) return { stop: () => Promise.resolve() };
  const clock = o.clock ?? realClock;
  let timer: TimerHandle | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const take = async (): Promise<void> => {
    try {
      const s = await saveSnapshot(o.backend, o.dir, SCHEDULED_PREFIX, o.ketchVersion, clock);
      o.log.info('snapshot saved', { path: s.path, revision: s.revision, bytes: s.size });
      if (o.retention > 0) {
        for (const gone of await pruneSnapshots(o.dir, SCHEDULED_PREFIX, o.retention)) o.log.info('snapshot pruned', { path: gone.path });
      }
    } catch (err) {
      o.log.error('scheduled snapshot failed', { dir: o.dir, error: String(err) });
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = clock.setTimer(o.intervalMs, () => {
      running = take().then(schedule);
    });
  };
  schedule();
  o.log.info('scheduled snapshots started', { dir: o.dir, intervalMs: o.intervalMs, retention: o.retention });
  return {
    stop: async () => {
      stopped = true;
      timer?.cancel();
      await running;
    },
  };
}

/**
 * Serves `POST /snapshots?name=PREFIX` on a unix socket (mode 0600: only who may read the store may ask) for
 * `ketch snapshot save` while this process holds the embedded store.
 */
export async function serveSnapshotSocket(o: { backend: Backend; socketPath: string; dir: string; ketchVersion: string; log: Logger }): Promise<{ close(): Promise<void> }> {
  // A socket file left by a killed server: this process holds the store's lock, so no live server owns it.
  await rm(o.socketPath, { force: true });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method !== 'POST' || url.pathname !== '/snapshots') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('POST /snapshots?name=PREFIX\n');
      return;
    }
    saveSnapshot(o.backend, o.dir, url.searchParams.get('name') || ON_DEMAND_PREFIX, o.ketchVersion).then(
      (info) => {
        o.log.info('snapshot saved', { path: info.path, revision: info.revision, bytes: info.size });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(info));
      },
      (err: unknown) => {
        o.log.warn('snapshot failed', { error: String(err) });
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(err instanceof Error ? err.message : err));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => resolve());
  });
  await chmod(o.socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Asks the server holding the embedded store under dataDir for a snapshot; undefined when no server answers on its
 * socket (then the caller opens the store itself).
 */
export function requestSnapshot(dataDir: string, prefix: string): Promise<SnapshotInfo | undefined> {
  const socketPath = snapshotSocketPath(dataDir);
  if (!existsSync(socketPath)) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: `/snapshots?name=${encodeURIComponent(prefix)}` }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(JSON.parse(body) as SnapshotInfo);
        else reject(new Error(`the server could not take the snapshot: ${body}`));
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A socket file with no server behind it (a server killed with SIGKILL): nobody holds the store.
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(undefined);
      else reject(err);
    });
    req.end();
  });
}
