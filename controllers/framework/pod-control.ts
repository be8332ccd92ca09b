// Pod writes with their events (pkg/controller's RealPodControl): SuccessfulCreate/FailedCreate and
// SuccessfulDelete/FailedDelete on the owner, as kubectl describe shows them for every workload controller.
import { ApiError } from '../../api/errors.js';
import type { EventRecorder } from '../../client/events.js';
import { objectReference } from '../../client/object-ref.js';
import type { ObjectLike, ResourceClient } from '../../client/rest.js';
import type { Pod } from './types.js';

/** The API server refuses new objects in a terminating namespace (NamespaceTerminatingCause). */
export function isNamespaceTerminating(err: unknown): boolean {
  return err instanceof ApiError && err.code === 403 && (err.status.details?.causes?.some((c) => c.reason === 'NamespaceTerminating') || /being terminated/.test(err.message));
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class PodControl {
  constructor(
    readonly pods: ResourceClient<Pod>,
    private readonly recorder: EventRecorder,
  ) {}

  /** Creates pod for owner. A refusal because the namespace is terminating gets no event (the owner goes with it). */
  async create(owner: ObjectLike, gvk: { apiVersion: string; kind: string }, pod: Pod): Promise<Pod> {
    try {
      const made = await this.pods.create(pod.metadata.namespace ?? owner.metadata?.namespace, pod);
      void this.recorder.event(objectReference(owner, gvk), 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name ?? ''}`);
      return made;
    } catch (err) {
      if (!isNamespaceTerminating(err)) void this.recorder.event(objectReference(owner, gvk), 'Warning', 'FailedCreate', `Error creating: ${message(err)}`);
      throw err;
    }
  }

  /** Deletes pod (only the one with this uid); NotFound is thrown without an event. */
  async delete(owner: ObjectLike, gvk: { apiVersion: string; kind: string }, pod: Pod): Promise<void> {
    try {
      await this.pods.delete(pod.metadata.namespace, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
      void this.recorder.event(objectReference(owner, gvk), 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name ?? ''}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) void this.recorder.event(objectReference(owner, gvk), 'Warning', 'FailedDelete', `Error deleting: ${message(err)}`);
      throw err;
    }
  }
}
