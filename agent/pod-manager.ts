// Watches the pods bound to this node and keeps one PodWorker per pod; removes sandboxes of pods it no longer knows.
import type { Pod } from '../api/index.js';
import { Informer } from '../client/index.js';
import type { Logger } from '../lib/logger.js';
import { LABELS } from './pod-config.js';
import { PodWorker, type PodWorkerContext } from './pod-worker.js';

export class PodManager {
  readonly informer: Informer<Pod>;
  private readonly workers = new Map<string, PodWorker>();
  private stopped = false;

  constructor(
    private readonly ctx: PodWorkerContext,
    private readonly log: Logger,
  ) {
    this.informer = new Informer<Pod>(ctx.pods, { fieldSelector: `spec.nodeName=${ctx.nodeName}`, clock: ctx.clock, log });
    this.informer.addEventHandler({
      onAdd: (p) => this.upsert(p),
      onUpdate: (_o, p) => this.upsert(p),
      onDelete: (p) => this.workers.get(p.metadata.uid ?? '')?.remove(),
    });
  }

  private upsert(pod: Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata.uid ?? '';
    let w = this.workers.get(uid);
    if (!w) {
      w = new PodWorker(pod, this.ctx, (id) => this.workers.delete(id));
      this.workers.set(uid, w);
      this.log.info('pod added', { pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
    }
    w.update(pod);
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
      await this.ctx.volumes.tearDown(uid).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }
}
