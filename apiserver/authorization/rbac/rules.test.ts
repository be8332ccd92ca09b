import assert from 'node:assert/strict';
import type { PolicyRule } from '../../../api/schemas/rbac.js';
import type { Attributes } from '../types.js';
import { breakdownRule, compactRules, compactString, covers, ruleAllows } from './rules.js';

const user = { name: 'u', groups: [] };
const res = (verb: string, apiGroup: string, resource: string, subresource = '', name = ''): Attributes => ({
  user, verb, apiGroup, resource, subresource, name, namespace: 'ns', apiVersion: 'v1', path: '', resourceRequest: true,
});
const url = (verb: string, path: string): Attributes => ({ user, verb, path, apiGroup: '', resource: '', subresource: '', name: '', namespace: '', apiVersion: '', resourceRequest: false });

describe('rbac rule matching (kube TestRuleMatches)', () => {
  const table: { name: string; rule: PolicyRule; cases: [Attributes, boolean][] }[] = [
    {
      name: 'star verb, exact match other',
      rule: { verbs: ['*'], apiGroups: ['group1'], resources: ['resource1'] },
      cases: [
        [res('verb1', 'group1', 'resource1'), true],
        [res('verb1', 'group2', 'resource1'), false],
        [res('verb1', 'group1', 'resource2'), false],
        [res('verb2', 'group1', 'resource1'), true],
        [res('verb2', 'group2', 'resource2'), false],
      ],
    },
    {
      name: 'star group, exact match other',
      rule: { verbs: ['verb1'], apiGroups: ['*'], resources: ['resource1'] },
      cases: [
        [res('verb1', 'group1', 'resource1'), true],
        [res('verb1', 'group2', 'resource1'), true],
        [res('verb1', 'group1', 'resource2'), false],
        [res('verb2', 'group1', 'resource1'), false],
      ],
    },
    {
      name: 'star resource, exact match other',
      rule: { verbs: ['verb1'], apiGroups: ['group1'], resources: ['*'] },
      cases: [
        [res('verb1', 'group1', 'resource1'), true],
        [res('verb1', 'group1', 'resource2'), true],
        [res('verb1', 'group1', 'resource2', 'status'), true],
        [res('verb1', 'group2', 'resource1'), false],
        [res('verb2', 'group1', 'resource1'), false],
      ],
    },
    {
      name: 'tuple expansion',
      rule: { verbs: ['verb1', 'verb2'], apiGroups: ['group1', 'group2'], resources: ['resource1', 'resource2'] },
      cases: [
        [res('verb1', 'group1', 'resource1'), true],
        [res('verb1', 'group2', 'resource2'), true],
        [res('verb2', 'group1', 'resource2'), true],
        [res('verb2', 'group2', 'resource1'), true],
        [res('verb3', 'group2', 'resource1'), false],
      ],
    },
    {
      name: 'subresource expansion',
      rule: { verbs: ['*'], apiGroups: ['*'], resources: ['resource1/subresource1'] },
      cases: [
        [res('verb1', 'group1', 'resource1', 'subresource1'), true],
        [res('verb1', 'group2', 'resource1', 'subresource2'), false],
        [res('verb1', 'group1', 'resource2', 'subresource1'), false],
        [res('verb1', 'group1', 'resource1'), false],
        // "resource1/subresource1" is not "resource/1/subresource1" split elsewhere
        [res('verb1', 'group1', 'resource', '1/subresource1'), false],
      ],
    },
    {
      name: 'any resource with a subresource (*/sub)',
      rule: { verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] },
      cases: [
        [res('get', 'apps', 'deployments', 'scale'), true],
        [res('get', '', 'replicationcontrollers', 'scale'), true],
        [res('get', 'apps', 'deployments'), false],
        [res('get', 'apps', 'deployments', 'status'), false],
        [res('get', 'apps', 'deployments', 'xscale'), false],
      ],
    },
    {
      name: 'a resource does not grant its subresources',
      rule: { verbs: ['*'], apiGroups: ['*'], resources: ['pods'] },
      cases: [
        [res('get', '', 'pods'), true],
        [res('get', '', 'pods', 'status'), false],
      ],
    },
    {
      name: 'resource names',
      rule: { verbs: ['get', 'update'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a', 'b'] },
      cases: [
        [res('get', '', 'configmaps', '', 'a'), true],
        [res('update', '', 'configmaps', '', 'b'), true],
        [res('get', '', 'configmaps', '', 'c'), false],
        [res('get', '', 'configmaps'), false],
        [res('list', '', 'configmaps'), false],
      ],
    },
    {
      name: 'core group is the empty string, not a wildcard',
      rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] },
      cases: [
        [res('get', '', 'pods'), true],
        [res('get', 'apps', 'pods'), false],
      ],
    },
    {
      name: 'star nonresource, exact match other',
      rule: { verbs: ['verb1'], nonResourceURLs: ['*'] },
      cases: [
        [url('verb1', '/foo'), true],
        [url('verb1', '/foo/bar/one'), true],
        [url('verb2', '/foo'), false],
      ],
    },
    {
      name: 'star nonresource subpath',
      rule: { verbs: ['verb1'], nonResourceURLs: ['/foo/*'] },
      cases: [
        [url('verb1', '/foo'), false],
        [url('verb1', '/foo/bar'), true],
        [url('verb1', '/foo/baz/one'), true],
        [url('verb1', '/notfoo'), false],
        [url('verb1', '/notfoo/bar'), false],
      ],
    },
    {
      name: 'star verb, exact nonresource',
      rule: { verbs: ['*'], nonResourceURLs: ['/foo', '/foo/bar/one'] },
      cases: [
        [url('verb1', '/foo'), true],
        [url('verb1', '/foo/bar'), false],
        [url('verb2', '/foo/bar/one'), true],
        [url('verb2', '/foo/baz/one'), false],
      ],
    },
    {
      name: 'resource rules never match paths, URL rules never match resources',
      rule: { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      cases: [
        [url('get', '/healthz'), false],
        [res('get', '', 'pods'), true],
      ],
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      for (const [a, want] of t.cases) assert.equal(ruleAllows(a, t.rule), want, `${a.verb} ${a.apiGroup}/${a.resource}/${a.subresource} ${a.name} ${a.path}`);
    });
  }
  it('a non-resource rule matches with several trailing stars cut', () => {
    assert.equal(ruleAllows(url('get', '/apis/x'), { verbs: ['get'], nonResourceURLs: ['/apis**'] }), true);
  });
});

describe('rbac rule coverage (Covers)', () => {
  const covered = (owner: PolicyRule[], servant: PolicyRule[]): boolean => covers(owner, servant).covered;

  it('breaks rules down to one group, resource, verb and name', () => {
    assert.equal(breakdownRule({ verbs: ['get', 'list'], apiGroups: ['', 'apps'], resources: ['pods'], resourceNames: ['a', 'b'] }).length, 8);
    assert.deepEqual(breakdownRule({ verbs: ['get'], nonResourceURLs: ['/a', '/b'] }), [
      { nonResourceURLs: ['/a'], verbs: ['get'] },
      { nonResourceURLs: ['/b'], verbs: ['get'] },
    ]);
  });

  it('wildcards cover everything of their kind', () => {
    assert.ok(covered([{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], [{ verbs: ['get', 'delete'], apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'] }]));
    assert.ok(covered([{ verbs: ['*'], nonResourceURLs: ['*'] }], [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }]));
  });

  it('*/subresource covers that subresource of any resource, not the resource', () => {
    const owner = [{ verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] }];
    assert.ok(covered(owner, [{ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments/scale'] }]));
    assert.ok(!covered(owner, [{ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }]));
  });

  it('names: an unnamed rule covers named ones, not the reverse', () => {
    const any = [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'] }];
    const one = [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['s1'] }];
    assert.ok(covered(any, one));
    assert.ok(!covered(one, any));
    assert.ok(!covered(one, [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['s2'] }]));
  });

  it('URL prefixes cover longer paths only', () => {
    assert.ok(covered([{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }], [{ verbs: ['get'], nonResourceURLs: ['/apis/v1'] }]));
    assert.ok(!covered([{ verbs: ['get'], nonResourceURLs: ['/apis/v1'] }], [{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }]));
  });

  it('reports the missing parts, compacted by group and resource', () => {
    const { covered: ok, missing } = covers([{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }], [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'secrets'] }]);
    assert.equal(ok, false);
    assert.deepEqual(compactRules(missing).map(compactString).sort(), ['{APIGroups:[""], Resources:["pods"], Verbs:["list" "watch"]}', '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "watch"]}']);
  });

  it('writes rules compactly as kube does', () => {
    assert.equal(compactString({ verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['x'] }), '{APIGroups:[""], Resources:["configmaps"], ResourceNames:["x"], Verbs:["get"]}');
    assert.equal(compactString({ verbs: ['get'], nonResourceURLs: ['/metrics'] }), '{NonResourceURLs:["/metrics"], Verbs:["get"]}');
  });
});
