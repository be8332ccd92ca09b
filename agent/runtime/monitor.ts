// The container monitor (what conmon is to CRI-O): runs `runc run` in the foreground, writes the container's
// output to its CRI log, and records the exit code in exit.json. It is a process of its own (setsid), so
// containers keep running, and their exit codes are kept, while the runtime service is down. One monitor
// process serves up to MONITOR_CAPACITY containers: a Node process costs ~70 ms of CPU to boot and ~40 MB of
// memory, which one process per container paid on every start. It imports node builtins only (see monitorCommand),
// so it keeps time with its own process's clock and timers rather than lib/clock.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MonitorConfig {
  id: string;
  runcRoot: string;
  bundle: string;
  logPath: string;
  /** The container's memory cgroup directory, read for OOM kills before runc deletes it. */
  memoryCgroup?: string;
  /** Keep a stdin pipe open and serve attach.sock. */
  stdin: boolean;
  stdinOnce: boolean;
  /** A container with a terminal: runc runs under this console helper command (console.ts), which takes resizes on fd 3. */
  console?: string[];
  /** Rotate the log once it reaches this many bytes (0 or absent: never). */
  logMaxBytes?: number;
  /** Files kept in all, the live one included (default 5). */
  logMaxFiles?: number;
}

export interface StartedFile {
  pid: number;
  /** Nanoseconds since the epoch, as a decimal string. */
  startedAt: string;
}

export interface ExitFile {
  exitCode: number;
  finishedAt: string;
  oomKilled: boolean;
  /** Set when the process never started. */
  startError?: string;
}

export const FILES = {
  config: 'monitor.json',
  started: 'started.json',
  exit: 'exit.json',
  pid: 'init.pid',
  runcLog: 'runc.log',
  monitorLog: 'monitor.log',
} as const;

/** The abstract unix socket on which a container's monitor serves attach (a path could exceed 108 bytes). */
export function attachSocket(containerId: string): string {
  return `\0ketch-attach-${containerId}`;
}

/** Where the monitor of a container with a terminal takes resize lines ("COLS ROWS\n") for it. */
export function resizeSocket(containerId: string): string {
  return `\0ketch-resize-${containerId}`;
}

/**
 * The command that starts a monitor. From dist/ that is plain node on this file. From source it is plain
 * node on a copy transpiled once into `cacheDir`: `node --import tsx` costs ~0.7 s per container start,
 * plain node ~0.1 s. This file imports node builtins only, so the copy runs on its own; typescript, which
 * transpiles it, is a dev dependency like tsx, so it is there whenever the source runs.
 */
export async function monitorCommand(cacheDir: string): Promise<{ cmd: string; args: string[] }> {
  const file = fileURLToPath(import.meta.url);
  if (!file.endsWith('.ts')) return { cmd: process.execPath, args: [file] };
  let js = transpiled.get(cacheDir);
  if (!js) {
    js = transpile(file, cacheDir);
    transpiled.set(cacheDir, js);
    // A failed transpile is forgotten, so that the next start tries again; this caller gets the error from `await js`.
    js.catch(() => transpiled.delete(cacheDir));
  }
  const path = await js;
  // The cache directory may have been removed since (one process running several runtimes, as tests do).
  if (existsSync(path)) return { cmd: process.execPath, args: [path] };
  transpiled.delete(cacheDir);
  return monitorCommand(cacheDir);
}

const transpiled = new Map<string, Promise<string>>();

async function transpile(file: string, cacheDir: string): Promise<string> {
  const source = readFileSync(file, 'utf8');
  const out = join(cacheDir, `monitor-${createHash('sha256').update(source).digest('hex').slice(0, 16)}.mjs`);
  if (existsSync(out)) return out;
  const ts = (await import('typescript')).default;
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${out}.tmp-${process.pid}`, js);
  renameSync(`${out}.tmp-${process.pid}`, out);
  return out;
}

export function nowNanos(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** RFC 3339 with nanoseconds, as in CRI log lines: 2024-01-01T00:00:00.000000000Z. */
export function rfc3339Nano(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(secs) * 1000).toISOString().slice(0, 19)}.${frac}Z`;
}

const MAX_LINE = 16 * 1024;

/** Splits a byte stream into CRI log records: full lines tagged F, overlong pieces tagged P. */
export class CriLineWriter {
  private pending = Buffer.alloc(0);

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    private readonly write: (record: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
      this.emit('F', buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    while (buf.length >= MAX_LINE) {
      this.emit('P', buf.subarray(0, MAX_LINE));
      buf = buf.subarray(MAX_LINE);
    }
    this.pending = Buffer.from(buf);
  }

  end(): void {
    if (this.pending.length) this.emit('F', this.pending);
    this.pending = Buffer.alloc(0);
  }

  private emit(tag: 'F' | 'P', line: Buffer): void {
    this.write(Buffer.concat([Buffer.from(`${rfc3339Nano(nowNanos())} ${this.stream} ${tag} `), line, Buffer.from('\n')]));
  }
}

function atomicWrite(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(value));
  renameSync(`${file}.tmp`, file);
}

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** The last error in a runc JSON log (--log-format json), or ''. */
export function lastRuncError(text: string): string {
  for (const l of text.trim().split('\n').reverse()) {
    try {
      const entry = JSON.parse(l) as { level?: string; msg?: string };
      if (entry.level === 'error' || entry.level === 'fatal') return entry.msg ?? l;
    } catch {
      // runc writes plain text too (a Go panic's stack): such a line has no level, and the search goes on.
    }
  }
  return '';
}

/** A file's text; '' when it was never written (runc failed before its log); other errors are noted. */
function readText(file: string, note: (msg: string) => void): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') note(`cannot read ${file}: ${String(err)}`);
    return '';
  }
}

/** Rotation by size, as kubelet does it: log -> log.1 -> ... -> log.(maxFiles-1); the oldest is dropped. */
export function rotateLog(logPath: string, maxFiles: number): void {
  const keep = Math.max(1, maxFiles - 1);
  rmSync(`${logPath}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    if (existsSync(`${logPath}.${i}`)) renameSync(`${logPath}.${i}`, `${logPath}.${i + 1}`);
  }
  renameSync(logPath, `${logPath}.1`);
}

/**
 * Whether the kernel OOM-killed a process of the container: the oom_kill count of memory.events (cgroup v2) or of
 * memory.oom_control (v1) in its memory cgroup directory.
 */
export function oomKilled(memoryCgroup: string | undefined, note: (msg: string) => void): boolean {
  if (!memoryCgroup) return false;
  for (const file of ['memory.events', 'memory.oom_control']) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(memoryCgroup, file), 'utf8'));
      return Number(m?.[1] ?? 0) > 0;
    } catch (err) {
      // No such file: the other hierarchy's, or the cgroup is already gone (then there is no OOM count to read).
      if (errnoOf(err) !== 'ENOENT') note(`cannot read the OOM count: ${String(err)}`);
    }
  }
  return false;
}

/** Containers one monitor process takes at most: boot cost shared against how many lose their monitor with it. */
export const MONITOR_CAPACITY = 16;

/** A reply of a monitor to the runtime service, one JSON line per container on the monitor's stdout. */
export interface MonitorReply {
  dir: string;
  /** "started PID", "failed MESSAGE" or "exited CODE". */
  msg: string;
}

/** What every container of this monitor process shares: log reopening (SIGUSR1) and the count of live ones. */
const host = { reopeners: new Set<() => void>(), live: 0, takingMore: true };

function noteHost(msg: string): void {
  try {
    process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
  } catch {
    // stderr is the runtime's monitor.log: a note that cannot be written there has nowhere else to go.
  }
}

function hostSetup(): void {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE'] as const) process.on(sig, () => noteHost(`ignored ${sig}`));
  // ReopenContainerLog: a log was rotated away by someone else; reopening the others changes nothing.
  process.on('SIGUSR1', () => host.reopeners.forEach((r) => r()));
  // One container's trouble must not end the monitoring of the others.
  process.on('uncaughtException', (err) => noteHost(`uncaught: ${err.stack ?? String(err)}`));
}

function containerDone(): void {
  host.live--;
  if (host.live <= 0 && !host.takingMore) process.exit(0);
}

/** Replies on fd 1 (a pipe to the runtime service, which may be gone: state files tell the next one). */
function reply(dir: string, msg: string): void {
  try {
    writeSync(1, `${JSON.stringify({ dir, msg } satisfies MonitorReply)}\n`);
  } catch (err) {
    // EPIPE: the runtime service went away; the next one reads the state files instead.
    if (errnoOf(err) !== 'EPIPE') noteHost(`reply for ${dir} not sent: ${String(err)}`);
  }
}

function runMonitor(dir: string): void {
  host.live++;
  try {
    monitorContainer(dir);
  } catch (err) {
    // Before runc ran (no config, no log file): the container never started.
    const startError = `monitor: ${String(err)}`;
    noteHost(`container ${dir}: ${startError}`);
    try {
      atomicWrite(join(dir, FILES.exit), { exitCode: 128, finishedAt: nowNanos().toString(), oomKilled: false, startError } satisfies ExitFile);
    } catch (e) {
      // ENOENT: the directory is gone (the container was removed), and nobody will ask for its exit.
      if (errnoOf(e) !== 'ENOENT') noteHost(`container ${dir}: exit file not written: ${String(e)}`);
    }
    reply(dir, `failed ${startError}`);
    containerDone();
  }
}

/** The container's CRI log file: records appended, rotated by size, reopened on SIGUSR1. */
function openLog(cfg: MonitorConfig, note: (msg: string) => void): { write(b: Buffer): void; close(): void } {
  mkdirSync(dirname(cfg.logPath), { recursive: true });
  let fd = openSync(cfg.logPath, 'a');
  let size = fstatSync(fd).size;
  const reopen = (): void => {
    const old = fd;
    fd = openSync(cfg.logPath, 'a');
    size = fstatSync(fd).size;
    closeSync(old);
  };
  host.reopeners.add(reopen);
  return {
    write(b) {
      try {
        writeSync(fd, b);
        size += b.length;
        if (cfg.logMaxBytes && size >= cfg.logMaxBytes) {
          try {
            rotateLog(cfg.logPath, cfg.logMaxFiles ?? 5);
          } finally {
            reopen();
          }
        }
      } catch (err) {
        note(`log write failed: ${String(err)}`);
      }
    },
    close() {
      host.reopeners.delete(reopen);
      try {
        closeSync(fd);
      } catch (err) {
        note(`log close failed: ${String(err)}`);
      }
    },
  };
}

/** runc run in the foreground (under the console helper for a terminal), its output into the log and to attachers. */
function spawnRunc(dir: string, cfg: MonitorConfig, log: (b: Buffer) => void, broadcast: (stream: number, b: Buffer) => void): ChildProcess {
  const runcArgs = ['--root', cfg.runcRoot, '--log', join(dir, FILES.runcLog), '--log-format', 'json', 'run', '--keep', '--pid-file', join(dir, FILES.pid), '--bundle', cfg.bundle, cfg.id];
  // With a terminal, runc's stdio is the helper's pty, and everything the container writes comes out as stdout.
  const [cmd, ...pre] = cfg.console ?? [];
  const child = cmd
    ? spawn(cmd, [...pre, ...(cfg.stdin ? ['--stdin'] : []), '--control', '3', '--', 'runc', ...runcArgs], { stdio: [cfg.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'] })
    : spawn('runc', runcArgs, { stdio: [cfg.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const out = new CriLineWriter('stdout', log);
  const err = new CriLineWriter('stderr', log);
  child.stdout?.on('data', (b: Buffer) => {
    out.push(b);
    broadcast(1, b);
  });
  child.stderr?.on('data', (b: Buffer) => {
    err.push(b);
    broadcast(2, b);
  });
  child.on('close', () => {
    out.end();
    err.end();
  });
  return child;
}

/**
 * Attach (and, with a terminal, resize) sockets: frames of [stream byte][u32 length][data] go out to every attached
 * client; bytes coming in become the container's stdin; resize lines go to the console helper's control pipe.
 */
function serveAttach(cfg: MonitorConfig, note: (msg: string) => void): { broadcast(stream: number, b: Buffer): void; connect(child: ChildProcess): void; close(): void } {
  const clients = new Set<Socket>();
  let child: ChildProcess | undefined;
  const attachServer = createServer((sock) => {
    clients.add(sock);
    sock.on('data', (b: Buffer) => child?.stdin?.write(b));
    sock.on('end', () => {
      if (cfg.stdinOnce) child?.stdin?.end();
    });
    sock.on('close', () => clients.delete(sock));
    // A client that went away is simply no longer served.
    sock.on('error', () => clients.delete(sock));
  });
  attachServer.on('error', (e) => note(`attach socket: ${String(e)}`));
  attachServer.listen(attachSocket(cfg.id));
  let resizeServer: ReturnType<typeof createServer> | undefined;
  return {
    broadcast(stream, chunk) {
      if (!clients.size) return;
      const header = Buffer.alloc(5);
      header.writeUInt8(stream, 0);
      header.writeUInt32BE(chunk.length, 1);
      for (const c of clients) c.write(Buffer.concat([header, chunk]));
    },
    connect(c) {
      child = c;
      c.stdin?.on('error', (e) => note(`container stdin: ${String(e)}`));
      const control = cfg.console ? (c.stdio[3] as NodeJS.WritableStream | null) : null;
      if (!control) return;
      control.on('error', (e) => note(`console control pipe: ${String(e)}`));
      resizeServer = createServer((sock) => {
        sock.on('data', (b: Buffer) => control.write(b));
        sock.on('error', (e) => note(`resize client: ${String(e)}`));
      });
      resizeServer.on('error', (e) => note(`resize socket: ${String(e)}`));
      resizeServer.listen(resizeSocket(cfg.id));
    },
    close() {
      for (const c of clients) c.end();
      attachServer.close();
      resizeServer?.close();
    },
  };
}

function monitorContainer(dir: string): void {
  const cfg = JSON.parse(readFileSync(join(dir, FILES.config), 'utf8')) as MonitorConfig;
  const note = (msg: string): void => {
    try {
      appendFileSync(join(dir, FILES.monitorLog), `${new Date().toISOString()} ${msg}\n`);
    } catch (err) {
      noteHost(`${dir}: ${msg} (not in its monitor.log: ${String(err)})`);
    }
  };
  let told = false;
  const tell = (msg: string): void => {
    if (told) return;
    told = true;
    reply(dir, msg);
  };

  const log = openLog(cfg, note);
  const attach = serveAttach(cfg, note);
  const child = spawnRunc(dir, cfg, (b) => log.write(b), (stream, b) => attach.broadcast(stream, b));
  attach.connect(child);

  const pidFile = join(dir, FILES.pid);
  let started: StartedFile | undefined;
  let exited = false;
  // runc writes the pid file once the container process runs; its mtime is the start time.
  const checkStarted = (): boolean => {
    if (started) return true;
    if (!existsSync(pidFile)) return false;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!pid) return false;
    started = { pid, startedAt: statSync(pidFile, { bigint: true }).mtimeNs.toString() };
    atomicWrite(join(dir, FILES.started), started);
    tell(`started ${pid}`);
    return true;
  };
  const poll = setInterval(() => {
    if (exited || checkStarted()) clearInterval(poll);
  }, 5);

  child.on('error', (e) => note(`runc spawn failed: ${String(e)}`));
  child.on('close', (code, signal) => {
    exited = true;
    clearInterval(poll);
    const exitCode = code ?? 128 + (signal ? signalNumber(signal) : 0);
    const exit: ExitFile = { exitCode, finishedAt: nowNanos().toString(), oomKilled: oomKilled(cfg.memoryCgroup, note) };
    if (!checkStarted()) exit.startError = lastRuncError(readText(join(dir, FILES.runcLog), note)) || `runc run exited with ${exitCode}`;
    const del = spawn('runc', ['--root', cfg.runcRoot, 'delete', '--force', cfg.id], { stdio: 'ignore' });
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      try {
        atomicWrite(join(dir, FILES.exit), exit);
      } catch (e) {
        note(`exit file: ${String(e)}`);
      }
      tell(exit.startError ? `failed ${exit.startError}` : `exited ${exitCode}`);
      log.close();
      attach.close();
      containerDone();
    };
    del.on('error', (e) => {
      note(`runc delete failed: ${String(e)}`);
      finish();
    });
    del.on('close', finish);
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  return table[sig] ?? 0;
}

/**
 * A monitor is started ahead of need and reads container directories from stdin, one a line. At EOF (the service
 * has given it its share, or is gone) it takes no more and exits once its last container has.
 */
function awaitAssignments(): void {
  let text = '';
  process.stdin.on('data', (b: Buffer) => {
    text += b.toString();
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      const dir = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (dir) runMonitor(dir);
    }
  });
  const stop = (): void => {
    host.takingMore = false;
    if (host.live <= 0) process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  hostSetup();
  if (process.argv[2]) {
    host.takingMore = false;
    runMonitor(process.argv[2]);
  } else awaitAssignments();
}
