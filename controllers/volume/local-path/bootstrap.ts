// The default StorageClass of a `ketch up` cluster, as k3s ships one: local-path, provisioned by the built-in driver on
// the node where the claim's first pod lands (WaitForFirstConsumer), deleted with its claim. A class that exists already
// is left as it is (an administrator may have changed or replaced it).
import {
  ANN_DEFAULT_STORAGE_CLASS, DEFAULT_LOCAL_PATH_ROOT, isAlreadyExists, LOCAL_PATH_CLASS, LOCAL_PATH_PROVISIONER, type StorageClass,
} from '../../../api/index.js';
import { STORAGECLASSES, type RestClient } from '../../../client/index.js';
import { PARAM_NODE_PATH } from './controller-service.js';

export function localPathStorageClass(nodePath: string = DEFAULT_LOCAL_PATH_ROOT): StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: LOCAL_PATH_CLASS, annotations: { [ANN_DEFAULT_STORAGE_CLASS]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    parameters: { [PARAM_NODE_PATH]: nodePath },
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
    // A directory has no size to enforce: growing a claim records the new size (see the driver).
    allowVolumeExpansion: true,
  };
}

/** Creates the default local-path class unless a class of that name exists; returns whether it was created. */
export async function ensureLocalPathStorageClass(rest: RestClient, nodePath?: string): Promise<boolean> {
  try {
    await rest.resource<StorageClass>(STORAGECLASSES).create(undefined, localPathStorageClass(nodePath));
    return true;
  } catch (err) {
    if (isAlreadyExists(err)) return false;
    throw err;
  }
}
