// Startup, liveness and readiness probes for one container (exec, httpGet, tcpSocket, grpc), with periods and thresholds.
import { connect } from 'node:net';
import type { Container, Probe } from '../api/index.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import { grpcProbe } from './grpc-probe.js';

export type ProbeResult = { ok: boolean; message: string };

export interface ProbeTarget {
  containerId: string;
  container: Container;
  /** The address probes dial (the pod IP, or the host's for hostNetwork pods). */
  host: string;
  exec(containerId: string, cmd: string[], timeoutSec: number): Promise<{ exitCode: number; output: string }>;
}

/** Resolves a named or numeric port against the container's ports. */
export function resolvePort(port: string | number, c: Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const found = c.ports?.find((p) => p.name === port);
  if (!found) throw new Error(`port "${port}" is not a named port of container ${c.name}`);
  return found.containerPort;
}

/** Runs one probe once. */
export async function runProbe(p: Probe, t: ProbeTarget): Promise<ProbeResult> {
  const timeoutSec = p.timeoutSeconds || 1;
  try {
    if (p.exec) {
      const r = await t.exec(t.containerId, p.exec.command ?? [], timeoutSec);
      return { ok: r.exitCode === 0, message: r.exitCode === 0 ? '' : `command exited with ${r.exitCode}: ${r.output.slice(0, 200)}` };
    }
    if (p.httpGet) {
      const g = p.httpGet;
      const scheme = (g.scheme ?? 'HTTP').toLowerCase();
      const url = `${scheme}://${g.host || t.host}:${resolvePort(g.port, t.container)}${g.path?.startsWith('/') ? g.path : `/${g.path ?? ''}`}`;
      const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.32' };
      for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutSec * 1000), redirect: 'manual' });
      // The body is read only to free the connection: the status code is the probe's answer, whatever the body does.
      await res.arrayBuffer().catch(() => undefined);
      const ok = res.status >= 200 && res.status < 400;
      return { ok, message: ok ? '' : `HTTP probe failed with statuscode: ${res.status}` };
    }
    if (p.tcpSocket) {
      const port = resolvePort(p.tcpSocket.port, t.container);
      const host = p.tcpSocket.host || t.host;
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host, port, timeout: timeoutSec * 1000 });
        s.once('connect', () => {
          s.destroy();
          resolve();
        });
        s.once('timeout', () => {
          s.destroy();
          reject(new Error(`dial tcp ${host}:${port}: i/o timeout`));
        });
        s.once('error', reject);
      });
      return { ok: true, message: '' };
    }
    if (p.grpc) return await grpcProbe(t.host, p.grpc.port, p.grpc.service ?? '', timeoutSec);
    return { ok: true, message: 'no handler' };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

export type ProbeKind = 'startup' | 'liveness' | 'readiness';

/** A liveness or startup probe that reached its failure threshold: the container must be restarted. */
export interface ProbeFailure {
  kind: Extract<ProbeKind, 'liveness' | 'startup'>;
  message: string;
}

/** The probe state of one running container; onChange fires when started, ready or failed changes. */
export class ContainerProbes {
  started: boolean;
  ready = false;
  failed: ProbeFailure | undefined;
  private readonly timers = new Map<ProbeKind, TimerHandle>();
  private stopped = false;

  constructor(
    private readonly target: ProbeTarget,
    private readonly clock: Clock,
    private readonly onChange: () => void,
  ) {
    const c = target.container;
    this.started = !c.startupProbe;
    this.ready = !c.readinessProbe && this.started;
    if (c.startupProbe) this.loop('startup', c.startupProbe);
    else this.startAfterStartup();
  }

  private startAfterStartup(): void {
    const c = this.target.container;
    if (c.livenessProbe) this.loop('liveness', c.livenessProbe);
    if (c.readinessProbe) this.loop('readiness', c.readinessProbe);
    else if (!this.ready) {
      this.ready = true;
      this.onChange();
    }
  }

  private loop(kind: ProbeKind, p: Probe): void {
    const period = (p.periodSeconds || 10) * 1000;
    const successThreshold = kind === 'readiness' ? p.successThreshold || 1 : 1;
    const failureThreshold = p.failureThreshold || 3;
    let successes = 0;
    let failures = 0;
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      const r = await runProbe(p, this.target);
      if (this.stopped) return;
      if (r.ok) {
        failures = 0;
        successes++;
      } else {
        successes = 0;
        failures++;
      }
      let again = true;
      if (kind === 'startup') {
        if (successes >= 1) {
          this.started = true;
          again = false;
          this.onChange();
          this.startAfterStartup();
        } else if (failures >= failureThreshold) {
          this.failed = { kind: 'startup', message: `Startup probe failed: ${r.message}` };
          again = false;
          this.onChange();
        }
      } else if (kind === 'liveness') {
        if (failures >= failureThreshold) {
          this.failed = { kind: 'liveness', message: `Liveness probe failed: ${r.message}` };
          again = false;
          this.onChange();
        }
      } else {
        const ready = successes >= successThreshold ? true : failures >= failureThreshold ? false : this.ready;
        if (ready !== this.ready) {
          this.ready = ready;
          this.onChange();
        }
      }
      if (again && !this.stopped) this.timers.set(kind, this.clock.setTimer(period, () => void tick()));
    };
    this.timers.set(kind, this.clock.setTimer((p.initialDelaySeconds ?? 0) * 1000, () => void tick()));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }
}
