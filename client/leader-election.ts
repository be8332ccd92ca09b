// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does: acquire when the lease is
// free or expired, renew every retry period, and step down when a renewal has not succeeded within the renew deadline.
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.js';
import { realClock, sleepUnlessAborted, type Clock } from '../lib/clock.js';
import { logger } from '../lib/logger.js';
import type { ObjectLike, ResourceClient } from './rest.js';


export interface Lease extends ObjectLike {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionConfig {
  leases: ResourceClient<Lease>;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
}

export interface LeaderCallbacks {
  /** Runs while this process leads; the signal aborts when leadership is lost or the elector stops. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  onNewLeader?(identity: string): void;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
export const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly clock: Clock;
  private readonly durationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private observedHolder = '';
  private readonly log;

  constructor(private readonly cfg: LeaderElectionConfig) {
    this.clock = cfg.clock ?? realClock;
    this.durationMs = cfg.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = cfg.renewDeadlineMs ?? 10_000;
    this.retryMs = cfg.retryPeriodMs ?? 2_000;
    this.log = logger('leader-election', { lease: `${cfg.namespace}/${cfg.name}`, identity: cfg.identity });
  }

  /** Campaigns until stopped: acquire, lead (renewing), and campaign again after losing the lease. */
  async run(cb: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.acquire(cb, signal);
      if (signal.aborted) return;
      this.log.info('became leader');
      const leading = new AbortController();
      const stopLeading = (): void => leading.abort(new Error('leadership lost'));
      signal.addEventListener('abort', stopLeading, { once: true });
      const work = Promise.resolve()
        .then(() => cb.onStartedLeading(leading.signal))
        .catch((err: unknown) => this.log.error('leader work failed', { error: String(err) }));
      await this.renewLoop(signal);
      stopLeading();
      signal.removeEventListener('abort', stopLeading);
      await work;
      this.log.info('stopped leading');
      cb.onStoppedLeading?.();
      if (signal.aborted) {
        // Releasing only lets the next leader take over sooner; without it the lease runs out on its own.
        await this.release().catch((err: unknown) => this.log.warn('releasing the lease failed; it will expire', { error: String(err) }));
      }
    }
  }

  private async acquire(cb: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(cb)) return;
      await sleepUnlessAborted(this.clock, this.retryMs, signal);
    }
  }

  private async renewLoop(signal: AbortSignal): Promise<void> {
    let lastRenew = this.clock.now();
    while (!signal.aborted) {
      await sleepUnlessAborted(this.clock, this.retryMs, signal);
      if (signal.aborted) return;
      const ok = await this.tryAcquireOrRenew();
      if (ok) lastRenew = this.clock.now();
      else if (this.observedHolder !== this.cfg.identity || this.clock.now() - lastRenew > this.renewDeadlineMs) return;
    }
  }

  /** One attempt; true when this process holds the lease afterwards. */
  async tryAcquireOrRenew(cb?: LeaderCallbacks): Promise<boolean> {
    const { leases, namespace, name, identity } = this.cfg;
    const now = this.clock.now();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.durationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    let current: Lease;
    try {
      current = await leases.get(namespace, name);
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn('reading the lease failed', { error: String(err) });
        return false;
      }
      try {
        await leases.create(namespace, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec });
        this.observe(identity, cb);
        return true;
      } catch (e) {
        if (!isAlreadyExists(e)) this.log.warn('creating the lease failed', { error: String(e) });
        return false;
      }
    }
    const s = current.spec ?? {};
    const holder = s.holderIdentity ?? '';
    this.observe(holder, cb);
    const renewedAt = s.renewTime ? Date.parse(s.renewTime) : 0;
    const expired = renewedAt + (s.leaseDurationSeconds ?? 0) * 1000 <= now;
    if (holder && holder !== identity && !expired) return false;
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        acquireTime: holder === identity && s.acquireTime ? s.acquireTime : spec.acquireTime,
        leaseTransitions: (s.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      },
    };
    try {
      await leases.update(next); // carries metadata.resourceVersion: a concurrent writer makes this a 409
      this.observe(identity, cb);
      return true;
    } catch (err) {
      if (!isConflict(err)) this.log.warn('updating the lease failed', { error: String(err) });
      return false;
    }
  }

  private observe(holder: string, cb?: LeaderCallbacks): void {
    if (holder && holder !== this.observedHolder) {
      this.observedHolder = holder;
      cb?.onNewLeader?.(holder);
    }
  }

  /** Gives the lease up on a clean stop, so another candidate takes over at once. */
  private async release(): Promise<void> {
    const { leases, namespace, name, identity } = this.cfg;
    const current = await leases.get(namespace, name);
    if (current.spec?.holderIdentity !== identity) return;
    await leases.update({ ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) } });
  }
}
