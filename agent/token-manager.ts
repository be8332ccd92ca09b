// Service-account tokens of projected volumes (the kubelet's token manager): one per pod, service account, audience
// and lifetime, asked for with the TokenRequest API bound to the pod, and reused until it needs refreshing: past 80%
// of its life, or after 24 hours (each with up to 10 s of jitter), as the kubelet does. A pod's tokens go with it.
import { realClock, type Clock } from '../lib/clock.js';

interface Cached {
  token: string;
  /** ms since the epoch */
  expires: number;
  ttlSeconds: number;
}

export interface TokenKey {
  podUid: string;
  namespace: string;
  serviceAccount: string;
  audience: string;
  expirationSeconds: number;
}

const MAX_TTL_MS = 24 * 3600 * 1000;
const MAX_JITTER_MS = 10_000;

export class TokenManager {
  private readonly cache = new Map<string, Cached & { podUid: string }>();

  constructor(
    private readonly clock: Clock = realClock,
    private readonly random: () => number = Math.random,
  ) {}

  /** requiresRefresh: within 20% of the end of its life, or older than a day. */
  private stale(c: Cached): boolean {
    const now = this.clock.now();
    const jitter = this.random() * MAX_JITTER_MS;
    const issued = c.expires - c.ttlSeconds * 1000;
    return now > issued + MAX_TTL_MS - jitter || now > c.expires - c.ttlSeconds * 200 - jitter;
  }

  /** The cached token, or a new one from `request` (which answers the token and its expirationTimestamp). */
  async token(k: TokenKey, request: () => Promise<{ token: string; expirationTimestamp?: string }>): Promise<string> {
    const key = JSON.stringify([k.podUid, k.namespace, k.serviceAccount, k.audience, k.expirationSeconds]);
    const have = this.cache.get(key);
    if (have && !this.stale(have)) return have.token;
    const r = await request();
    const expires = Date.parse(r.expirationTimestamp ?? '');
    this.cache.set(key, { token: r.token, expires: Number.isFinite(expires) ? expires : this.clock.now() + k.expirationSeconds * 1000, ttlSeconds: k.expirationSeconds, podUid: k.podUid });
    return r.token;
  }

  /** Drops a pod's tokens (its volumes are gone). */
  forget(podUid: string): void {
    for (const [k, v] of this.cache) if (v.podUid === podUid) this.cache.delete(k);
  }
}
