// VolumeBinding's binder (the scheduler's volume binder in Kubernetes): the assume cache that holds Reserve's promises
// until the informers show them, the writes PreBind makes, and the wait until the PV controller has bound every claim.
import { ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, isNewerResourceVersion, isVolumeBoundToClaim, volumeNodeAffinityMatches, type PersistentVolumeClaim } from '../../../api/index.js';
import type { Handle, VolumeListers } from '../../framework/types.js';
import { claimKeyOf, isFullyBound, type NodeVolumes } from './pod-volumes.js';

/** Promises made by Reserve and not yet seen in the informers: volume name -> claim, claim -> selected node. */
export class AssumeCache {
  readonly volumes = new Map<string, string>();
  readonly claims = new Map<string, PersistentVolumeClaim>();

  assume(plan: NodeVolumes, node: string): void {
    for (const b of plan.staticBindings) this.volumes.set(b.pv.metadata.name ?? '', claimKeyOf(b.pvc));
    for (const pvc of plan.dynamicProvisions) {
      if (pvc.metadata?.annotations?.[ANN_SELECTED_NODE] === node) continue;
      const meta = pvc.metadata ?? {};
      this.claims.set(claimKeyOf(pvc), { ...pvc, metadata: { ...meta, annotations: { ...(meta.annotations ?? {}), [ANN_SELECTED_NODE]: node } } });
    }
  }

  forget(plan: NodeVolumes): void {
    for (const b of plan.staticBindings) this.volumes.delete(b.pv.metadata.name ?? '');
    for (const pvc of plan.dynamicProvisions) this.claims.delete(claimKeyOf(pvc));
  }
}

/** Reserve's promises, PreBind's writes and wait. */
export class VolumeBinder {
  readonly assumed = new AssumeCache();
  private readonly listers: VolumeListers;

  constructor(
    private readonly handle: Handle,
    private readonly timeoutMs: number,
  ) {
    this.listers = handle.volumes;
  }

  /** The claim as promised or written by this plugin, until the informer brings a newer version. */
  claimView(ns: string, name: string): PersistentVolumeClaim | undefined {
    const seen = this.listers.claim(ns, name);
    const mine = this.assumed.claims.get(`${ns}/${name}`);
    return mine && (!seen || !isNewerResourceVersion(seen.metadata?.resourceVersion, mine.metadata?.resourceVersion)) ? mine : seen;
  }

  /** The volume was promised to another claim (not yet written). */
  promised(pvName: string, claimKey: string): boolean {
    const owner = this.assumed.volumes.get(pvName);
    return owner !== undefined && owner !== claimKey;
  }

  /** Every claim of the plan is bound, on a volume that admits the node; throws when waiting cannot succeed. */
  private allBound(plan: NodeVolumes, node: string): boolean {
    const n = this.handle.snapshot.get(node)?.node;
    const claims = [...plan.staticBindings.map((b) => b.pvc), ...plan.dynamicProvisions];
    for (const c of claims) {
      const pvc = this.claimView(c.metadata?.namespace ?? '', c.metadata?.name ?? '');
      if (!pvc) throw new Error(`persistentvolumeclaim "${c.metadata?.name ?? ''}" was deleted`);
      if (plan.dynamicProvisions.includes(c) && !pvc.spec?.volumeName && pvc.metadata?.annotations?.[ANN_SELECTED_NODE] !== node) {
        throw new Error(`selectedNode annotation reset for PVC "${pvc.metadata?.name ?? ''}"`);
      }
      if (!isFullyBound(pvc)) return false;
      const pv = this.listers.volume(pvc.spec?.volumeName ?? '');
      if (!pv || !isVolumeBoundToClaim(pv, pvc)) return false;
      if (n && !volumeNodeAffinityMatches(pv, n)) throw new Error(`pv "${pv.metadata.name ?? ''}" node affinity doesn't match node "${node}"`);
    }
    return true;
  }

  /** Resolves once allBound; rejects when it cannot be, after this.timeoutMs, or when signal aborts. */
  waitBound(plan: NodeVolumes, node: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        unsubscribe();
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        try {
          if (this.allBound(plan, node)) finish();
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const onAbort = (): void => finish(new Error('binding volumes: scheduler stopped'));
      const keys = [...plan.staticBindings.map((b) => claimKeyOf(b.pvc)), ...plan.dynamicProvisions.map(claimKeyOf)];
      const unsubscribe = this.listers.onClaimChange(keys, check);
      const timer = this.handle.clock.setTimer(this.timeoutMs, () => finish(new Error('binding volumes: timed out waiting for the condition')));
      signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /** Writes the plan: claimRefs on the chosen volumes, selected-node on the claims to provision. */
  async writePlan(plan: NodeVolumes, node: string): Promise<void> {
    for (const { pv, pvc } of plan.staticBindings) {
      const fresh = this.listers.volume(pv.metadata.name ?? '') ?? pv;
      if (isVolumeBoundToClaim(fresh, pvc) && fresh.spec?.claimRef?.uid) continue;
      const m = pvc.metadata ?? {};
      const next = structuredClone(fresh);
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
      (next.spec ??= {}).claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) };
      await this.handle.api.updateVolume(next);
    }
    for (const c of plan.dynamicProvisions) {
      const fresh = this.listers.claim(c.metadata?.namespace ?? '', c.metadata?.name ?? '') ?? c;
      if (fresh.metadata?.annotations?.[ANN_SELECTED_NODE] === node) continue;
      const next = structuredClone(fresh);
      const meta = (next.metadata ??= {});
      meta.annotations = { ...(meta.annotations ?? {}), [ANN_SELECTED_NODE]: node };
      // What was written stands for the claim until the informer has it (or something newer).
      this.assumed.claims.set(claimKeyOf(c), await this.handle.api.updateClaim(next));
    }
  }
}
