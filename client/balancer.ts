// A client-side balancer over several API servers (k3s's agent load balancer, pkg/agent/loadbalancer): requests go to
// one server while it is healthy; every server is health-checked on an interval (GET /readyz with a short timeout,
// on the injected clock), and a server whose check fails, or that refuses connections, drops them or answers
// 502/503/504, is marked down: the next healthy one takes new requests and watches, and what was open on the down
// one is closed (onDown) so that reads and watches move too. A server marked down is healthy again once a check passes.
import { every, realClock, type Clock, type TimerHandle } from '../lib/clock.js';
import { logger, type Logger } from '../lib/logger.js';

export interface BalancerOptions {
  /** Asks one server whether it serves (the REST client sends GET /readyz with its credentials); the signal ends it. */
  probe(server: string, signal: AbortSignal): Promise<boolean>;
  /** Time between health checks of every server (default 2s). */
  healthCheckMs?: number;
  /** How long a server has to answer a health check (default 2s). */
  probeTimeoutMs?: number;
  /** A server was marked down while another is healthy: close what is open on it (k3s closes its connections). */
  onDown?(server: string): void;
  clock?: Clock;
  log?: Logger;
}

export interface ServerState {
  server: string;
  healthy: boolean;
  /** The server requests go to now. */
  current: boolean;
}

export class ServerBalancer {
  private currentIndex = 0;
  private readonly down = new Set<string>();
  private checks: TimerHandle | undefined;
  private closed = false;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(
    readonly servers: readonly string[],
    private readonly opts: BalancerOptions,
  ) {
    if (!servers.length) throw new Error('a balancer needs at least one server');
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? logger('balancer');
  }

  /** The server for the next request: the current one while healthy, else the next healthy one; when every one is down, the current (a request is the best probe). */
  pick(): string {
    this.startChecks();
    if (!this.down.has(this.servers[this.currentIndex]!)) return this.servers[this.currentIndex]!;
    for (let i = 1; i < this.servers.length; i++) {
      const j = (this.currentIndex + i) % this.servers.length;
      if (!this.down.has(this.servers[j]!)) return this.switchTo(j, 'current server down');
    }
    return this.servers[this.currentIndex]!;
  }

  /** A request to server (or its health check) failed in a way that says the server is not serving: mark it down and move on. */
  fail(server: string, reason: string): void {
    if (this.closed || !this.servers.includes(server)) return;
    if (!this.down.has(server)) {
      this.down.add(server);
      this.log.warn('api server marked down', { server, reason, healthy: this.servers.length - this.down.size });
      if (this.down.size < this.servers.length) this.opts.onDown?.(server);
    }
    if (this.servers[this.currentIndex] === server) this.pick();
  }

  states(): ServerState[] {
    return this.servers.map((s, i) => ({ server: s, healthy: !this.down.has(s), current: i === this.currentIndex }));
  }

  close(): void {
    this.closed = true;
    this.checks?.cancel();
  }

  private switchTo(index: number, reason: string): string {
    const from = this.servers[this.currentIndex];
    this.currentIndex = index;
    const to = this.servers[index]!;
    this.log.info('api server switched', { from, to, reason });
    return to;
  }

  /** Health checks begin with the first request (a client that is never used checks nothing). */
  private startChecks(): void {
    if (this.checks || this.closed) return;
    this.checks = every(this.clock, this.opts.healthCheckMs ?? 2000, () => this.checkAll(), (err) => this.log.warn('api server health check failed', { error: String(err) }), { delayFirst: true });
  }

  /** Checks every server at once: one that does not answer in time is marked down, one that answers is healthy again. */
  private async checkAll(): Promise<void> {
    await Promise.all(
      this.servers.map(async (server) => {
        const { ok, reason } = await this.check(server);
        if (this.closed) return;
        if (!ok) this.fail(server, reason);
        else if (this.down.delete(server)) this.log.info('api server healthy again', { server });
      }),
    );
  }

  private async check(server: string): Promise<{ ok: boolean; reason: string }> {
    const timeoutMs = this.opts.probeTimeoutMs ?? 2000;
    const abort = new AbortController();
    let timer: TimerHandle | undefined;
    const late = new Promise<{ ok: boolean; reason: string }>((resolve) => {
      timer = this.clock.setTimer(timeoutMs, () => {
        abort.abort(new Error(`health check timed out after ${timeoutMs} ms`));
        resolve({ ok: false, reason: `health check timed out after ${timeoutMs} ms` });
      });
    });
    const answer = this.opts.probe(server, abort.signal).then(
      (ok) => ({ ok, reason: 'health check answered not ready' }),
      (err: unknown) => ({ ok: false, reason: `health check failed: ${err instanceof Error ? err.message : String(err)}` }),
    );
    try {
      return await Promise.race([answer, late]);
    } finally {
      timer?.cancel();
    }
  }
}

/** A request that a server's attempt deadline ended before its connection was up: nothing was sent. */
export const NOT_SENT_CODE = 'ERR_KETCH_NOT_SENT';
/** Errors of a connection that never reached a server: any request may go to another one. */
const NOT_SENT = new Set([NOT_SENT_CODE, 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
/** Errors of a connection that broke: the request may have been served, so only reads go to another server. */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
/** Answers of a server that is going away or cannot reach its storage. */
const DYING_CODES = new Set([502, 503, 504]);

export type FailoverVerdict =
  /** Not the server's fault (a 404, a conflict, ...): report it. */
  | 'keep'
  /** The server is down; send the request to another one. */
  | 'retry'
  /** The server is down, but the request may have been served: report it, later requests go elsewhere. */
  | 'mark';

/** What a failed request says about its server, for a request with this method. */
export function failoverVerdict(err: unknown, method: string): FailoverVerdict {
  const idempotent = method === 'GET' || method === 'HEAD';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NOT_SENT.has(code)) return 'retry';
    if (BROKEN.has(code) || /socket hang up/.test(String((err as Error).message))) return idempotent ? 'retry' : 'mark';
    return 'keep';
  }
  if (typeof code === 'number' && DYING_CODES.has(code)) return idempotent ? 'retry' : 'mark';
  return 'keep';
}
