// How each list field merges: by key (containers by name), as a set (finalizers) or atomically (args, tolerations).
// Strategic merge patch and server-side apply both read this.

export type ListType = { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' };

/** path: the field names from the object root to the list, without indices (['spec', 'template', 'spec', 'containers']). */
export type ListTypeResolver = (path: readonly string[]) => ListType;

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

const BY_NAME: Record<string, string> = {
  env: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
  addresses: 'type',
  ingress: 'ip',
};

/** The merge keys of the Kubernetes types ketch serves, as their Go struct tags declare them. */
export const defaultListTypes: ListTypeResolver = (path) => {
  const field = path[path.length - 1] ?? '';
  const parent = path[path.length - 2] ?? '';
  if (CONTAINER_LISTS.has(field)) return { type: 'map', keys: ['name'] };
  if (field === 'ports') return CONTAINER_LISTS.has(parent) ? { type: 'map', keys: ['containerPort'] } : { type: 'map', keys: ['port'] };
  if (field === 'finalizers' && parent === 'metadata') return { type: 'set' };
  if (field === 'addresses' && parent !== 'status') return { type: 'atomic' };
  if (field === 'ingress' && parent !== 'loadBalancer') return { type: 'atomic' };
  const key = BY_NAME[field];
  return key ? { type: 'map', keys: [key] } : { type: 'atomic' };
};
