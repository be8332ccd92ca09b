// The API resources the agent reads and writes (client/resources.ts defines them for every component), and the
// agent's own constants.
export { CONFIGMAPS, EVENTS, LEASES, NODES, PODS, SECRETS, SERVICEACCOUNTS } from '../client/resources.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The version the agent reports as kubeletVersion: the API level it speaks. */
export const AGENT_VERSION = 'v1.32.0-ketch';
