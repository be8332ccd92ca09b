// Controllers' kinds (Deployment, ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job, CronJob): status subresource,
// generation on spec change, /scale.
// (A Job's generated selector comes from api's defaulting, which runs once the uid is assigned.)
import type { ResourceInfo } from '../../../api/resources.js';
import { defaultStrategy, type Strategy } from '../strategy.js';
import { scaleStorage } from '../subresources/scale.js';

const SELECTABLE: Record<string, string[]> = { ReplicaSet: ['status.replicas'], ReplicationController: ['status.replicas'], Job: ['status.successful'] };

/** A new object's status: the zero values of the required status fields (what Go's zero struct serializes to). */
const INITIAL_STATUS: Record<string, Record<string, number>> = {
  ReplicaSet: { replicas: 0 },
  ReplicationController: { replicas: 0 },
  StatefulSet: { replicas: 0, availableReplicas: 0 },
  DaemonSet: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 },
};

export function workloadStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: true,
    selectableFields: SELECTABLE[info.kind] ?? [],
    prepareForCreate(obj) {
      obj.status = { ...(INITIAL_STATUS[info.kind] ?? {}) };
    },
    // Deployments, ReplicaSets and StatefulSets have spec.replicas, and so /scale (api/resources lists it).
    ...(info.subresources.includes('scale') ? { subresources: { scale: scaleStorage } } : {}),
  });
}
