// The pod lifecycle event generator (kubelet's PLEG): one list of the node's sandboxes and containers per period,
// for all pods at once; the worker of each pod whose part of it changed is woken at once, so settled pods need no
// sync of their own every period.
import { every, type Clock, type TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RuntimeClient } from './cri/index.js';
import { LABELS } from './pod-config.js';

export interface PlegOptions {
  runtime: RuntimeClient;
  nodeName: string;
  periodMs: number;
  /**
   * Paces the relists. It polls the real world, so the agent gives it the real clock even where a test fakes the
   * agent's time (kubelet's relist, too, runs on wall-clock time while its clock is injected).
   */
  clock: Clock;
  log: Logger;
  /** The uids of the pods that have workers. */
  pods(): Iterable<string>;
  /** Wakes the worker of a pod. */
  wake(uid: string): void;
}

export class PodLifecycleEvents {
  /** Per pod uid, what the last relist saw: container and sandbox ids with their states. */
  private seen = new Map<string, string>();
  private timer: TimerHandle | undefined;

  constructor(private readonly o: PlegOptions) {}

  start(): void {
    this.timer ??= every(this.o.clock, this.o.periodMs, () => this.relist(), (err) => this.o.log.debug('runtime relist failed', { error: String(err) }), { delayFirst: true });
  }

  stop(): void {
    this.timer?.cancel();
  }

  /** One list of the node's sandboxes and containers; wakes the workers of pods whose part of it changed. */
  async relist(): Promise<void> {
    const rt = this.o.runtime.runtime;
    const [{ items }, { containers }] = await Promise.all([rt.listPodSandbox({ filter: { labelSelector: { [LABELS.node]: this.o.nodeName } } }), rt.listContainers({})]);
    const known = new Set(this.o.pods());
    const parts = new Map<string, string[]>();
    const add = (uid: string | undefined, part: string): void => {
      if (uid && known.has(uid)) parts.set(uid, [...(parts.get(uid) ?? []), part]);
    };
    for (const s of items) add(s.labels[LABELS.podUid], `s:${s.id}:${s.state}`);
    for (const c of containers) add(c.labels[LABELS.podUid], `c:${c.id}:${c.state}`);
    const now = new Map<string, string>();
    for (const uid of known) now.set(uid, (parts.get(uid) ?? []).sort().join(','));
    for (const [uid, text] of now) {
      // A pod new since the last relist counts as having had nothing: its worker's first pass may predate this list.
      if ((this.seen.get(uid) ?? '') !== text) this.o.wake(uid);
    }
    this.seen = now;
  }
}
