// VolumeBinding (pkg/scheduler/framework/plugins/volumebinding): a pod goes only where its volumes can be.
//
// PreFilter reads the pod's claims: a missing or deleting claim, an ephemeral claim the pod does not own, or an
// Immediate claim not bound yet makes the pod unschedulable everywhere. Filter checks, per node, that the volumes of
// bound claims admit the node (local volumes are pinned to one), and that each WaitForFirstConsumer claim can get an
// Available volume there or be provisioned there. Reserve promises the chosen volumes and nodes to this pod in an
// assume cache (so the next pods do not take them before the writes land); PreBind writes them (a volume's claimRef,
// or the claim's volume.kubernetes.io/selected-node for the provisioner) and waits until the PV controller has bound
// every claim, up to bindTimeoutSeconds; a failure unreserves and the pod is scheduled again.
import { ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, isVolumeBoundToClaim, volumeNodeAffinityMatches, type PersistentVolumeClaim } from '../../../api/index.js';
import type { PodInfo } from '../../framework/node-info.js';
import { Status, stateKey, type FilterPlugin, type Handle, type PreBindPlugin, type PreFilterPlugin, type ReservePlugin } from '../../framework/types.js';
import { claimKeyOf, findPodVolumes, isFullyBound, podClaims, type NodeVolumes, type PodClaims } from './pod-volumes.js';

export const NAME = 'VolumeBinding';
export const DEFAULT_BIND_TIMEOUT_SECONDS = 600;

interface StateData {
  claims: PodClaims;
  byNode: Map<string, NodeVolumes>;
  /** The plan Reserve promised (and PreBind writes). */
  reserved?: NodeVolumes;
}
const KEY = stateKey<StateData>(`PreFilter${NAME}`);

/** a is a later version than b (resourceVersions are revisions: numbers). */
function newerThan(a: PersistentVolumeClaim, b: PersistentVolumeClaim): boolean {
  const x = a.metadata?.resourceVersion ?? '';
  const y = b.metadata?.resourceVersion ?? '';
  if (!/^\d+$/.test(x) || !/^\d+$/.test(y)) return x !== y;
  return x.length !== y.length ? x.length > y.length : x > y;
}

/** Promises made by Reserve and not yet seen in the informers: volume name -> claim, claim -> selected node. */
class AssumeCache {
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

export function volumeBinding(args: Record<string, unknown>, handle: Handle): PreFilterPlugin & FilterPlugin & ReservePlugin & PreBindPlugin {
  const timeoutMs = (typeof args.bindTimeoutSeconds === 'number' ? args.bindTimeoutSeconds : DEFAULT_BIND_TIMEOUT_SECONDS) * 1000;
  const listers = handle.volumes;
  const assumed = new AssumeCache();
  /** The claim as promised or written by this plugin, until the informer brings a newer version. */
  const claimView = (ns: string, name: string): PersistentVolumeClaim | undefined => {
    const seen = listers.claim(ns, name);
    const mine = assumed.claims.get(`${ns}/${name}`);
    return mine && (!seen || !newerThan(seen, mine)) ? mine : seen;
  };
  const promised = (pvName: string, claimKey: string): boolean => {
    const owner = assumed.volumes.get(pvName);
    return owner !== undefined && owner !== claimKey;
  };

  /** Every claim of the plan is bound, on a volume that admits the node; throws when waiting cannot succeed. */
  function allBound(plan: NodeVolumes, node: string): boolean {
    const n = handle.snapshot.get(node)?.node;
    const claims = [...plan.staticBindings.map((b) => b.pvc), ...plan.dynamicProvisions];
    for (const c of claims) {
      const pvc = claimView(c.metadata?.namespace ?? '', c.metadata?.name ?? '');
      if (!pvc) throw new Error(`persistentvolumeclaim "${c.metadata?.name ?? ''}" was deleted`);
      if (plan.dynamicProvisions.includes(c) && !pvc.spec?.volumeName && pvc.metadata?.annotations?.[ANN_SELECTED_NODE] !== node) {
        throw new Error(`selectedNode annotation reset for PVC "${pvc.metadata?.name ?? ''}"`);
      }
      if (!isFullyBound(pvc)) return false;
      const pv = listers.volume(pvc.spec?.volumeName ?? '');
      if (!pv || !isVolumeBoundToClaim(pv, pvc)) return false;
      if (n && !volumeNodeAffinityMatches(pv, n)) throw new Error(`pv "${pv.metadata.name ?? ''}" node affinity doesn't match node "${node}"`);
    }
    return true;
  }

  function waitBound(plan: NodeVolumes, node: string, signal: AbortSignal): Promise<void> {
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
          if (allBound(plan, node)) finish();
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const onAbort = (): void => finish(new Error('binding volumes: scheduler stopped'));
      const unsubscribe = listers.onChange(check);
      const timer = handle.clock.setTimer(timeoutMs, () => finish(new Error('binding volumes: timed out waiting for the condition')));
      signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /** Writes the plan: claimRefs on the chosen volumes, selected-node on the claims to provision. */
  async function writePlan(plan: NodeVolumes, node: string): Promise<void> {
    for (const { pv, pvc } of plan.staticBindings) {
      const fresh = listers.volume(pv.metadata.name ?? '') ?? pv;
      if (isVolumeBoundToClaim(fresh, pvc) && fresh.spec?.claimRef?.uid) continue;
      const m = pvc.metadata ?? {};
      const next = structuredClone(fresh);
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
      (next.spec ??= {}).claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) };
      await handle.api.updateVolume(next);
    }
    for (const c of plan.dynamicProvisions) {
      const fresh = listers.claim(c.metadata?.namespace ?? '', c.metadata?.name ?? '') ?? c;
      if (fresh.metadata?.annotations?.[ANN_SELECTED_NODE] === node) continue;
      const next = structuredClone(fresh);
      const meta = (next.metadata ??= {});
      meta.annotations = { ...(meta.annotations ?? {}), [ANN_SELECTED_NODE]: node };
      // What was written stands for the claim until the informer has it (or something newer).
      assumed.claims.set(claimKeyOf(c), await handle.api.updateClaim(next));
    }
  }

  return {
    name: NAME,
    events: ['NodeAdd', 'NodeLabelChange', 'PvcAdd', 'PvcUpdate', 'PvAdd', 'PvUpdate', 'StorageClassAdd', 'CSINodeChange'],
    preFilter(state, pod: PodInfo) {
      const vols = pod.pod.spec.volumes;
      if (!vols?.some((v) => v.persistentVolumeClaim || v.ephemeral)) return Status.skip();
      const claims = podClaims(pod.pod, claimView, (n) => listers.storageClass(n));
      if (typeof claims === 'string') return Status.unresolvable(claims);
      state.write(KEY, { claims, byNode: new Map() });
      return Status.success();
    },
    filter(state, _pod, node) {
      const d = state.read(KEY);
      if (!d) return Status.success();
      if (!node.node) return Status.unresolvable('node not found');
      const res = findPodVolumes(d.claims, node.node, listers, promised);
      if (Array.isArray(res)) return Status.unresolvable(...res);
      d.byNode.set(node.name, res);
      return Status.success();
    },
    reserve(state, _pod, nodeName) {
      const d = state.read(KEY);
      const plan = d?.byNode.get(nodeName);
      if (!d || !plan) return Status.success();
      assumed.assume(plan, nodeName);
      d.reserved = plan;
      return Status.success();
    },
    unreserve(state) {
      const d = state.read(KEY);
      if (d?.reserved) assumed.forget(d.reserved);
    },
    preBindPreFlight(state) {
      const plan = state.read(KEY)?.reserved;
      return plan && (plan.staticBindings.length || plan.dynamicProvisions.length) ? Status.success() : Status.skip();
    },
    async preBind(state, _pod, nodeName, signal) {
      const plan = state.read(KEY)?.reserved;
      if (!plan) return Status.success();
      try {
        await writePlan(plan, nodeName);
        await waitBound(plan, nodeName, signal);
      } catch (err) {
        return Status.error(new Error(`binding volumes: ${err instanceof Error ? err.message.replace(/^binding volumes: /, '') : String(err)}`));
      }
      assumed.forget(plan); // the informers have the bindings now
      return Status.success();
    },
  };
}
