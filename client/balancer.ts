// A client-side balancer over several API servers (k3s's agent load balancer, pkg/agent/loadbalancer): requests go to
// one server while it answers; a server that refuses connections, drops them or answers 502/503/504 is marked down and
// the next healthy one takes over; servers marked down are probed every recheck interval and come back when healthy.
import { realClock, type Clock, type TimerHandle } from '../lib/clock.js';
import { logger, type Logger } from '../lib/logger.js';

export interface BalancerOptions {
  /** Asks one server whether it serves (the REST client sends GET /readyz with its credentials). */
  probe(server: string): Promise<boolean>;
  /** Time between probes of the servers marked down (default 5s). */
  recheckMs?: number;
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
  private timer: TimerHandle | undefined;
  private probing = false;
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
    if (!this.down.has(this.servers[this.currentIndex]!)) return this.servers[this.currentIndex]!;
    for (let i = 1; i < this.servers.length; i++) {
      const j = (this.currentIndex + i) % this.servers.length;
      if (!this.down.has(this.servers[j]!)) return this.switchTo(j, 'current server down');
    }
    return this.servers[this.currentIndex]!;
  }

  /** A request to server failed in a way that says the server is not serving: mark it down and move on. */
  fail(server: string, reason: string): void {
    if (this.closed || !this.servers.includes(server)) return;
    if (!this.down.has(server)) {
      this.down.add(server);
      this.log.warn('api server marked down', { server, reason, healthy: this.servers.length - this.down.size });
    }
    if (this.servers[this.currentIndex] === server) this.pick();
    this.scheduleRecheck();
  }

  states(): ServerState[] {
    return this.servers.map((s, i) => ({ server: s, healthy: !this.down.has(s), current: i === this.currentIndex }));
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }

  private switchTo(index: number, reason: string): string {
    const from = this.servers[this.currentIndex];
    this.currentIndex = index;
    const to = this.servers[index]!;
    this.log.info('api server switched', { from, to, reason });
    return to;
  }

  private scheduleRecheck(): void {
    if (this.closed || this.timer || !this.down.size) return;
    this.timer = this.clock.setTimer(this.opts.recheckMs ?? 5000, () => {
      this.timer = undefined;
      void this.recheck();
    });
  }

  /** Probes every server marked down; those that answer are healthy again. */
  private async recheck(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      await Promise.all(
        [...this.down].map(async (server) => {
          let ok = false;
          try {
            ok = await this.opts.probe(server);
          } catch (err) {
            this.log.debug('api server probe failed', { server, error: String(err) });
          }
          if (ok && this.down.delete(server)) this.log.info('api server healthy again', { server });
        }),
      );
    } finally {
      this.probing = false;
      this.scheduleRecheck();
    }
  }
}

/** Errors of a connection that never reached a server: any request may go to another one. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
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
