// The agent's crash-loop and image-pull back-off: the shared per-key back-off (lib/backoff.ts) with kubelet's
// numbers, 10 s doubling to 5 min, forgotten after twice that of quiet.
import { Backoff as KeyedBackoff } from '../lib/backoff.js';
import type { Clock } from '../lib/clock.js';

export const INITIAL_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 5 * 60_000;

export class Backoff extends KeyedBackoff {
  constructor(clock: Clock, initialMs = INITIAL_BACKOFF_MS, maxMs = MAX_BACKOFF_MS) {
    super(clock, initialMs, maxMs);
  }
}
