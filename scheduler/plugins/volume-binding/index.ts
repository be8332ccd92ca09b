// VolumeBinding (pkg/scheduler/framework/plugins/volumebinding): a pod goes only where its volumes can be.
//
// PreFilter reads the pod's claims: a missing or deleting claim, an ephemeral claim the pod does not own, or an
// Immediate claim not bound yet makes the pod unschedulable everywhere. Filter checks, per node, that the volumes of
// bound claims admit the node (local volumes are pinned to one), and that each WaitForFirstConsumer claim can get an
// Available volume there or be provisioned there. Reserve promises the chosen volumes and nodes to this pod in an
// assume cache (so the next pods do not take them before the writes land); PreBind writes them (a volume's claimRef,
// or the claim's volume.kubernetes.io/selected-node for the provisioner) and waits until the PV controller has bound
// every claim, up to bindTimeoutSeconds; a failure unreserves and the pod is scheduled again.
import type { PodInfo } from '../../framework/node-info.js';
import { Status, stateKey, type FilterPlugin, type Handle, type PreBindPlugin, type PreFilterPlugin, type ReservePlugin } from '../../framework/types.js';
import { VolumeBinder } from './binder.js';
import { findPodVolumes, podClaims, type NodeVolumes, type PodClaims } from './pod-volumes.js';

export const NAME = 'VolumeBinding';
export const DEFAULT_BIND_TIMEOUT_SECONDS = 600;

interface StateData {
  claims: PodClaims;
  byNode: Map<string, NodeVolumes>;
  /** The plan Reserve promised (and PreBind writes). */
  reserved?: NodeVolumes;
}
const KEY = stateKey<StateData>(`PreFilter${NAME}`);

export function volumeBinding(args: Record<string, unknown>, handle: Handle): PreFilterPlugin & FilterPlugin & ReservePlugin & PreBindPlugin {
  const timeoutMs = (typeof args.bindTimeoutSeconds === 'number' ? args.bindTimeoutSeconds : DEFAULT_BIND_TIMEOUT_SECONDS) * 1000;
  const listers = handle.volumes;
  const binder = new VolumeBinder(handle, timeoutMs);
  const assumed = binder.assumed;
  const claimView = (ns: string, name: string) => binder.claimView(ns, name);
  const promised = (pvName: string, claimKey: string): boolean => binder.promised(pvName, claimKey);

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
        await binder.writePlan(plan, nodeName);
        await binder.waitBound(plan, nodeName, signal);
      } catch (err) {
        return Status.error(new Error(`binding volumes: ${err instanceof Error ? err.message.replace(/^binding volumes: /, '') : String(err)}`));
      }
      assumed.forget(plan); // the informers have the bindings now
      return Status.success();
    },
  };
}
