import assert from 'node:assert/strict';
import type { ClusterRole, PolicyRule } from '../../api/schemas/rbac.js';
import { aggregatedRules } from './clusterroleaggregation-controller.js';

const rule = (verb: string, resource: string): PolicyRule => ({ verbs: [verb], apiGroups: [''], resources: [resource] });
const role = (name: string, labels: Record<string, string>, rules: PolicyRule[], aggregate?: Record<string, string>[]): ClusterRole => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name, labels },
  rules,
  ...(aggregate ? { aggregationRule: { clusterRoleSelectors: aggregate.map((matchLabels) => ({ matchLabels })) } } : {}),
});

describe('clusterrole aggregation rules', () => {
  it('gathers the rules of the selected roles by name order, each once, never its own', () => {
    const target = role('agg', { 'agg-to-self': 'true' }, [rule('get', 'stale')], [{ 'agg-to': 'yes' }, { 'agg-to-self': 'true' }]);
    const all = [
      target,
      role('b', { 'agg-to': 'yes' }, [rule('get', 'pods'), rule('list', 'pods')]),
      role('a', { 'agg-to': 'yes' }, [rule('list', 'pods'), rule('get', 'secrets')]),
      role('c', { other: 'x' }, [rule('delete', 'nodes')]),
    ];
    assert.deepEqual(aggregatedRules(target, all), [rule('list', 'pods'), rule('get', 'secrets'), rule('get', 'pods')]);
  });

  it('leaves roles without an aggregationRule alone, and aggregates nothing from no matches', () => {
    assert.equal(aggregatedRules(role('plain', {}, [rule('get', 'pods')]), []), undefined);
    assert.deepEqual(aggregatedRules(role('agg', {}, [rule('get', 'pods')], [{ none: 'match' }]), []), []);
  });
});
