// The chaos suite's processes: each can be killed (SIGKILL), started again on the same ports and data, and paused
// (SIGSTOP/SIGCONT). Three etcd members on loopback, `ketch server` processes on them, hollow nodes.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../support/util.js';

const ENTRY = fileURLToPath(new URL('../../cli/entry.ts', import.meta.url));

/** A restartable child process; `ready` says when its output shows it serves. */
export class Proc {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  output = '';
  /** Exits nobody asked for (a crash outside the injected faults). */
  unexpectedExits = 0;
  paused = false;

  constructor(
    readonly name: string,
    private readonly cmd: string,
    private readonly args: string[],
    private readonly ready: () => Promise<boolean>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  async start(): Promise<void> {
    this.output = '';
    const child = spawn(this.cmd, this.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KETCH_LOG_LEVEL: 'warn' } });
    this.child = child;
    const keep = (d: Buffer): void => void (this.output = (this.output + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let expected = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (!expected && child === this.child && !this.stopping) this.unexpectedExits++;
        resolve();
      }),
    );
    this.expect = () => (expected = true);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${this.name} exited at start (${child.exitCode}): ${this.output}`);
        return this.ready();
      },
      { timeoutMs: 90_000, intervalMs: 200, what: `${this.name} to serve` },
    );
  }

  private expect: () => void = () => undefined;
  private stopping = false;

  /** An injected SIGKILL (counted as expected). */
  async kill(): Promise<void> {
    this.expect();
    if (this.paused) this.resume();
    if (this.running) this.child!.kill('SIGKILL');
    await this.exited;
  }

  pause(): void {
    if (!this.running) return;
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.running) this.child!.kill('SIGCONT');
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.paused) this.resume();
    if (this.running) this.child!.kill('SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}

const answers = async (url: string, init?: RequestInit): Promise<boolean> => {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  return res?.ok ?? false;
};

export interface EtcdMember {
  proc: Proc;
  client: string;
}

/** Three etcd members on loopback (one raft group); each keeps its data dir across kills. */
export async function etcdCluster(dir: string, size = 3): Promise<EtcdMember[]> {
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
  const names = Array.from({ length: size }, (_, i) => `m${i}`);
  const peer = (i: number): string => `http://127.0.0.1:${ports[size + i]}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const members = names.map((name, i) => {
    const client = `http://127.0.0.1:${ports[i]}`;
    const args = [
      '--name', name, '--data-dir', join(dir, name),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'ketch-chaos',
      '--experimental-watch-progress-notify-interval', '1000ms', '--log-level', 'error',
    ];
    return { client, proc: new Proc(`etcd-${name}`, 'etcd', args, () => answers(`${client}/health`)) };
  });
  // Members wait for a quorum before /health answers: start them together.
  await Promise.all(members.map((m) => m.proc.start()));
  return members;
}

/** Whether this member is the raft leader now (its status names itself as leader). */
export async function isEtcdLeader(m: EtcdMember): Promise<boolean> {
  const res = await fetch(`${m.client}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  if (!res?.ok) return false;
  const st = (await res.json()) as { header?: { member_id?: string }; leader?: string };
  return Boolean(st.leader && st.leader === st.header?.member_id);
}

export interface ServerProc {
  proc: Proc;
  url: string;
  port: number;
  dataDir: string;
}

/**
 * `ketch server` processes on the etcd members (none: the embedded SQLite store in the data dir), each hosting the controller manager and scheduler (leader-elected on
 * short leases). The later ones share the first one's PKI and tokens, as the README says to run several.
 */
export async function ketchServers(dir: string, etcd: string[], count: number, o: { bindAddress?: string; extraArgs?: string[] } = {}): Promise<ServerProc[]> {
  const out: ServerProc[] = [];
  for (let i = 0; i < count; i++) {
    const dataDir = join(dir, `server-${i}`);
    const port = await freePort();
    const first = out[0];
    if (first) {
      mkdirSync(dataDir, { recursive: true });
      cpSync(join(first.dataDir, 'pki'), join(dataDir, 'pki'), { recursive: true });
      cpSync(join(first.dataDir, 'token-file'), join(dataDir, 'token-file'));
    }
    // The hosted scheduler's Lease is as short as the controller manager's (its config file holds its timings).
    const schedulerConfig = join(dir, 'scheduler.yaml');
    writeFileSync(schedulerConfig, 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nleaderElection: {leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 1s}\n');
    const args = [
      '--import', 'tsx', ENTRY, 'server', '--data-dir', dataDir, '--config', schedulerConfig, '--secure-port', String(port), '--bind-address', o.bindAddress ?? '127.0.0.1',
      ...(etcd.length ? ['--etcd-servers', etcd.join(',')] : []), '--snapshot-schedule', '0',
      '--leader-elect-identity', `server-${i}`, '--leader-elect-lease-duration', '4s', '--leader-elect-renew-deadline', '3s', '--leader-elect-retry-period', '1s',
      ...(o.extraArgs ?? []),
    ];
    const proc: Proc = new Proc(`server-${i}`, process.execPath, args, async () => proc.output.includes('ketch server is up'));
    await proc.start();
    out.push({ proc, url: `https://127.0.0.1:${port}`, port, dataDir });
  }
  return out;
}

/** `ketch agent --hollow`: simulated nodes whose bound pods turn Running/Ready (a fake, the point of which is scale). */
export function hollowNodes(kubeconfig: string, count: number): Proc {
  const args = ['--import', 'tsx', ENTRY, 'agent', '--hollow', '--count', String(count), '--prefix', 'chaos-node-', '--kubeconfig', kubeconfig];
  const proc: Proc = new Proc('hollow-nodes', process.execPath, args, async () => proc.output.includes('hollow nodes registered'));
  return proc;
}
