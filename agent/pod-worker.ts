// One worker per pod (kubelet's pod_workers.go): a lifecycle state machine, SyncPod -> TerminatingPod ->
// TerminatedPod, whose passes run one at a time. A pass asked for while one runs makes one more pass after it; a
// pod that is still changing is synced again every sync period, a settled one every SETTLED_RESYNC_PERIODS (the
// runtime relist and the probes wake it sooner). The passes themselves are the executor's (pod-sync.ts).
import { join } from 'node:path';
import type { Pod } from '../api/index.js';
import type { TimerHandle } from '../lib/clock.js';
import { isTerminationRequested } from './pod-actions.js';
import { PodState, type PodWorkerContext } from './pod-state.js';

/** A settled pod (all containers running or done, nothing waiting) is synced every this many sync periods. */
const SETTLED_RESYNC_PERIODS = 10;

/**
 * SyncPod: the pod should run, and each pass makes it so. TerminatingPod: it is being deleted (or is gone from the
 * API): its containers are stopped within the grace period. TerminatedPod: its sandbox, volumes and logs are
 * removed and, unless the API object is gone already, the pod object is deleted; then the worker ends.
 */
export type PodLifecycle = 'SyncPod' | 'TerminatingPod' | 'TerminatedPod';

/** The passes of each lifecycle state (pod-sync.ts's PodSyncer). */
export interface PodPasses {
  /** True when the pod has settled. */
  syncPod(state: PodState): Promise<boolean>;
  syncTerminatingPod(state: PodState): Promise<void>;
  syncTerminatedPod(state: PodState): Promise<void>;
}

export class PodWorker {
  private readonly state: PodState;
  private lifecycle: PodLifecycle = 'SyncPod';
  private finished = false;
  private running: Promise<void> | undefined;
  private dirty = false;
  private timer: TimerHandle | undefined;
  private stopped = false;
  /** The last pass left nothing to do: the relist (pleg.ts) and probes wake the worker on changes. */
  private settled = false;

  constructor(
    pod: Pod,
    private readonly ctx: Pick<PodWorkerContext, 'clock' | 'log' | 'syncIntervalMs'>,
    private readonly syncer: PodPasses,
    private readonly onFinished: (uid: string) => void,
  ) {
    this.state = new PodState(pod, ctx.log, () => this.kick());
  }

  get uid(): string {
    return this.state.uid;
  }

  get key(): string {
    return this.state.key;
  }

  get current(): Pod {
    return this.state.pod;
  }

  get sandbox(): string | undefined {
    return this.state.sandboxId;
  }

  get phase(): PodLifecycle {
    return this.lifecycle;
  }

  update(pod: Pod): void {
    // The echo of our own status write: the worker has this version already and acted on it.
    const same = pod.metadata.resourceVersion !== undefined && pod.metadata.resourceVersion === this.state.pod.metadata.resourceVersion;
    this.state.pod = pod;
    if (!same) this.kick();
  }

  /** The pod object is gone from the API (force delete): stop everything, nothing to report. */
  remove(): void {
    this.state.removed = true;
    this.kick();
  }

  /** Stops the worker loop, leaving containers as they are (agent shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.state.stopProbes();
    await this.running;
  }

  kick(): void {
    if (this.stopped || this.finished) return;
    this.dirty = true;
    if (this.running) return;
    this.running = (async () => {
      while (this.dirty && !this.stopped && !this.finished) {
        this.dirty = false;
        try {
          await this.pass();
        } catch (err) {
          this.state.log.warn('pod sync failed', { lifecycle: this.lifecycle, error: err instanceof Error ? err.message : String(err) });
        }
      }
      this.running = undefined;
      if (!this.stopped && !this.finished) {
        this.timer?.cancel();
        this.timer = this.ctx.clock.setTimer(this.ctx.syncIntervalMs * (this.settled ? SETTLED_RESYNC_PERIODS : 1), () => this.kick());
      }
    })();
  }

  /** One pass of the state machine; a failed step stays where it is and is retried on the next pass. */
  private async pass(): Promise<void> {
    this.settled = false;
    if (this.lifecycle === 'SyncPod' && (this.state.removed || isTerminationRequested(this.state.pod))) this.lifecycle = 'TerminatingPod';
    if (this.lifecycle === 'SyncPod') {
      this.settled = await this.syncer.syncPod(this.state);
      return;
    }
    if (this.lifecycle === 'TerminatingPod') {
      await this.syncer.syncTerminatingPod(this.state);
      this.lifecycle = 'TerminatedPod';
    }
    await this.syncer.syncTerminatedPod(this.state);
    this.finished = true;
    this.onFinished(this.uid);
  }
}

/** Where a pod's container logs live: ROOT/logs/<namespace>_<name>_<uid>. */
export function podLogDir(rootDir: string, pod: Pod): string {
  return join(rootDir, 'logs', `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`);
}
