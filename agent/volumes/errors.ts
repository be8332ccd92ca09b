// The error a pod volume that cannot be set up raises: the pod waits in ContainerCreating with a FailedMount event.

/** Thrown when a volume cannot be set up (the pod waits in ContainerCreating, as with kubelet's FailedMount). */
export class MountError extends Error {
  override name = 'MountError';
}
