// Test support for scheduler suites: an in-memory API server with an admin client, and Node/Pod builders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node, Pod } from '../../api/index.js';
import { startApiServer } from '../../apiserver/index.js';
import { EmbeddedStorage } from '../../apiserver/storage/index.js';
import { RestClient, loadClientConfig, type ResourceClient } from '../../client/index.js';
import { node, pod } from '../support/scheduler-fixtures.js';
import { NODES, PODS } from '../../client/resources.js';

export interface TestCluster {
  rest: RestClient;
  nodes: ResourceClient<Node>;
  pods: ResourceClient<Pod>;
  close(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ketch-sched-'));
  const api = await startApiServer({ dataDir, securePort: 0, bindAddress: '127.0.0.1', storage: new EmbeddedStorage({ path: ':memory:' }) });
  const rest = new RestClient(loadClientConfig({ kubeconfig: api.adminKubeconfigPath }));
  return {
    rest,
    nodes: rest.resource<Node>(NODES),
    pods: rest.resource<Pod>(PODS),
    async close() {
      await api.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: number;
  labels?: Record<string, string>;
  taints?: NonNullable<Node['spec']>['taints'];
  unschedulable?: boolean;
}

/** A Node as the unit-test builder makes it, with spec fields the integration tests set. */
export function makeNode(name: string, o: NodeOpts = {}): Node {
  const spec = { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) };
  return node(name, { ...o, spec });
}

export { pod as makePod };

/** For API writes: the server assigns uids. */
export function withoutUid(pod: Pod): Pod {
  const { uid: _uid, ...metadata } = pod.metadata ?? {};
  return { ...pod, metadata };
}
