// The API resources the agent reads and writes.
import type { ResourceRef } from '../client/index.js';

const core = (resource: string, namespaced = true): ResourceRef => ({ group: '', version: 'v1', resource, namespaced });

export const PODS = core('pods');
export const NODES = core('nodes', false);
export const CONFIGMAPS = core('configmaps');
export const SECRETS = core('secrets');
export const SERVICEACCOUNTS = core('serviceaccounts');
export const LEASES: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true };

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The version the agent reports as kubeletVersion: the API level it speaks. */
export const AGENT_VERSION = 'v1.32.0-ketch';
