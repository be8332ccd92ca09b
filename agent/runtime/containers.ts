// Containers: an overlay rootfs over the image's layers, a runc bundle, and a run in a monitor process (monitor-pool.ts).
// All state is in root/containers/<id>: container.json (what was asked), started.json and exit.json
// (written by the monitor), so a restarted service sees exactly what happened while it was down.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { cgroupDir } from './cgroups.js';
import { consoleHelper } from './console.js';
import type { ContainerConfig, ContainerState, LinuxContainerResources } from '../cri/types.js';
import { RuntimeError, invalid, notFound } from '../cri/errors.js';
import { mountFs, run, unmountFs } from './command-runner.js';
import { isMountPoint } from '../volumes/csi-local/mount.js';
import type { ImageRecord, ImageStore, ImagesInUse } from './image-store.js';
import { type ExitFile, FILES, type MonitorConfig, type StartedFile, lastRuncError, nowNanos } from './monitor.js';
import { MonitorPool, procStartTime } from './monitor-pool.js';
import { readJson, writeJson } from './files.js';
import { errnoOf, isNotExist } from '../../lib/errno.js';
import { RecordFiles } from './records.js';
import { buildSpec, ociResources } from './oci-spec.js';
import type { SandboxRecord } from './sandboxes.js';
import { realClock, type Clock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

const START_ERROR_EXIT_CODE = 128;
/** mount(2) copies one page of options, NUL included. */
const MOUNT_OPTIONS_MAX = 4096;

export interface ContainerRecord {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  imageId: string;
  /** A digested reference (repo@sha256:...) when the image has one, else the image id. */
  imageRef: string;
  chainIds: string[];
  createdAt: string;
  logPath: string;
  cgroupsPath: string;
  resources: LinuxContainerResources | null;
  monitor?: { pid: number; startTime: string };
}

export interface ContainerView {
  record: Readonly<ContainerRecord>;
  state: ContainerState;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  pid?: number;
}

function readStateFile<T>(file: string): T | undefined {
  // Mostly not there yet (a running container has no exit.json): a stat is cheaper than a failed open that throws.
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    // The monitor writes these files atomically, so this is a file removed meanwhile or damaged: read again next time.
    if (!isNotExist(err)) log.warn('container state file unreadable', { file, error: String(err) });
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // ESRCH: no such process. EPERM would mean it exists under another user, which a container's init may be.
    return errnoOf(err) === 'EPERM';
  }
}

export interface ContainerLogOptions {
  /** Rotate a container's log once it reaches this many bytes (0 or absent: never). */
  maxBytes?: number;
  /** Log files kept per container, the live one included (default 5). */
  maxFiles?: number;
}

export class ContainerStore {
  readonly dir: string;
  readonly runcRoot: string;
  private readonly monitors: MonitorPool;
  private readonly written = new Map<string, { started?: StartedFile; exit?: ExitFile }>();
  private readonly records: RecordFiles<ContainerRecord>;

  constructor(
    private readonly root: string,
    private readonly images: ImageStore,
    private readonly logs: ContainerLogOptions = {},
    private readonly clock: Clock = realClock,
  ) {
    this.dir = join(root, 'containers');
    this.runcRoot = join(root, 'runc');
    this.records = new RecordFiles(this.dir, 'container.json');
    this.monitors = new MonitorPool(root, undefined, clock);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.runcRoot, { recursive: true });
    await this.records.load();
    this.monitors.warm();
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }

  /** Copies of the records (of those that match); served from memory. */
  async list(match?: (rec: ContainerRecord) => boolean): Promise<ContainerRecord[]> {
    return this.records.list(match);
  }

  /** The records themselves (of those that match), read-only: for listings that change nothing. */
  peek(match?: (rec: Readonly<ContainerRecord>) => boolean): Readonly<ContainerRecord>[] {
    return this.records.peek(match);
  }

  async get(id: string): Promise<ContainerRecord> {
    if (!id) throw invalid('container id is empty');
    const rec = this.records.get(id);
    if (!rec) throw notFound(`container "${id}"`);
    return rec;
  }

  private async save(rec: ContainerRecord): Promise<void> {
    await this.records.save(rec);
  }

  async imagesInUse(): Promise<ImagesInUse> {
    const all = this.peek();
    return { imageIds: new Set(all.map((c) => c.imageId)), chainIds: new Set(all.flatMap((c) => c.chainIds)) };
  }

  /** What state the container is in, from the files the monitor left and whether processes live. */
  async view(rec: Readonly<ContainerRecord>): Promise<ContainerView> {
    const { exit, started } = this.monitorFiles(rec.id);
    const base = { record: rec, startedAt: started?.startedAt ?? '0', finishedAt: '0', exitCode: 0, reason: '', message: '' };
    if (exit) {
      const reason = exit.startError ? 'StartError' : exit.oomKilled ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
      // A process that never started has no exit code of its own: 128, as containerd reports it.
      const exitCode = exit.startError ? START_ERROR_EXIT_CODE : exit.exitCode;
      return { ...base, state: 'CONTAINER_EXITED', finishedAt: exit.finishedAt, exitCode, reason, message: exit.startError ?? '' };
    }
    if (!rec.monitor) return { ...base, state: 'CONTAINER_CREATED' };
    if (procStartTime(rec.monitor.pid) === rec.monitor.startTime) {
      return started ? { ...base, state: 'CONTAINER_RUNNING', pid: started.pid } : { ...base, state: 'CONTAINER_CREATED' };
    }
    // The monitor is gone without writing exit.json: a second look, since it may have just finished.
    if (this.monitorFiles(rec.id).exit) return this.view(rec);
    if (started && alive(started.pid)) return { ...base, state: 'CONTAINER_RUNNING', pid: started.pid, message: 'monitor process lost; the exit code will not be recorded' };
    return { ...base, state: 'CONTAINER_EXITED', exitCode: 255, reason: 'Unknown', message: 'the monitor process ended without recording an exit code' };
  }

  /**
   * started.json and exit.json, which never change once written: each is read until it is there, then kept. Views
   * are frequent (every pod sync lists its containers), and a synchronous read of a small local file costs less
   * than the four thread-pool round trips of an asynchronous one.
   */
  private monitorFiles(id: string): { started?: StartedFile; exit?: ExitFile } {
    let f = this.written.get(id);
    if (!f) this.written.set(id, (f = {}));
    const dir = this.containerDir(id);
    f.exit ??= readStateFile<ExitFile>(join(dir, FILES.exit));
    f.started ??= readStateFile<StartedFile>(join(dir, FILES.started));
    return f;
  }

  async create(sandbox: SandboxRecord, config: ContainerConfig): Promise<ContainerRecord> {
    if (sandbox.state !== 'SANDBOX_READY') throw new RuntimeError('FailedPrecondition', `pod sandbox ${sandbox.id} is not ready`);
    const md = config.metadata;
    if (!md?.name) throw invalid('container metadata.name is required');
    const [other] = this.peek((o) => o.sandboxId === sandbox.id && o.config.metadata?.name === md.name && o.config.metadata.attempt === md.attempt);
    if (other) throw new RuntimeError('AlreadyExists', `container ${md.name} attempt ${md.attempt} already exists in sandbox ${sandbox.id} as ${other.id}`);
    const imageName = config.image?.image ?? '';
    if (!imageName) throw invalid('container image is required');
    const image = await this.images.find(imageName);
    if (!image) throw notFound(`image "${imageName}"`);

    const id = randomBytes(32).toString('hex');
    const dir = this.containerDir(id);
    const rootfs = join(dir, 'rootfs');
    for (const d of ['upper', 'work', 'rootfs']) await mkdir(join(dir, d), { recursive: true });
    const logPath = sandbox.config.logDirectory && config.logPath ? join(sandbox.config.logDirectory, config.logPath) : config.logPath.startsWith('/') ? config.logPath : join(dir, 'output.log');
    const rec: ContainerRecord = {
      id,
      sandboxId: sandbox.id,
      config,
      imageId: image.id,
      imageRef: image.repoDigests[0] ?? image.id,
      chainIds: image.chainIds,
      createdAt: nowNanos().toString(),
      logPath,
      cgroupsPath: `${sandbox.cgroupParent.replace(/\/+$/, '')}/${id}`,
      resources: config.linux?.resources ?? null,
    };
    try {
      await this.mountRootfs(rec, image, rootfs);
      const spec = buildSpec({
        config,
        image,
        rootfs,
        hostname: sandbox.hostname,
        hostNetwork: sandbox.hostNetwork,
        netnsPath: sandbox.network?.netnsPath,
        ipcPath: sandbox.ipcPath,
        utsPath: sandbox.utsPath,
        etcFiles: sandbox.etc,
        cgroupsPath: rec.cgroupsPath,
        sysctls: sandbox.config.linux?.sysctls ?? {},
      });
      await writeJson(join(dir, 'config.json'), spec);
      await this.save(rec);
      await this.images.touch(image.id);
    } catch (err) {
      await this.unmountRootfs(rootfs);
      await rm(dir, { recursive: true, force: true });
      this.records.forget(id);
      throw err;
    }
    log.info('container created', { container: id, name: md.name, sandbox: sandbox.id, image: image.id });
    return rec;
  }

  private async mountRootfs(rec: ContainerRecord, image: ImageRecord, rootfs: string): Promise<void> {
    const dir = this.containerDir(rec.id);
    let lowers = [...image.chainIds].reverse().map((c) => this.images.snapshotFs(c));
    if (!lowers.length) {
      await mkdir(join(dir, 'empty'), { recursive: true });
      lowers = [join(dir, 'empty')];
    }
    const opts = (path: (p: string) => string): string => `lowerdir=${lowers.map(path).join(':')},upperdir=${path(join(dir, 'upper'))},workdir=${path(join(dir, 'work'))}`;
    const absolute = opts((p) => p);
    // Absolute paths, made by the helper's mount(2). The kernel takes one page of options: beyond it (many layers),
    // paths relative to root through mount(8) run there, as the helper's working directory is not root.
    if (Buffer.byteLength(absolute) < MOUNT_OPTIONS_MAX && isAbsolute(this.root) && !/[,:\\]/.test(this.root)) {
      await mountFs('overlay', 'overlay', rootfs, absolute);
      return;
    }
    const rel = (p: string): string => p.slice(this.root.length + 1);
    await run('mount', ['-t', 'overlay', 'overlay', '-o', opts(rel), rel(rootfs)], { cwd: this.root });
  }

  private async unmountRootfs(rootfs: string): Promise<void> {
    // mountinfo escapes a space or backslash in a path: the shared reader compares them escaped.
    if (!(await isMountPoint(rootfs))) return;
    await unmountFs(rootfs);
  }

  /** Starts the monitor, which runs the container; resolves once the process runs, rejects if it could not start. */
  async start(rec: ContainerRecord): Promise<void> {
    const v = await this.view(rec);
    if (v.state !== 'CONTAINER_CREATED' || rec.monitor) throw new RuntimeError('FailedPrecondition', `container ${rec.id} is ${v.state}, not CONTAINER_CREATED`);
    const dir = this.containerDir(rec.id);
    const mcfg: MonitorConfig = {
      id: rec.id,
      runcRoot: this.runcRoot,
      bundle: dir,
      logPath: rec.logPath,
      memoryCgroup: cgroupDir('memory', rec.cgroupsPath),
      stdin: rec.config.stdin,
      stdinOnce: rec.config.stdinOnce,
      ...(rec.config.tty ? { console: await consoleHelper(join(this.root, 'bin')) } : {}),
      logMaxBytes: this.logs.maxBytes,
      logMaxFiles: this.logs.maxFiles,
    };
    await writeJson(join(dir, FILES.config), mcfg);
    const monitor = await this.monitors.take();
    rec.monitor = { pid: monitor.pid, startTime: monitor.startTime };
    try {
      await this.save(rec);
    } catch (err) {
      monitor.release();
      throw err;
    }
    // The record names the monitor before it acts.
    const answer = await monitor.run(dir, 60_000);
    if (answer.startsWith('started')) {
      log.info('container started', { container: rec.id, pid: Number(answer.split(' ')[1]) });
      return;
    }
    const after = await this.view(rec);
    if (after.state === 'CONTAINER_RUNNING' || (after.state === 'CONTAINER_EXITED' && after.reason !== 'StartError' && after.reason !== 'Unknown')) return;
    throw new RuntimeError('Internal', `container ${rec.id} failed to start: ${after.message || answer}`, false);
  }

  /** Lets idle monitors exit. Running containers and their monitors are left alone. */
  async close(): Promise<void> {
    await this.monitors.close();
  }

  private async waitExit(rec: ContainerRecord, timeoutMs: number): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const v = await this.view(rec);
      if (v.state !== 'CONTAINER_RUNNING') return true;
      if (this.clock.now() >= deadline) return false;
      await this.clock.sleep(20);
    }
  }

  private async kill(rec: ContainerRecord, signal: string): Promise<void> {
    const res = await run('runc', ['--root', this.runcRoot, 'kill', rec.id, signal], { allowFailure: true });
    if (res.code !== 0 && !/not running|does not exist|container not running/.test(res.stderr)) {
      log.warn('runc kill failed', { container: rec.id, signal, error: res.stderr.trim() });
    }
  }

  /** SIGTERM (or the image's StopSignal), then SIGKILL after `timeoutSec`. Idempotent. */
  async stop(rec: ContainerRecord, timeoutSec: number): Promise<void> {
    if ((await this.view(rec)).state !== 'CONTAINER_RUNNING') return;
    const image = await this.images.find(rec.imageId);
    if (timeoutSec > 0) {
      await this.kill(rec, image?.config.StopSignal || 'SIGTERM');
      if (await this.waitExit(rec, timeoutSec * 1000)) return;
    }
    await this.kill(rec, 'SIGKILL');
    if (!(await this.waitExit(rec, 30_000))) throw new RuntimeError('Internal', `container ${rec.id} did not die after SIGKILL`, false);
    log.info('container stopped', { container: rec.id });
  }

  /** Kills if needed, then removes runc state, the rootfs mount and the container's directory. Idempotent. */
  async remove(rec: ContainerRecord): Promise<void> {
    await this.stop(rec, 0);
    // A monitor that still holds a never-started container (a start that timed out) serves others too: runc delete
    // below removes the container, and the monitor then finds its directory gone.
    await run('runc', ['--root', this.runcRoot, 'delete', '--force', rec.id], { allowFailure: true });
    const dir = this.containerDir(rec.id);
    await this.unmountRootfs(join(dir, 'rootfs'));
    await rm(dir, { recursive: true, force: true });
    this.records.forget(rec.id);
    this.written.delete(rec.id);
    log.info('container removed', { container: rec.id });
  }

  async updateResources(rec: ContainerRecord, resources: LinuxContainerResources): Promise<void> {
    if ((await this.view(rec)).state === 'CONTAINER_RUNNING') {
      await run('runc', ['--root', this.runcRoot, 'update', '--resources', '-', rec.id], { input: JSON.stringify(ociResources(resources)) });
    }
    rec.resources = resources;
    const specFile = join(this.containerDir(rec.id), 'config.json');
    const spec = await readJson<{ linux?: { resources?: Record<string, unknown> } } | undefined>(specFile, undefined);
    if (spec?.linux) {
      spec.linux.resources = { ...(spec.linux.resources ?? {}), ...ociResources(resources) };
      await writeJson(specFile, spec);
    }
    await this.save(rec);
  }

  async reopenLog(rec: ContainerRecord): Promise<void> {
    const v = await this.view(rec);
    if (v.state !== 'CONTAINER_RUNNING' || !rec.monitor) throw new RuntimeError('FailedPrecondition', `container ${rec.id} is not running`);
    process.kill(rec.monitor.pid, 'SIGUSR1');
  }

  /** Runs a command in the container; output capped at 16 MiB per stream. */
  async execSync(rec: ContainerRecord, cmd: string[], timeoutSec: number): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    if (!cmd.length) throw invalid('exec: cmd is empty');
    if ((await this.view(rec)).state !== 'CONTAINER_RUNNING') throw new RuntimeError('FailedPrecondition', `container ${rec.id} is not running`);
    const tag = randomBytes(4).toString('hex');
    const pidFile = join(this.containerDir(rec.id), `exec-${tag}.pid`);
    const runcLog = join(this.containerDir(rec.id), `exec-${tag}.log`);
    const child = spawn('runc', ['--root', this.runcRoot, '--log', runcLog, '--log-format', 'json', 'exec', '--pid-file', pidFile, rec.id, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    const cap = 16 * 1024 * 1024;
    const collect = (s: NodeJS.ReadableStream | null): Buffer[] => {
      const parts: Buffer[] = [];
      let size = 0;
      s?.on('data', (b: Buffer) => {
        if (size < cap) parts.push(b.subarray(0, cap - size));
        size += b.length;
      });
      return parts;
    };
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    let timedOut = false;
    const timer = timeoutSec > 0
      ? this.clock.setTimer(timeoutSec * 1000, () => {
          timedOut = true;
          // Without a pid file runc has not started the command yet: killing runc itself stops it.
          void readFile(pidFile, 'utf8').then((p) => process.kill(Number(p), 'SIGKILL')).catch(() => child.kill('SIGKILL'));
        })
      : undefined;
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, sig) => resolve(c ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
    });
    timer?.cancel();
    // runc logs an error only when it could not run the command (e.g. no such binary): that is no exit code.
    const runcError = lastRuncError(await readFile(runcLog, 'utf8').catch((e: unknown) => {
      // No log: runc wrote no error (it writes the file only when it has something to say).
      if (isNotExist(e)) return '';
      throw e;
    }));
    await Promise.all([rm(pidFile, { force: true }), rm(runcLog, { force: true })]);
    if (timedOut) throw new RuntimeError('DeadlineExceeded', `command ${JSON.stringify(cmd)} timed out after ${timeoutSec}s`, false);
    if (runcError) throw new RuntimeError('Internal', `exec ${JSON.stringify(cmd)} in container ${rec.id} failed: ${runcError}`, false);
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: code };
  }
}
