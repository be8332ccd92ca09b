// The order in which a deleted pod's running containers stop (kubelet's terminationOrdering): the app containers at
// once, then each sidecar once every app container and every sidecar after it in the spec has stopped, so that
// sidecars stop last to first. A container waits no longer than its grace period allows.
import { isRestartableInitContainer, type Pod } from '../api/index.js';
import type { Clock, TimerHandle } from '../lib/clock.js';

export class TerminationOrder {
  private readonly stopped = new Map<string, Promise<void>>();
  private readonly markStopped = new Map<string, () => void>();
  private readonly prerequisites = new Map<string, string[]>();

  /** `running`: the names of the pod's containers that run now (only those are waited for). */
  constructor(pod: Pod, running: readonly string[]) {
    const live = new Set(running);
    for (const name of live) this.stopped.set(name, new Promise<void>((resolve) => this.markStopped.set(name, resolve)));
    const apps = pod.spec.containers.map((c) => c.name).filter((n) => live.has(n));
    const sidecars = (pod.spec.initContainers ?? []).filter((c) => isRestartableInitContainer(c) && live.has(c.name)).map((c) => c.name);
    sidecars.forEach((name, i) => this.prerequisites.set(name, [...apps, ...sidecars.slice(i + 1)]));
  }

  /** Whether `name` must wait for others before it stops. */
  waits(name: string): boolean {
    return (this.prerequisites.get(name)?.length ?? 0) > 0;
  }

  /** Resolves once every container `name` waits for has stopped, or after `maxMs` on the clock. */
  async waitForTurn(name: string, maxMs: number, clock: Clock): Promise<void> {
    const before = (this.prerequisites.get(name) ?? []).map((n) => this.stopped.get(n)).filter((p): p is Promise<void> => p !== undefined);
    if (!before.length) return;
    let timer: TimerHandle | undefined;
    try {
      await Promise.race([Promise.all(before), new Promise<void>((resolve) => (timer = clock.setTimer(Math.max(0, maxMs), resolve)))]);
    } finally {
      timer?.cancel();
    }
  }

  /** `name` has stopped: those waiting for it may go on. */
  containerStopped(name: string): void {
    this.markStopped.get(name)?.();
  }
}
