// The per-container monitor (what conmon is to CRI-O): runs `runc run` in the foreground, writes the
// container's output to its CRI log, and records the exit code in exit.json. It is a process of its own
// (setsid), so containers keep running, and their exit codes are kept, while the runtime service is down.
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

function runMonitor(dir: string): void {
  const cfg = JSON.parse(readFileSync(join(dir, FILES.config), 'utf8')) as MonitorConfig;
  const note = (msg: string): void => appendFileSync(join(dir, FILES.monitorLog), `${new Date().toISOString()} ${msg}\n`);
  // fd 1 is a pipe to the runtime service that is waiting for "started"/"failed"; it may be gone.
  let syncOpen = true;
  const tell = (msg: string): void => {
    if (!syncOpen) return;
    try {
      writeSync(1, `${msg}\n`);
      closeSync(1);
    } catch {
      // the service went away; state files tell the next one
    }
    syncOpen = false;
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE'] as const) process.on(sig, () => note(`ignored ${sig}`));

  mkdirSync(dirname(cfg.logPath), { recursive: true });
  let logFd = openSync(cfg.logPath, 'a');
  let logSize = fstatSync(logFd).size;
  const reopen = (): void => {
    const old = logFd;
    logFd = openSync(cfg.logPath, 'a');
    logSize = fstatSync(logFd).size;
    closeSync(old);
  };
  // ReopenContainerLog: the old file was rotated away by someone else.
  process.on('SIGUSR1', reopen);
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
  const child = spawn('runc', ['--root', cfg.runcRoot, '--log', join(dir, FILES.runcLog), '--log-format', 'json', 'run', '--keep', '--pid-file', pidFile, '--bundle', cfg.bundle, cfg.id], {
    stdio: [cfg.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
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
    del.on('close', () => {
      atomicWrite(join(dir, FILES.exit), exit);
      tell(exit.startError ? `failed ${exit.startError}` : `exited ${exitCode}`);
      closeSync(logFd);
      for (const c of attachClients) c.end();
      attachServer.close();
      process.exit(0);
    });
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  return table[sig] ?? 0;
}

/** A monitor started ahead of need reads its container directory from stdin; EOF first means "not needed". */
function awaitAssignment(): void {
  let text = '';
  const onData = (b: Buffer): void => {
    text += b.toString();
    const nl = text.indexOf('\n');
    if (nl < 0) return;
    process.stdin.off('data', onData);
    process.stdin.off('end', onEnd);
    process.stdin.destroy();
    runMonitor(text.slice(0, nl));
  };
  const onEnd = (): void => process.exit(0);
  process.stdin.on('data', onData);
  process.stdin.on('end', onEnd);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2]) runMonitor(process.argv[2]);
  else awaitAssignment();
}
