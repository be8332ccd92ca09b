// Controllers' kinds (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job): status subresource, generation on spec change.
// (A Job's generated selector comes from api's defaulting, which runs once the uid is assigned.)
import type { ResourceInfo } from '../../../api/resources.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

const SELECTABLE: Record<string, string[]> = { ReplicaSet: ['status.replicas'], Job: ['status.successful'] };

export function workloadStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: true,
    selectableFields: SELECTABLE[info.kind] ?? [],
  });
}
