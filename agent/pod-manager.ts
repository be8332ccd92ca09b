// Watches the pods bound to this node and keeps one PodWorker per pod (pod-worker.ts), with the runtime relist
// (pleg.ts) that wakes them; at start, removes the sandboxes of pods it no longer knows.
import type { Pod } from '../api/index.js';
import { Informer } from '../client/index.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { LABELS } from './pod-config.js';
import type { PodWorkerContext } from './pod-state.js';
import { PodSyncer } from './pod-sync.js';
import { PodWorker } from './pod-worker.js';
import { PodLifecycleEvents } from './pleg.js';

export class PodManager {
  readonly informer: Informer<Pod>;
  private readonly workers = new Map<string, PodWorker>();
  private readonly syncer: PodSyncer;
  private readonly pleg: PodLifecycleEvents;
  private stopped = false;

  constructor(
    private readonly ctx: PodWorkerContext,
    private readonly log: Logger,
    /** Paces the runtime relist (see PlegOptions.clock). */
    relistClock: Clock,
  ) {
    this.syncer = new PodSyncer(ctx);
    this.informer = new Informer<Pod>(ctx.pods, { fieldSelector: `spec.nodeName=${ctx.nodeName}`, clock: ctx.clock, log });
    this.informer.addEventHandler({
      onAdd: (p) => this.upsert(p),
      onUpdate: (_o, p) => this.upsert(p),
      onDelete: (p) => this.workers.get(p.metadata.uid ?? '')?.remove(),
    });
    this.pleg = new PodLifecycleEvents({
      runtime: ctx.runtime,
      nodeName: ctx.nodeName,
      periodMs: ctx.syncIntervalMs,
      clock: relistClock,
      log,
      pods: () => this.workers.keys(),
      wake: (uid) => this.workers.get(uid)?.kick(),
    });
  }

  private upsert(pod: Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata.uid ?? '';
    const w = this.workers.get(uid);
    if (w) return w.update(pod);
    const added = new PodWorker(pod, this.ctx, this.syncer, (id) => this.workers.delete(id));
    this.workers.set(uid, added);
    this.log.info('pod added', { pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
    added.kick();
  }

  /** The worker of a pod by namespace/name (for the streaming server). */
  find(namespace: string, name: string): PodWorker | undefined {
    for (const w of this.workers.values()) {
      const m = w.current.metadata;
      if (m.namespace === namespace && m.name === name) return w;
    }
    return undefined;
  }

  /** Re-syncs every pod now (e.g. once the pod CIDR arrives). */
  kickAll(): void {
    for (const w of this.workers.values()) w.kick();
  }

  async start(signal: AbortSignal): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync(signal);
    await this.removeOrphans();
    if (!this.stopped) this.pleg.start();
  }

  /** Sandboxes left by pods that are gone (deleted while the agent was down). */
  private async removeOrphans(): Promise<void> {
    const known = new Set(this.informer.indexer.list().map((p) => p.metadata.uid ?? ''));
    const { items } = await this.ctx.runtime.runtime.listPodSandbox({ filter: { labelSelector: { [LABELS.node]: this.ctx.nodeName } } });
    for (const s of items) {
      const uid = s.labels[LABELS.podUid];
      if (!uid || known.has(uid)) continue;
      this.log.info('removing the sandbox of a pod that is gone', { sandbox: s.id, uid });
      await this.ctx.runtime.runtime.removePodSandbox({ podSandboxId: s.id }).catch((err: unknown) => this.log.warn('removing an orphan sandbox failed', { error: String(err) }));
      await this.ctx.volumes.tearDown(uid).catch((err: unknown) => this.log.warn('removing an orphan pod volumes failed', { uid, error: String(err) }));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pleg.stop();
    await this.informer.stop();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }
}
