// The runtime's container monitor processes (monitor.ts): one is always booted ahead of need, and each is given up
// to MONITOR_CAPACITY containers, so that a container start pays neither a Node boot's latency nor its CPU.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../cri/errors.js';
import { errnoOf, isNotExist } from '../../lib/errno.js';
import { FILES, MONITOR_CAPACITY, type MonitorReply, monitorCommand } from './monitor.js';
import { realClock, type Clock } from '../../lib/clock.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

/** The start time of a process (field 22 of /proc/PID/stat): a pid plus this names one process for good. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch (err) {
    // ENOENT/ESRCH: no such process (any more), which is what the caller asks about.
    if (!isNotExist(err) && errnoOf(err) !== 'ESRCH') log.warn('process start time unreadable', { pid, error: String(err) });
    return undefined;
  }
}

/** A place in a monitor process, taken for one container. */
export interface MonitorSlot {
  pid: number;
  startTime: string;
  /** Hands the container's directory over; resolves to the monitor's first reply ("started PID", "failed ..."). */
  run(dir: string, timeoutMs: number): Promise<string>;
  /** Gives the slot back unused (the start failed before run). */
  release(): void;
}

interface MonitorProcess {
  child: ChildProcess;
  pid: number;
  startTime: string;
  /** Containers given to it so far. */
  taken: number;
  /** Slots taken but not yet run: a full monitor gets its EOF only once they are handed over. */
  pending: number;
  /** Full: it takes no new slots and gets EOF when nothing is pending. */
  retired: boolean;
  /** Runs waiting for their first reply, by container directory. */
  waiting: Map<string, (msg: string) => void>;
  /** Its stdout closed: it has exited or is about to. */
  ended: boolean;
}

export class MonitorPool {
  private current: MonitorProcess | undefined;
  private spare: Promise<MonitorProcess> | undefined;
  /** take() one at a time: two starts must not both replace a full monitor. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    /** The runtime's root: the transpiled monitor's cache (bin/) and the monitors' own log. */
    private readonly root: string,
    private readonly capacity = MONITOR_CAPACITY,
    private readonly clock: Clock = realClock,
  ) {}

  /** Boots the first monitor ahead of need. */
  warm(): void {
    this.spare ??= this.spawnSpare();
  }

  take(): Promise<MonitorSlot> {
    const next = this.queue.then(() => this.takeNow());
    // The queue only orders the takes: each caller gets its own outcome from `next`.
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Lets idle monitors exit; busy ones exit after their last container. Running containers are left alone. */
  async close(): Promise<void> {
    this.closed = true;
    // A spare that failed to boot was reported by spawnSpare; there is nothing of it to retire.
    const spare = await this.spare?.catch(() => undefined);
    this.spare = undefined;
    for (const m of [this.current, spare]) if (m) retire(m);
    this.current = undefined;
  }

  private async takeNow(): Promise<MonitorSlot> {
    let m = this.current;
    if (!m || !usable(m) || m.taken >= this.capacity) {
      // A full monitor gets EOF (once its slots taken are run): it takes no more and exits after its last container.
      if (m) retire(m);
      const spare = this.spare;
      this.spare = undefined;
      // A spare that failed to boot was reported by spawnSpare: a new monitor is spawned instead.
      const booted = spare && (await spare.catch(() => undefined));
      m = booted && usable(booted) ? booted : await this.spawn();
      this.current = m;
      if (!this.closed) this.spare = this.spawnSpare();
    }
    m.taken++;
    m.pending++;
    const proc = m;
    let used = false;
    const use = (): void => {
      if (used) return;
      used = true;
      proc.pending--;
    };
    return {
      pid: proc.pid,
      startTime: proc.startTime,
      run: (dir, timeoutMs) => {
        use();
        return runIn(proc, dir, timeoutMs, this.clock);
      },
      release: () => {
        use();
        if (proc.retired && proc.pending === 0) proc.child.stdin?.end();
      },
    };
  }

  private spawnSpare(): Promise<MonitorProcess> {
    const p = this.spawn();
    p.catch((err: unknown) => log.warn('could not start a spare container monitor', { error: String(err) }));
    return p;
  }

  private async spawn(): Promise<MonitorProcess> {
    const { cmd, args } = await monitorCommand(join(this.root, 'bin'));
    const errLog = await open(join(this.root, FILES.monitorLog), 'a');
    const child = spawn(cmd, args, { detached: true, stdio: ['pipe', 'pipe', errLog.fd], cwd: this.root });
    await errLog.close();
    if (!child.pid) throw new RuntimeError('Internal', 'could not spawn the container monitor', false);
    // Neither the monitor nor its pipes keep this process alive: the monitor outlives it by design.
    child.unref();
    for (const s of [child.stdin, child.stdout] as const) (s as unknown as { unref?: () => void } | null)?.unref?.();
    // A monitor that exited closes its stdin (EPIPE): its stdout's 'close' below settles what waited on it.
    child.stdin?.on('error', () => undefined);
    const m: MonitorProcess = { child, pid: child.pid, startTime: procStartTime(child.pid) ?? '', taken: 0, pending: 0, retired: false, waiting: new Map(), ended: false };
    let text = '';
    child.stdout?.on('data', (b: Buffer) => {
      text += b.toString();
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        try {
          const r = JSON.parse(line) as MonitorReply;
          m.waiting.get(r.dir)?.(r.msg);
        } catch (err) {
          log.warn('unreadable reply from a container monitor', { pid: m.pid, line, error: String(err) });
        }
      }
    });
    child.stdout?.on('close', () => {
      m.ended = true;
      for (const resolve of m.waiting.values()) resolve('the monitor process ended');
    });
    return m;
  }
}

const usable = (m: MonitorProcess): boolean =>
  !m.retired && !m.ended && m.child.exitCode === null && m.child.signalCode === null && !m.child.stdin?.writableEnded;

function retire(m: MonitorProcess): void {
  m.retired = true;
  if (m.pending === 0) m.child.stdin?.end();
}

function runIn(m: MonitorProcess, dir: string, timeoutMs: number, clock: Clock): Promise<string> {
  return new Promise((resolve) => {
    const done = (msg: string): void => {
      timer.cancel();
      m.waiting.delete(dir);
      resolve(msg);
    };
    const timer = clock.setTimer(timeoutMs, () => done('timeout'));
    if (m.ended || !m.child.stdin?.writable) return done('the monitor process does not take containers');
    m.waiting.set(dir, done);
    m.child.stdin.write(`${dir}\n`);
    if (m.retired && m.pending === 0) m.child.stdin.end();
  });
}
