// ClusterRole aggregation against a real API server: the aggregated role follows labelled roles as they are created,
// changed, unlabelled and deleted.
import assert from 'node:assert/strict';
import { EVENTS, EventRecorder, InformerFactory, type KubeEvent, type ResourceClient } from '../../client/index.js';
import { realClock } from '../../lib/clock.js';
import type { ClusterRole, PolicyRule } from '../../api/schemas/rbac.js';
import { deepEqual } from '../../api/field.js';
import type { ControllerContext } from '../../controllers/framework/controller.js';
import { CLUSTERROLES, ClusterRoleAggregationController } from '../../controllers/clusterroleaggregation/clusterroleaggregation-controller.js';
import { waitFor } from '../support/util.js';
import { startTestCluster, type TestCluster } from './harness.js';

describe('clusterrole-aggregation controller', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let roles: ResourceClient<ClusterRole>;
  const abort = new AbortController();
  let running: Promise<void>;
  let informers: InformerFactory;

  before(async () => {
    cluster = await startTestCluster();
    roles = cluster.rest.resource<ClusterRole>(CLUSTERROLES);
    informers = new InformerFactory(cluster.rest, { clock: realClock });
    const ctx: ControllerContext = { rest: cluster.rest, informers, clock: realClock, recorder: (c) => new EventRecorder(cluster.rest.resource<KubeEvent>(EVENTS), { component: c }, realClock) };
    const controller = new ClusterRoleAggregationController(ctx);
    informers.start();
    running = controller.run(abort.signal);
  });
  after(async () => {
    abort.abort();
    await running;
    await informers.stop();
    await cluster?.close();
  });

  const rule = (verb: string, resource: string): PolicyRule => ({ verbs: [verb], apiGroups: [''], resources: [resource] });
  const role = (name: string, labels: Record<string, string>, rules: PolicyRule[]): ClusterRole => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels }, rules });
  const rulesOf = async (name: string): Promise<PolicyRule[]> => (await roles.get(undefined, name)).rules ?? [];
  const eventually = (name: string, want: PolicyRule[]): Promise<true> =>
    waitFor(async () => deepEqual(await rulesOf(name), want) || undefined, { what: `the rules of ${name} to be ${JSON.stringify(want)}` });

  it('keeps an aggregated role equal to the union of the roles it selects', async () => {
    await roles.create(undefined, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'team-view' },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate-to-team-view': 'true' } }] },
    });
    const label = { 'example.com/aggregate-to-team-view': 'true' };
    await roles.create(undefined, role('b-pods', label, [rule('get', 'pods')]));
    await roles.create(undefined, role('a-secrets', label, [rule('get', 'secrets'), rule('get', 'pods')]));
    await roles.create(undefined, role('unrelated', {}, [rule('delete', 'nodes')]));
    await eventually('team-view', [rule('get', 'secrets'), rule('get', 'pods')]);

    await roles.patch(undefined, 'b-pods', { rules: [rule('get', 'pods'), rule('list', 'pods')] }, 'merge');
    await eventually('team-view', [rule('get', 'secrets'), rule('get', 'pods'), rule('list', 'pods')]);

    await roles.patch(undefined, 'a-secrets', { metadata: { labels: { 'example.com/aggregate-to-team-view': null } } }, 'merge');
    await eventually('team-view', [rule('get', 'pods'), rule('list', 'pods')]);

    await roles.delete(undefined, 'b-pods');
    await eventually('team-view', []);
    assert.deepEqual(await rulesOf('unrelated'), [rule('delete', 'nodes')]);
  });
});
