// Watches the pods bound to this node and keeps one PodWorker per pod; removes sandboxes of pods it no longer knows.
// Like kubelet's PLEG, it relists the runtime's containers and sandboxes once per period for all pods, and wakes the
// worker of each pod whose containers or sandbox changed: settled pods need no sync of their own every period.
import type { Pod } from '../api/index.js';
import { Informer } from '../client/index.js';
import type { Logger } from '../lib/logger.js';
import { LABELS } from './pod-config.js';
import { PodWorker, type PodWorkerContext } from './pod-worker.js';

export class PodManager {
  readonly informer: Informer<Pod>;
  private readonly workers = new Map<string, PodWorker>();
  private stopped = false;
  private relistTimer: NodeJS.Timeout | undefined;
  private relisting = false;
  /** Per pod uid, what the last relist saw: container and sandbox ids with their states. */
  private seen = new Map<string, string>();

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
    const w = this.workers.get(uid);
    if (w) return w.update(pod);
    const added = new PodWorker(pod, this.ctx, (id) => this.workers.delete(id));
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
    if (!this.stopped) {
      this.relistTimer = setInterval(() => void this.relist(), this.ctx.syncIntervalMs);
      this.relistTimer.unref();
    }
  }

  /** One list of the node's sandboxes and containers; kicks the workers of pods whose part of it changed. */
  private async relist(): Promise<void> {
    if (this.relisting || this.stopped) return;
    this.relisting = true;
    try {
      const rt = this.ctx.runtime.runtime;
      const [{ items }, { containers }] = await Promise.all([rt.listPodSandbox({ filter: { labelSelector: { [LABELS.node]: this.ctx.nodeName } } }), rt.listContainers({})]);
      const parts = new Map<string, string[]>();
      const add = (uid: string | undefined, part: string): void => {
        if (uid && this.workers.has(uid)) parts.set(uid, [...(parts.get(uid) ?? []), part]);
      };
      for (const s of items) add(s.labels[LABELS.podUid], `s:${s.id}:${s.state}`);
      for (const c of containers) add(c.labels[LABELS.podUid], `c:${c.id}:${c.state}`);
      const now = new Map<string, string>();
      for (const uid of this.workers.keys()) now.set(uid, (parts.get(uid) ?? []).sort().join(','));
      for (const [uid, text] of now) {
        // A pod new since the last relist counts as having had nothing: its worker's first pass may predate this list.
        if ((this.seen.get(uid) ?? '') !== text) this.workers.get(uid)?.kick();
      }
      this.seen = now;
    } catch (err) {
      this.log.debug('runtime relist failed', { error: String(err) });
    } finally {
      this.relisting = false;
    }
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
    clearInterval(this.relistTimer);
    await this.informer.stop();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }
}
