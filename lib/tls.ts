// TLS for every listener: kube's defaults (TLS 1.2 at least; for TLS 1.2 the Go defaults kube-apiserver and the kubelet
// use, ECDHE with AES-GCM or ChaCha20-Poly1305), and serving certificates that are re-read while the server runs, so
// that a certificate renewed on disk (by ketch or by an operator) is served before the old one expires, without a restart.
import type { Server } from 'node:tls';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import type { Logger } from './logger.js';

/** TLS 1.3's suites, then TLS 1.2's ECDHE AEAD suites (Go's defaults less the CBC ones, as the issue asks). */
export const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The options every TLS listener starts from. */
export const SERVER_TLS = { minVersion: 'TLSv1.2', ciphers: CIPHERS } as const;

export interface ServingPair {
  cert: string;
  key: string;
}

export interface CertificateReloaderOptions {
  /** Reads the current certificate and key (and may renew them first); called at every check. */
  load(): Promise<ServingPair>;
  /** The rest of the listener's secure context (ca for client certificates), kept at each swap. */
  context?: { ca?: string };
  /** How often the files are checked (default one minute). */
  intervalMs?: number;
  clock?: Clock;
  log: Logger;
}

/**
 * Keeps a TLS server's certificate in step with what load() returns: checked every interval, swapped with
 * setSecureContext when it changed (connections already open keep the one they started with).
 */
export class CertificateReloader {
  private current: ServingPair | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly server: Server,
    private readonly o: CertificateReloaderOptions,
  ) {}

  /** Loads the certificate once (the caller serves it from the start) and starts the checks. */
  async start(): Promise<ServingPair> {
    const first = await this.o.load();
    this.current = first;
    this.schedule();
    return first;
  }

  /** One check now: swaps the certificate when it changed; true when it did. */
  async check(): Promise<boolean> {
    const next = await this.o.load();
    if (this.current && next.cert === this.current.cert && next.key === this.current.key) return false;
    this.server.setSecureContext({ ...SERVER_TLS, ...(this.o.context ?? {}), cert: next.cert, key: next.key });
    this.current = next;
    this.o.log.info('serving certificate reloaded');
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = (this.o.clock ?? realClock).setTimer(this.o.intervalMs ?? 60_000, () => {
      this.check()
        .catch((err: unknown) => this.o.log.warn('serving certificate not reloaded', { error: err instanceof Error ? err.message : String(err) }))
        .finally(() => this.schedule());
    });
  }
}
