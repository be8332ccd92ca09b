import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import { resolveRequest, splitTarget } from '../http/request-info.js';
import { alwaysAllow, attributesOf, forbidden, nonResourceAttributes } from './authorization.js';

const bob = { name: 'bob', groups: ['system:authenticated'] };

/** A request as the chain has it once request info and authentication ran. */
function request(method: string, url: string): IncomingMessage {
  const { pathname, query } = splitTarget(url);
  return { method, url, user: bob, requestInfo: resolveRequest(method, pathname, query) } as unknown as IncomingMessage;
}

describe('authorization attributes and Forbidden', () => {
  it('gives resource requests their resource attributes, a namespace object its own name as namespace', () => {
    const a = attributesOf(request('PATCH', '/apis/apps/v1/namespaces/web/deployments/d/scale'));
    assert.deepEqual(
      { ...a, user: a.user.name },
      { user: 'bob', verb: 'patch', namespace: 'web', apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', subresource: 'scale', name: 'd', path: '/apis/apps/v1/namespaces/web/deployments/d/scale', resourceRequest: true },
    );
    const ns = attributesOf(request('DELETE', '/api/v1/namespaces/web'));
    assert.equal(ns.namespace, 'web');
    assert.equal(ns.resource, 'namespaces');
    const other = attributesOf({ method: 'GET', url: '/openapi/v3?x=1', user: bob } as unknown as IncomingMessage);
    assert.deepEqual({ ...other, user: other.user.name }, { ...nonResourceAttributes(bob, 'get', '/openapi/v3'), user: 'bob' });
  });

  it('names the object a metadata.name field selector pins on list and watch, and passes the selector on', () => {
    const own = attributesOf(request('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dnode-a&watch=true'));
    assert.equal(own.verb, 'watch');
    assert.equal(own.name, 'node-a');
    assert.equal(own.fieldSelector, 'metadata.name=node-a');
    assert.equal(attributesOf(request('GET', '/api/v1/nodes?fieldSelector=metadata.name%3D%3Dn,spec.unschedulable%3Dfalse')).name, 'n');
    assert.equal(attributesOf(request('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a')).name, '');
    assert.equal(attributesOf(request('GET', '/api/v1/nodes?fieldSelector=metadata.name!%3Dn')).name, '');
    // A name that could not be a path segment pins nothing; a deletecollection is not narrowed to one name.
    assert.equal(attributesOf(request('GET', '/api/v1/nodes?fieldSelector=metadata.name%3D..')).name, '');
    assert.equal(attributesOf(request('DELETE', '/api/v1/namespaces/a/pods?fieldSelector=metadata.name%3Dp')).name, '');
  });

  it('words Forbidden as kube-apiserver does, with and without a reason', () => {
    const e = forbidden(attributesOf(request('GET', '/api/v1/namespaces/a/pods/p/log')), '');
    assert.equal(e.code, 403);
    assert.equal(e.message, 'pods "p" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "a"');
    assert.equal(forbidden(attributesOf(request('GET', '/apis/scheduling.k8s.io/v1/priorityclasses')), 'no rule').message, 'priorityclasses.scheduling.k8s.io is forbidden: User "bob" cannot list resource "priorityclasses" in API group "scheduling.k8s.io" at the cluster scope: no rule');
    assert.equal(forbidden(nonResourceAttributes(bob, 'post', '/logs'), '').message, 'forbidden: User "bob" cannot post path "/logs"');
  });

  it('AlwaysAllow allows everything and resolves every rule', async () => {
    assert.equal((await alwaysAllow.authorize(nonResourceAttributes(bob, 'delete', '/x'))).decision, 'allow');
    assert.deepEqual((await alwaysAllow.rulesFor(bob, 'a')).resourceRules, [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]);
  });
});
