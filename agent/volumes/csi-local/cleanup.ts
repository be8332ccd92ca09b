// The node's half of Delete reclaim for local-path volumes. The PV controller deletes a released local-path PV; the PV
// keeps the local-path cleanup finalizer, and this reconciler (one per node, run by the agent) removes the volume's
// directory when the PV pinned to this node is being deleted, then the finalizer, and the PV is gone. A Retain volume
// deleted by hand loses only its finalizer: its directory stays, as kube leaves a retained volume's storage alone.
//
// This is how far the node side gets from CSI: a CSI driver's controller plugin deletes the backing storage itself in
// DeleteVolume (it can reach it: a cloud disk, a SAN LUN); a directory on one node can only be removed there, so the
// deletion is handed to the node through the finalizer (rancher's provisioner runs a helper pod on the node instead).
// A node that never comes back leaves the PV Terminating: remove the finalizer by hand then.
import { isConflict, isNotFound, LOCAL_PATH_CLEANUP_FINALIZER, volumeHostname, type PersistentVolume } from '../../../api/index.js';
import { Informer, PERSISTENTVOLUMES, WorkQueue, ExponentialRateLimiter, type ResourceClient, type RestClient } from '../../../client/index.js';
import { realClock, type Clock } from '../../../lib/clock.js';
import { logger } from '../../../lib/logger.js';
import { localPathVolume, type LocalPathNodeService } from './node-service.js';

export class LocalPathCleaner {
  private readonly informer: Informer<PersistentVolume>;
  private readonly client: ResourceClient<PersistentVolume>;
  private readonly queue: WorkQueue;
  private readonly log = logger('local-path-cleanup');
  private running: Promise<void> | undefined;

  constructor(
    rest: RestClient,
    private readonly node: LocalPathNodeService,
    clock: Clock = realClock,
  ) {
    this.client = rest.resource<PersistentVolume>(PERSISTENTVOLUMES);
    this.informer = new Informer<PersistentVolume>(this.client, { clock });
    this.queue = new WorkQueue({ clock, rateLimiter: new ExponentialRateLimiter(100, 60_000, clock) });
    const check = (pv: PersistentVolume): void => {
      if (this.mine(pv)) this.queue.add(pv.metadata.name ?? '');
    };
    this.informer.addEventHandler({ onAdd: check, onUpdate: (_o, n) => check(n) });
  }

  /** A local-path PV of this node being deleted, still holding the cleanup finalizer. */
  private mine(pv: PersistentVolume): boolean {
    return !!pv.metadata.deletionTimestamp && (pv.metadata.finalizers ?? []).includes(LOCAL_PATH_CLEANUP_FINALIZER) && volumeHostname(pv) === this.node.nodeName;
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
    this.running = this.work();
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
    await this.informer.stop();
  }

  private async work(): Promise<void> {
    for (;;) {
      const name = await this.queue.get();
      if (name === undefined) return;
      try {
        await this.cleanUp(name);
        this.queue.forget(name);
      } catch (err) {
        // A conflict is another controller's write to the volume (pv-protection's): retried on the next state, quietly.
        if (isConflict(err)) this.log.debug('volume changed meanwhile, retrying', { volume: name });
        else this.log.warn('volume cleanup failed, retrying', { volume: name, error: err instanceof Error ? err.message : String(err) });
        this.queue.addRateLimited(name);
      } finally {
        this.queue.done(name);
      }
    }
  }

  private async cleanUp(name: string): Promise<void> {
    const pv = this.informer.indexer.get(name);
    if (!pv || !this.mine(pv)) return;
    const vol = localPathVolume(pv);
    // A Retain volume is only deleted by hand: as with kube's Retain, the data stays for the administrator to reclaim.
    if (vol && pv.spec?.persistentVolumeReclaimPolicy === 'Retain') this.log.info('retained volume deleted; its directory is kept', { volume: name, path: vol.volumeContext.path });
    else if (vol) await this.node.deleteVolumeDirectory(vol.volumeContext);
    else this.log.warn('cleanup finalizer on a volume that is not local-path; removing it only', { volume: name });
    const next = structuredClone(pv);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== LOCAL_PATH_CLEANUP_FINALIZER);
    try {
      await this.client.update(next);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    this.log.info('volume directory removed', { volume: name, path: vol?.volumeContext.path });
  }
}
