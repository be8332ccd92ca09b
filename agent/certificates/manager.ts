// The kubelet's certificate manager (k8s.io/client-go/util/certificate): keeps one certificate current. It is renewed
// at a jittered 70-90% of its lifetime (so that a fleet does not renew at once), or at once when there is none or it
// has expired; the new one is stored, then handed to `onRotate` (the REST client's or the agent server's TLS), with no
// restart. A failed renewal is retried with exponential back-off until it succeeds.
import { exponentialDelay } from '../../lib/backoff.js';
import { realClock, type Clock, type TimerHandle } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { validity } from '../../lib/x509.js';
import { usable, type CertificateStore, type CertKey } from './store.js';

export interface CertificateManagerOptions {
  store: CertificateStore;
  /** Gets a new certificate (a CSR through the API server, waited for until the signal aborts). */
  request(signal: AbortSignal): Promise<CertKey>;
  /** Called with each new certificate once stored. */
  onRotate(pair: CertKey): void | Promise<void>;
  clock?: Clock;
  /** In [0, 1): where in the 70-90% window the renewal falls (default Math.random). */
  random?: () => number;
  log: Logger;
}

const RETRY_INITIAL_MS = 2_000;
const RETRY_MAX_MS = 5 * 60_000;

/** kubelet's nextRotationDeadline: notBefore + lifetime * (0.7 + 0.2 * jitter). */
export function rotationDeadline(certPem: string, jitter: number): number {
  const { notBefore, notAfter } = validity(certPem);
  const life = notAfter.getTime() - notBefore.getTime();
  return notBefore.getTime() + life * (0.7 + 0.2 * jitter);
}

export class CertificateManager {
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  private readonly abort = new AbortController();
  private current: CertKey | undefined;
  private failures = 0;
  /** When the next renewal is due (clock time), for status and tests. */
  deadline = 0;

  constructor(private readonly o: CertificateManagerOptions) {
    this.clock = o.clock ?? realClock;
  }

  /** The certificate in use. */
  get certificate(): CertKey | undefined {
    return this.current;
  }

  /** Loads the stored certificate and schedules its renewal; with none usable, gets one first (waiting for it). */
  async start(): Promise<CertKey> {
    const stored = await this.o.store.current();
    if (usable(stored, this.clock.now())) this.current = stored;
    else await this.rotate();
    this.schedule();
    return this.current!;
  }

  stop(): void {
    this.abort.abort(new Error('certificate manager stopped'));
    this.timer?.cancel();
  }

  /** Gets, stores and hands on a new certificate now. */
  async rotate(): Promise<CertKey> {
    const pair = await this.o.request(this.abort.signal);
    await this.o.store.update(pair, this.clock.now());
    this.current = pair;
    await this.o.onRotate(pair);
    this.o.log.info('certificate rotated', { store: this.o.store.prefix, notAfter: validity(pair.cert).notAfter.toISOString() });
    return pair;
  }

  private schedule(): void {
    if (this.abort.signal.aborted || !this.current) return;
    this.deadline = rotationDeadline(this.current.cert, (this.o.random ?? Math.random)());
    this.timer = this.clock.setTimer(Math.max(0, this.deadline - this.clock.now()), () => void this.renew());
  }

  private async renew(): Promise<void> {
    try {
      await this.rotate();
      this.failures = 0;
      this.schedule();
    } catch (err) {
      if (this.abort.signal.aborted) return;
      const delay = exponentialDelay(this.failures++, RETRY_INITIAL_MS, RETRY_MAX_MS);
      this.o.log.warn('certificate renewal failed', { store: this.o.store.prefix, error: err instanceof Error ? err.message : String(err), retryInMs: delay });
      this.timer = this.clock.setTimer(delay, () => void this.renew());
    }
  }
}
