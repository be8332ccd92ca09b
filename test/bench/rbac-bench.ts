// `npx tsx test/bench/rbac-bench.ts`: authorization decisions per second of the Node,RBAC chain with the bootstrap
// policy and 1,000 RoleBindings in place (BENCH_BINDINGS), for a non-admin service account creating pods (allowed by
// its RoleBinding), the same account denied elsewhere, and a node reading its pod's secret; beside AlwaysAllow in the
// same run. Pure in-memory: it measures the authorizers, not the API server.
import type { KubeObject } from '../../api/schemas/meta.js';
import { NodeAuthorizer } from '../../apiserver/authorization/node/authorizer.js';
import { NodeGraph } from '../../apiserver/authorization/node/graph.js';
import { RbacAuthorizer } from '../../apiserver/authorization/rbac/authorizer.js';
import { BOOTSTRAP_CLUSTER_ROLE_BINDINGS, BOOTSTRAP_CLUSTER_ROLES, BOOTSTRAP_ROLE_BINDINGS, BOOTSTRAP_ROLES } from '../../apiserver/authorization/rbac/bootstrap-policy.js';
import { ALLOW, privilegedGroups, type Attributes, type AuthorizationResult, type Authorizer } from '../../apiserver/authorization/types.js';

const BINDINGS = Number(process.env.BENCH_BINDINGS ?? 1000);
const NAMESPACES = 100;
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 2_000_000);
const ROUNDS = 3;
const G = 'rbac.authorization.k8s.io';

/** kube's union authorizer: the first allow or deny decides (system:masters, Node, RBAC, as kube-apiserver orders them). */
function chain(authorizers: Authorizer[]): Authorizer {
  return {
    authorize(a) {
      for (const z of authorizers) {
        const d = z.authorize(a);
        if (d.decision !== 'noOpinion') return d;
      }
      return { decision: 'noOpinion', reason: '' };
    },
  };
}

function setup(): { nodeRbac: Authorizer; graph: NodeGraph } {
  const rbac = new RbacAuthorizer();
  const load = (kind: 'ClusterRole' | 'ClusterRoleBinding' | 'Role' | 'RoleBinding', objs: readonly unknown[]): void => rbac.replace(kind, objs as KubeObject[]);
  load('ClusterRole', BOOTSTRAP_CLUSTER_ROLES);
  load('ClusterRoleBinding', BOOTSTRAP_CLUSTER_ROLE_BINDINGS);
  load('Role', BOOTSTRAP_ROLES);
  const bindings: KubeObject[] = [...(BOOTSTRAP_ROLE_BINDINGS as unknown as KubeObject[])];
  // Every namespace's deployer service account may edit; the rest of the bindings give other users view.
  for (let i = 0; i < BINDINGS; i++) {
    const ns = `team-${i % NAMESPACES}`;
    const deployer = i < NAMESPACES;
    bindings.push({
      apiVersion: `${G}/v1`,
      kind: 'RoleBinding',
      metadata: { namespace: ns, name: deployer ? 'deployer-edit' : `viewer-${i}` },
      roleRef: { apiGroup: G, kind: 'ClusterRole', name: deployer ? 'edit' : 'view' },
      subjects: deployer ? [{ kind: 'ServiceAccount', name: 'deployer', namespace: ns }] : [{ kind: 'User', apiGroup: G, name: `user-${i}` }, { kind: 'Group', apiGroup: G, name: `group-${i}` }],
    });
  }
  load('RoleBinding', bindings);
  // edit and view are aggregated: give them the rules the aggregation controller would.
  const rulesOf = (name: string) => (BOOTSTRAP_CLUSTER_ROLES.find((r) => r.metadata.name === name)?.rules ?? []);
  const edit = [...rulesOf('system:aggregate-to-edit'), ...rulesOf('system:aggregate-to-view')];
  rbac.onEvent('ClusterRole', 'MODIFIED', { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'edit' }, rules: edit });
  rbac.onEvent('ClusterRole', 'MODIFIED', { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'view' }, rules: rulesOf('system:aggregate-to-view') });

  const graph = new NodeGraph();
  for (let i = 0; i < 1000; i++) {
    graph.onPod('ADDED', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: `team-${i % NAMESPACES}`, name: `p${i}`, uid: `u${i}` },
      spec: { nodeName: `node-${i % 20}`, serviceAccountName: 'default', containers: [{ name: 'c', image: 'i' }], volumes: [{ name: 'v', secret: { secretName: `s${i}` } }] },
    });
  }
  return { nodeRbac: chain([privilegedGroups('system:masters'), new NodeAuthorizer(graph), rbac]), graph };
}

function rate(authorizer: Authorizer, attrs: Attributes[], want: AuthorizationResult['decision']): number {
  let check = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < DECISIONS; i++) if (authorizer.authorize(attrs[i % attrs.length]!).decision === want) check++;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (check !== DECISIONS) throw new Error(`expected ${DECISIONS} decisions of ${want}, got ${check}`);
  return DECISIONS / secs;
}

const sa = (ns: string): Attributes['user'] => ({ name: `system:serviceaccount:${ns}:deployer`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] });
const createPod = (ns: string, user = sa(ns)): Attributes => ({ user, verb: 'create', namespace: ns, apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', name: '', path: '', resourceRequest: true });

function main(): void {
  const { nodeRbac } = setup();
  const alwaysAllow: Authorizer = { authorize: () => ALLOW };
  const allowed = Array.from({ length: NAMESPACES }, (_, i) => createPod(`team-${i}`));
  const denied = Array.from({ length: NAMESPACES }, (_, i) => createPod(`team-${(i + 1) % NAMESPACES}`, sa(`team-${i}`)));
  const nodeReads: Attributes[] = Array.from({ length: 1000 }, (_, i) => ({
    user: { name: `system:node:node-${i % 20}`, groups: ['system:nodes', 'system:authenticated'] },
    verb: 'get', namespace: `team-${i % NAMESPACES}`, apiGroup: '', apiVersion: 'v1', resource: 'secrets', subresource: '', name: `s${i}`, path: '', resourceRequest: true,
  }));
  const cases: [string, () => number][] = [
    ['AlwaysAllow, service account creates a pod', () => rate(alwaysAllow, allowed, 'allow')],
    [`Node,RBAC (${BINDINGS} RoleBindings), service account creates a pod`, () => rate(nodeRbac, allowed, 'allow')],
    [`Node,RBAC (${BINDINGS} RoleBindings), service account denied in another namespace`, () => rate(nodeRbac, denied, 'noOpinion')],
    ['Node,RBAC, node reads its pod\'s secret', () => rate(nodeRbac, nodeReads, 'allow')],
  ];
  const results = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) for (const [name, run] of cases) results.set(name, Math.max(results.get(name) ?? 0, run()));
  for (const [name, perSec] of results) console.log(`${name}: ${(perSec / 1e6).toFixed(2)}M decisions/s (best of ${ROUNDS})`);
  const rbacAllow = results.get(cases[1]![0])!;
  console.log(`Node,RBAC allow costs ${(1e9 / rbacAllow).toFixed(0)} ns per decision`);
}

main();
