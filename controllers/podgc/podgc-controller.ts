// Pod garbage collection (pkg/controller/podgc): a periodic sweep that
//  - deletes the oldest terminated pods (Succeeded or Failed) beyond --terminated-pod-gc-threshold,
//  - fails and deletes pods bound to nodes that no longer exist (after a quarantine, and a fresh GET of the node, so a
//    node that the cache has not seen yet is not mistaken for a deleted one),
//  - force-deletes terminating pods that were never scheduled (no agent will ever finish them).
import { isConflict, isNotFound } from '../../api/errors.js';
import { keyOf, type Informer } from '../../client/informer.js';
import type { ResourceClient } from '../../client/rest.js';
import { Controller, type ControllerContext, type SyncContext, type SyncResult } from '../framework/controller.js';
import { rfc3339 } from '../framework/pods.js';
import { NODES, PODS, type Node, type Pod } from '../framework/types.js';

export const DEFAULT_TERMINATED_POD_GC_THRESHOLD = 12_500;
/** How often the sweep runs (gcCheckPeriod). */
export const GC_CHECK_PERIOD_MS = 20_000;
/** How long a node must be missing before its pods are collected (quarantineTime). */
export const QUARANTINE_MS = 40_000;
const SWEEP = 'sweep';

export interface PodGcOptions {
  /** Terminated pods kept before the oldest are deleted; 0 disables that part (as in Kubernetes). */
  terminatedPodGcThreshold?: number;
  periodMs?: number;
  quarantineMs?: number;
}

const isTerminated = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
const created = (p: Pod): number => Date.parse(p.metadata.creationTimestamp ?? '') || 0;

export class PodGcController extends Controller {
  private readonly podInformer: Informer<Pod>;
  private readonly nodeInformer: Informer<Node>;
  private readonly pods: ResourceClient<Pod>;
  private readonly nodes: ResourceClient<Node>;
  private readonly threshold: number;
  private readonly periodMs: number;
  private readonly quarantineMs: number;
  /** Node name -> when the sweep first saw pods bound to it while it was missing from the cache. */
  private readonly missingSince = new Map<string, number>();
  protected readonly informers;

  constructor(ctx: ControllerContext, opts: PodGcOptions = {}) {
    super({ name: 'pod-garbage-collector', clock: ctx.clock, workers: 1 });
    this.podInformer = ctx.informers.for<Pod>(PODS);
    this.nodeInformer = ctx.informers.for<Node>(NODES);
    this.informers = [this.podInformer, this.nodeInformer];
    this.pods = ctx.rest.resource<Pod>(PODS);
    this.nodes = ctx.rest.resource<Node>(NODES);
    this.threshold = opts.terminatedPodGcThreshold ?? DEFAULT_TERMINATED_POD_GC_THRESHOLD;
    this.periodMs = opts.periodMs ?? GC_CHECK_PERIOD_MS;
    this.quarantineMs = opts.quarantineMs ?? QUARANTINE_MS;
  }

  protected override started(): void {
    this.queue.add(SWEEP);
  }

  protected async sync(_key: string, ctx: SyncContext): Promise<SyncResult> {
    const pods = this.podInformer.indexer.list();
    await this.gcTerminated(pods, ctx);
    await this.gcOrphaned(pods, ctx);
    await this.gcUnscheduledTerminating(pods, ctx);
    return { requeueAfterMs: this.periodMs };
  }

  private async gcTerminated(pods: Pod[], ctx: SyncContext): Promise<void> {
    if (this.threshold <= 0) return;
    const terminated = pods.filter((p) => isTerminated(p) && !p.metadata.deletionTimestamp);
    const excess = terminated.length - this.threshold;
    if (excess <= 0) return;
    terminated.sort((a, b) => created(a) - created(b) || keyOf(a).localeCompare(keyOf(b)));
    ctx.log.info('deleting terminated pods over the threshold', { terminated: terminated.length, threshold: this.threshold, deleting: excess });
    for (const p of terminated.slice(0, excess)) await this.forceDelete(p, ctx, 'terminated pod over the threshold');
  }

  private async gcOrphaned(pods: Pod[], ctx: SyncContext): Promise<void> {
    const now = this.clock.now();
    const known = new Set(this.nodeInformer.indexer.list().map((n) => n.metadata.name));
    const missing = new Set<string>();
    for (const p of pods) {
      const node = p.spec.nodeName;
      if (node && !known.has(node)) missing.add(node);
    }
    for (const name of [...this.missingSince.keys()]) if (!missing.has(name)) this.missingSince.delete(name);
    for (const name of missing) {
      const since = this.missingSince.get(name);
      if (since === undefined) {
        this.missingSince.set(name, now);
        continue;
      }
      if (now - since < this.quarantineMs) continue;
      // The cache may lag: only a NotFound from the API server makes the node gone.
      try {
        await this.nodes.get(undefined, name);
        continue;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      this.missingSince.delete(name);
      for (const p of pods.filter((x) => x.spec.nodeName === name)) {
        if (!isTerminated(p)) await this.markFailed(p, `Pod was bound to node ${name}, which no longer exists`);
        await this.forceDelete(p, ctx, `bound to the deleted node ${name}`);
      }
    }
  }

  private async gcUnscheduledTerminating(pods: Pod[], ctx: SyncContext): Promise<void> {
    for (const p of pods) {
      if (p.metadata.deletionTimestamp && !p.spec.nodeName) await this.forceDelete(p, ctx, 'terminating and never scheduled');
    }
  }

  /** As Kubernetes does before deleting an orphaned pod: phase Failed with a DisruptionTarget condition. */
  private async markFailed(p: Pod, message: string): Promise<void> {
    const t = rfc3339(this.clock.now());
    try {
      await this.pods.patch(
        p.metadata.namespace,
        p.metadata.name ?? '',
        {
          status: {
            phase: 'Failed',
            conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: `PodGC: ${message}`, lastTransitionTime: t }],
          },
        },
        'strategic',
        { sub: 'status' },
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async forceDelete(p: Pod, ctx: SyncContext, why: string): Promise<void> {
    try {
      await this.pods.delete(p.metadata.namespace, p.metadata.name ?? '', {
        gracePeriodSeconds: 0,
        ...(p.metadata.uid ? { preconditions: { uid: p.metadata.uid } } : {}),
      });
      ctx.log.info('pod deleted', { pod: keyOf(p), reason: why });
    } catch (err) {
      // Gone already, or replaced by a new pod of the same name (the uid precondition): nothing to collect.
      if (!isNotFound(err) && !(isConflict(err) && /Precondition failed/.test(String(err)))) throw err;
    }
  }
}
