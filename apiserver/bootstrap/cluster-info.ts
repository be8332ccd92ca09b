// kube-public/cluster-info (what kubeadm's bootstrap-token phase publishes): a kubeconfig with the cluster's address and
// CA and no credentials, readable without credentials. Joining nodes check it with their token's signature (added by
// the bootstrap signer controller) and pin the CA by hash.
import { ApiError } from '../../api/errors.js';
import { CLUSTER_INFO } from '../../api/bootstrap-token.js';
import type { Logger } from '../../lib/logger.js';
import type { Obj } from '../registry/object.js';
import type { Store } from '../registry/store.js';

/** The path joining nodes GET without credentials. */
export const CLUSTER_INFO_PATH = `/api/v1/namespaces/${CLUSTER_INFO.namespace}/configmaps/${CLUSTER_INFO.name}`;

/** cluster-info's kubeconfig: one cluster, no user (kubeadm's layout). */
export function clusterInfoKubeconfig(server: string, caPem: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    `    server: ${server}`,
    "  name: ''",
    'contexts: null',
    'current-context: ""',
    'preferences: {}',
    'users: null',
    '',
  ].join('\n');
}

/** Creates cluster-info, or brings its kubeconfig up to date (a new address or CA); the signatures are the signer's. */
export async function ensureClusterInfo(configMaps: Store, server: string, caPem: string, log: Logger): Promise<void> {
  const kubeconfig = clusterInfoKubeconfig(server, caPem);
  const { namespace, name, kubeconfigKey } = CLUSTER_INFO;
  try {
    await configMaps.create(namespace, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { [kubeconfigKey]: kubeconfig } }, { fieldManager: 'ketch-apiserver' });
    log.info('cluster-info published', { server });
    return;
  } catch (err) {
    if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
  }
  await configMaps.update(namespace, name, (cur) => {
    const obj = cur as Obj & { data?: Record<string, string> };
    if (obj.data?.[kubeconfigKey] === kubeconfig) return obj;
    log.info('cluster-info updated', { server });
    return { ...obj, data: { ...(obj.data ?? {}), [kubeconfigKey]: kubeconfig } };
  }, { fieldManager: 'ketch-apiserver' });
}
