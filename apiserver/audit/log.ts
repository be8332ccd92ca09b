// The audit log backend (kube-apiserver's --audit-log-path and its rotation flags): one JSON event per line, in a file
// rotated by size as kube's lumberjack does (the full file renamed to NAME-<UTC time>.EXT, at most --audit-log-maxbackup
// of those kept, none older than --audit-log-maxage days), or on stdout for "-". Lines are gathered during a turn of
// the event loop and written together, in order.
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Attributes } from '../authorization/types.js';
import type { AuditEvent } from '../filters/audit-context.js';
import type { AuditDecision, AuditSink } from '../filters/audit.js';
import type { Logger } from '../../lib/logger.js';
import { evaluatePolicy, type AuditPolicy } from './policy.js';

const MB = 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;

export interface AuditLogOptions {
  /** A file, or "-" for stdout. */
  path: string;
  /** Megabytes before rotation; 0 means lumberjack's default, 100. */
  maxSizeMb?: number;
  /** Rotated files kept (0: all). */
  maxBackups?: number;
  /** Days a rotated file is kept (0: no limit). */
  maxAgeDays?: number;
  now?: () => Date;
}

/** lumberjack's backup name: NAME-2006-01-02T15-04-05.000.EXT, in UTC. */
export function backupName(path: string, at: Date): string {
  const ext = extname(path);
  const stem = basename(path, ext);
  const stamp = at.toISOString().replace(/:/g, '-').replace(/Z$/, '');
  return join(dirname(path), `${stem}-${stamp}${ext}`);
}

/** Writes lines to the audit log file, rotating it by size. */
export class RotatingFile {
  private fd: number | undefined;
  private size = 0;
  private readonly maxBytes: number;
  private readonly now: () => Date;

  constructor(private readonly o: AuditLogOptions) {
    this.maxBytes = (o.maxSizeMb && o.maxSizeMb > 0 ? o.maxSizeMb : 100) * MB;
    this.now = o.now ?? (() => new Date());
  }

  private open(): number {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.o.path), { recursive: true, mode: 0o700 });
      this.fd = openSync(this.o.path, 'a', 0o600);
      this.size = fstatSync(this.fd).size;
    }
    return this.fd;
  }

  write(text: string): void {
    const bytes = Buffer.byteLength(text);
    let fd = this.open();
    if (this.size > 0 && this.size + bytes > this.maxBytes) {
      this.rotate();
      fd = this.open();
    }
    writeSync(fd, text);
    this.size += bytes;
  }

  private rotate(): void {
    this.close();
    renameSync(this.o.path, backupName(this.o.path, this.now()));
    this.prune();
  }

  /** Removes the backups beyond maxBackups (oldest first) and those older than maxAge. */
  private prune(): void {
    const ext = extname(this.o.path);
    const stem = basename(this.o.path, ext);
    const dir = dirname(this.o.path);
    const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3})${ext.replace(/\./g, '\\.')}$`);
    const backups = readdirSync(dir)
      .map((f) => ({ f, m: pattern.exec(f) }))
      .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
      .map(({ f, m }) => ({ f, at: Date.parse(`${m[1]!.replace(/T(\d{2})-(\d{2})-(\d{2})/, 'T$1:$2:$3')}Z`) }))
      .sort((a, b) => b.at - a.at);
    const maxAge = this.o.maxAgeDays && this.o.maxAgeDays > 0 ? this.o.maxAgeDays * DAY_MS : 0;
    backups.forEach((b, i) => {
      const tooMany = !!this.o.maxBackups && this.o.maxBackups > 0 && i >= this.o.maxBackups;
      const tooOld = maxAge > 0 && this.now().getTime() - b.at > maxAge;
      if (tooMany || tooOld) unlinkSync(join(dir, b.f));
    });
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The AuditSink of --audit-policy-file and --audit-log-path: the policy decides, the log keeps one line per event. */
export class AuditLog implements AuditSink {
  private readonly file: RotatingFile | undefined;
  private pending: string[] = [];
  private scheduled = false;

  constructor(
    private readonly policy: AuditPolicy,
    private readonly o: AuditLogOptions,
    private readonly log: Logger,
  ) {
    this.file = o.path === '-' ? undefined : new RotatingFile(o);
  }

  decide(attrs: Attributes): AuditDecision {
    return evaluatePolicy(this.policy, attrs);
  }

  process(event: AuditEvent): void {
    this.pending.push(`${JSON.stringify(event)}\n`);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what is pending; a failed write is logged and the events dropped (audit must not stop the server). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    const count = this.pending.length;
    this.pending = [];
    try {
      if (this.file) this.file.write(text);
      else process.stdout.write(text);
    } catch (err) {
      this.log.error('audit events lost: the audit log cannot be written', { path: this.o.path, events: count, error: err instanceof Error ? err.message : String(err) });
    }
  }

  close(): void {
    this.flush();
    this.file?.close();
  }
}
