// The container monitor (what conmon is to CRI-O): runs `runc run` in the foreground, writes the container's
// output to its CRI log, and records the exit code in exit.json. It is a process of its own (setsid), so
// containers keep running, and their exit codes are kept, while the runtime service is down. One monitor
// process serves up to MONITOR_CAPACITY containers: a Node process costs ~70 ms of CPU to boot and ~40 MB of
// memory, which one process per container paid on every start.
import { spawn } from 'node:child_process';
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

/** The last error in a runc JSON log (--log-format json), or ''. */
export function lastRuncError(text: string): string {
  for (const l of text.trim().split('\n').reverse()) {
    try {
      const entry = JSON.parse(l) as { level?: string; msg?: string };
      if (entry.level === 'error' || entry.level === 'fatal') return entry.msg ?? l;
    } catch {
      // not a JSON line
    }
  }
  return '';
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
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

function oomKilled(memoryCgroup: string | undefined): boolean {
  if (!memoryCgroup) return false;
  try {
    const m = /oom_kill (\d+)/.exec(readFileSync(join(memoryCgroup, 'memory.oom_control'), 'utf8'));
    return Number(m?.[1] ?? 0) > 0;
  } catch {
    return false;
  }
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
    // stderr is the runtime's monitor.log; nowhere else to say it
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
  } catch {
    // the service went away
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
    } catch {
      // the directory is gone (the container was removed)
    }
    reply(dir, `failed ${startError}`);
    containerDone();
  }
}

function monitorContainer(dir: string): void {
  const cfg = JSON.parse(readFileSync(join(dir, FILES.config), 'utf8')) as MonitorConfig;
  const note = (msg: string): void => {
    try {
      appendFileSync(join(dir, FILES.monitorLog), `${new Date().toISOString()} ${msg}\n`);
    } catch {
      noteHost(`${dir}: ${msg}`);
    }
  };
  let told = false;
  const tell = (msg: string): void => {
    if (told) return;
    told = true;
    reply(dir, msg);
  };

  mkdirSync(dirname(cfg.logPath), { recursive: true });
  let logFd = openSync(cfg.logPath, 'a');
  let logSize = fstatSync(logFd).size;
  const reopen = (): void => {
    const old = logFd;
    logFd = openSync(cfg.logPath, 'a');
    logSize = fstatSync(logFd).size;
    closeSync(old);
  };
  host.reopeners.add(reopen);
  const writeLog = (b: Buffer): void => {
    try {
      writeSync(logFd, b);
      logSize += b.length;
      if (cfg.logMaxBytes && logSize >= cfg.logMaxBytes) {
        try {
          rotateLog(cfg.logPath, cfg.logMaxFiles ?? 5);
        } finally {
          reopen();
        }
      }
    } catch (err) {
      note(`log write failed: ${String(err)}`);
    }
  };

  const attachClients = new Set<Socket>();
  const broadcast = (stream: number, chunk: Buffer): void => {
    if (!attachClients.size) return;
    const header = Buffer.alloc(5);
    header.writeUInt8(stream, 0);
    header.writeUInt32BE(chunk.length, 1);
    for (const c of attachClients) c.write(Buffer.concat([header, chunk]));
  };

  const pidFile = join(dir, FILES.pid);
  const runcArgs = ['--root', cfg.runcRoot, '--log', join(dir, FILES.runcLog), '--log-format', 'json', 'run', '--keep', '--pid-file', pidFile, '--bundle', cfg.bundle, cfg.id];
  // With a terminal, runc's stdio is the helper's pty, and everything the container writes comes out as stdout.
  const [cmd, ...pre] = cfg.console ?? [];
  const child = cmd
    ? spawn(cmd, [...pre, ...(cfg.stdin ? ['--stdin'] : []), '--control', '3', '--', 'runc', ...runcArgs], { stdio: [cfg.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'] })
    : spawn('runc', runcArgs, { stdio: [cfg.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const out = new CriLineWriter('stdout', writeLog);
  const err = new CriLineWriter('stderr', writeLog);
  child.stdout?.on('data', (b: Buffer) => {
    out.push(b);
    broadcast(1, b);
  });
  child.stderr?.on('data', (b: Buffer) => {
    err.push(b);
    broadcast(2, b);
  });
  child.stdin?.on('error', () => undefined);

  // Attach: frames of [stream byte][u32 length][data] go out; bytes coming in become the container's stdin.
  const attachServer = createServer((sock) => {
    attachClients.add(sock);
    sock.on('data', (b: Buffer) => child.stdin?.write(b));
    sock.on('end', () => {
      if (cfg.stdinOnce) child.stdin?.end();
    });
    sock.on('close', () => attachClients.delete(sock));
    sock.on('error', () => attachClients.delete(sock));
  });
  attachServer.on('error', (e) => note(`attach socket: ${String(e)}`));
  attachServer.listen(attachSocket(cfg.id));
  const control = cmd ? (child.stdio[3] as NodeJS.WritableStream | null) : null;
  control?.on('error', () => undefined);
  const resizeServer = control ? createServer((sock) => {
    sock.on('data', (b: Buffer) => control.write(b));
    sock.on('error', () => undefined);
  }) : undefined;
  resizeServer?.on('error', (e) => note(`resize socket: ${String(e)}`));
  resizeServer?.listen(resizeSocket(cfg.id));

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
    out.end();
    err.end();
    const exitCode = code ?? 128 + (signal ? signalNumber(signal) : 0);
    const oom = oomKilled(cfg.memoryCgroup);
    const exit: ExitFile = { exitCode, finishedAt: nowNanos().toString(), oomKilled: oom };
    if (!checkStarted()) exit.startError = lastRuncError(readText(join(dir, FILES.runcLog))) || `runc run exited with ${exitCode}`;
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
      host.reopeners.delete(reopen);
      try {
        closeSync(logFd);
      } catch {
        // already closed
      }
      for (const c of attachClients) c.end();
      attachServer.close();
      resizeServer?.close();
      containerDone();
    };
    del.on('error', finish);
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
