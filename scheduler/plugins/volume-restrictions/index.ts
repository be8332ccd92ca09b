// VolumeRestrictions (pkg/scheduler/framework/plugins/volumerestrictions), the ReadWriteOncePod part: a claim with that
// access mode serves one pod in the whole cluster, so while another scheduled pod uses it no node fits (Unschedulable,
// not unresolvable: preempting that pod would help). The disk conflicts of the cloud volume types do not apply here.
import { podClaimNames } from '../../../api/index.js';
import type { PodInfo } from '../../framework/node-info.js';
import { podCountingExtensions, Status, stateKey, type FilterPlugin, type Handle, type PodCounting, type PreFilterPlugin } from '../../framework/types.js';

export const NAME = 'VolumeRestrictions';
export const ERR_REASON_RWOP_CONFLICT = 'node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode';

/** The pod's ReadWriteOncePod claims (namespace/name) and how many other scheduled pods use one of them. */
class RwopState implements PodCounting {
  constructor(
    readonly claims: ReadonlySet<string>,
    public conflicts: number,
  ) {}
  count(_pod: PodInfo, other: PodInfo, _node: unknown, delta: 1 | -1): void {
    if (usesAny(other, this.claims)) this.conflicts += delta;
  }
  clone(): RwopState {
    return new RwopState(this.claims, this.conflicts);
  }
}
const KEY = stateKey<RwopState>(`PreFilter${NAME}`);

function usesAny(p: PodInfo, claims: ReadonlySet<string>): boolean {
  return podClaimNames(p.pod).some((c) => claims.has(`${p.namespace}/${c}`));
}

export function volumeRestrictions(_args: Record<string, unknown>, handle: Handle): PreFilterPlugin & FilterPlugin {
  return {
    name: NAME,
    events: ['AssignedPodDelete', 'PvcAdd', 'PvcUpdate'],
    preFilter(state, pod) {
      const rwop = new Set<string>();
      for (const name of podClaimNames(pod.pod)) {
        const pvc = handle.volumes.claim(pod.namespace, name);
        if (!pvc) {
          // An ephemeral claim the controller has not made yet is VolumeBinding's to report.
          if ((pod.pod.spec.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === name)) return Status.unresolvable(`persistentvolumeclaim "${name}" not found`);
          continue;
        }
        if (pvc.spec?.accessModes?.includes('ReadWriteOncePod')) rwop.add(`${pod.namespace}/${name}`);
      }
      if (!rwop.size) return Status.skip();
      let conflicts = 0;
      for (const ni of handle.snapshot.list()) {
        for (const other of ni.pods.values()) if (other.key !== pod.key && usesAny(other, rwop)) conflicts++;
      }
      state.write(KEY, new RwopState(rwop, conflicts));
      return Status.success();
    },
    ...podCountingExtensions(KEY),
    filter(state) {
      return (state.read(KEY)?.conflicts ?? 0) > 0 ? Status.unschedulable(ERR_REASON_RWOP_CONFLICT) : Status.success();
    },
  };
}
