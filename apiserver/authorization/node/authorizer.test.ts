import assert from 'node:assert/strict';
import type { KubeObject } from '../../../api/schemas/meta.js';
import type { Attributes, UserInfo } from '../types.js';
import { NodeGraph } from './graph.js';
import { NodeAuthorizer, nodeIdentity } from './authorizer.js';

const nodeUser = (n: string): UserInfo => ({ name: `system:node:${n}`, groups: ['system:nodes', 'system:authenticated'] });
const A = nodeUser('node-a');
const B = nodeUser('node-b');

function pod(namespace: string, name: string, node: string, spec: Record<string, unknown> = {}, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, uid: `uid-${name}`, ...extra }, spec: { nodeName: node, containers: [{ name: 'c', image: 'i' }], serviceAccountName: 'default', ...spec } };
}

const req = (user: UserInfo, verb: string, resource: string, namespace: string, name: string, o: Partial<Attributes> = {}): Attributes => ({
  user, verb, resource, namespace, name, apiGroup: '', apiVersion: 'v1', subresource: '', path: '', resourceRequest: true, ...o,
});

/** A pod on node-a using secret s-a (volume), configmap cm-a (env) and claim data-a; one on node-b using s-b. */
function cluster() {
  const graph = new NodeGraph();
  graph.onPod('ADDED', pod('ns', 'pa', 'node-a', {
    volumes: [{ name: 'v', secret: { secretName: 's-a' } }, { name: 'd', persistentVolumeClaim: { claimName: 'data-a' } }, { name: 'p', projected: { sources: [{ configMap: { name: 'cm-proj' } }] } }],
    containers: [{ name: 'c', image: 'i', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm-a', key: 'k' } } }], envFrom: [{ secretRef: { name: 's-envfrom' } }] }],
    imagePullSecrets: [{ name: 'pull' }],
  }));
  graph.onPod('ADDED', pod('ns', 'pb', 'node-b', { volumes: [{ name: 'v', secret: { secretName: 's-b' } }], serviceAccountName: 'builder' }));
  return { graph, authz: new NodeAuthorizer(graph) };
}
const allowed = (authz: NodeAuthorizer, a: Attributes): boolean => authz.authorize(a).decision === 'allow';

describe('node authorizer', () => {
  it('identifies nodes by user name and group', () => {
    assert.equal(nodeIdentity(A), 'node-a');
    assert.equal(nodeIdentity({ name: 'system:node:x', groups: [] }), undefined);
    assert.equal(nodeIdentity({ name: 'alice', groups: ['system:nodes'] }), undefined);
    assert.equal(nodeIdentity({ name: 'system:node:', groups: ['system:nodes'] }), '');
  });

  it('lets a node read only the secrets, configmaps and claims of its own pods', () => {
    const { authz } = cluster();
    for (const [resource, name] of [['secrets', 's-a'], ['secrets', 's-envfrom'], ['secrets', 'pull'], ['configmaps', 'cm-a'], ['configmaps', 'cm-proj']]) {
      assert.equal(allowed(authz, req(A, 'get', resource!, 'ns', name!)), true, `${resource}/${name}`);
    }
    assert.equal(allowed(authz, req(A, 'get', 'persistentvolumeclaims', 'ns', 'data-a')), true);
    // node A cannot read a secret used only by a pod on node B
    const denied = authz.authorize(req(A, 'get', 'secrets', 'ns', 's-b'));
    assert.deepEqual(denied, { decision: 'noOpinion', reason: "no relationship found between node 'node-a' and this object" });
    assert.equal(allowed(authz, req(B, 'get', 'secrets', 'ns', 's-b')), true);
    assert.equal(allowed(authz, req(B, 'get', 'secrets', 'ns', 's-a')), false);
    // same name, other namespace
    assert.equal(allowed(authz, req(A, 'get', 'secrets', 'other', 's-a')), false);
  });

  it('refuses writes, subresources, lists and cluster-wide reads of secrets', () => {
    const { authz } = cluster();
    assert.equal(authz.authorize(req(A, 'update', 'secrets', 'ns', 's-a')).reason, 'can only read resources of this type');
    assert.equal(authz.authorize(req(A, 'list', 'secrets', 'ns', '')).reason, 'No Object name found');
    assert.equal(authz.authorize(req(A, 'list', 'secrets', '', '')).reason, 'can only read namespaced object of this type');
    assert.equal(allowed(authz, req(A, 'watch', 'secrets', 'ns', 's-a')), true); // a watch pinned to one name
  });

  it('follows pods as they come, move and go', () => {
    const { graph, authz } = cluster();
    graph.onPod('DELETED', pod('ns', 'pa', 'node-a'));
    assert.equal(allowed(authz, req(A, 'get', 'secrets', 'ns', 's-a')), false);
    assert.equal(authz.authorize(req(A, 'get', 'secrets', 'ns', 's-a')).reason, "no relationship found between node 'node-a' and this object");
    // A pod recreated with the same name on node B (new uid): the secret follows it.
    graph.onPod('ADDED', pod('ns', 'pa', 'node-b', { volumes: [{ name: 'v', secret: { secretName: 's-a' } }] }, { uid: 'uid-2' }));
    assert.equal(allowed(authz, req(B, 'get', 'secrets', 'ns', 's-a')), true);
    // A secret used by two pods stays readable while one remains.
    graph.onPod('ADDED', pod('ns', 'pa2', 'node-b', { volumes: [{ name: 'v', secret: { secretName: 's-a' } }] }));
    graph.onPod('DELETED', pod('ns', 'pa', 'node-b'));
    assert.equal(allowed(authz, req(B, 'get', 'secrets', 'ns', 's-a')), true);
    // Unscheduled pods give nothing.
    graph.onPod('ADDED', pod('ns', 'pending', '', { volumes: [{ name: 'v', secret: { secretName: 'later' } }] }));
    assert.equal(allowed(authz, req(A, 'get', 'secrets', 'ns', 'later')), false);
    graph.onPod('MODIFIED', pod('ns', 'pending', 'node-a', { volumes: [{ name: 'v', secret: { secretName: 'later' } }] }));
    assert.equal(allowed(authz, req(A, 'get', 'secrets', 'ns', 'later')), true);
  });

  it('gives mirror pods no access to other objects', () => {
    const { graph, authz } = cluster();
    graph.onPod('ADDED', pod('ns', 'static', 'node-a', { volumes: [{ name: 'v', secret: { secretName: 'mirror-secret' } }] }, { annotations: { 'kubernetes.io/config.mirror': 'x' } }));
    assert.equal(allowed(authz, req(A, 'get', 'secrets', 'ns', 'mirror-secret')), false);
    assert.equal(allowed(authz, req(A, 'get', 'pods', 'ns', 'static')), true);
  });

  it('reaches persistent volumes and their secrets through bound claims', () => {
    const { graph, authz } = cluster();
    graph.onPersistentVolume('ADDED', { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv1' }, spec: { claimRef: { namespace: 'ns', name: 'data-a' }, csi: { driver: 'd', volumeHandle: 'h', nodePublishSecretRef: { namespace: 'storage', name: 'csi-creds' } } } });
    assert.equal(allowed(authz, req(A, 'get', 'persistentvolumes', '', 'pv1')), true);
    assert.equal(allowed(authz, req(B, 'get', 'persistentvolumes', '', 'pv1')), false);
    assert.equal(allowed(authz, req(A, 'get', 'secrets', 'storage', 'csi-creds')), true);
    assert.equal(allowed(authz, req(B, 'get', 'secrets', 'storage', 'csi-creds')), false);
    graph.onPersistentVolume('DELETED', { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv1' } });
    assert.equal(allowed(authz, req(A, 'get', 'secrets', 'storage', 'csi-creds')), false);
  });

  it('lets a node create tokens only for its pods\' service accounts', () => {
    const { authz } = cluster();
    assert.equal(allowed(authz, req(A, 'create', 'serviceaccounts', 'ns', 'default', { subresource: 'token' })), true);
    assert.equal(allowed(authz, req(A, 'create', 'serviceaccounts', 'ns', 'builder', { subresource: 'token' })), false);
    assert.equal(allowed(authz, req(B, 'create', 'serviceaccounts', 'ns', 'builder', { subresource: 'token' })), true);
    assert.equal(authz.authorize(req(A, 'get', 'serviceaccounts', 'ns', 'default')).reason, 'can only create tokens for individual service accounts');
  });

  it('lets a node read only its own Node and write Nodes (NodeRestriction narrows the writes)', () => {
    const { authz } = cluster();
    assert.equal(allowed(authz, req(A, 'get', 'nodes', '', 'node-a')), true);
    assert.equal(allowed(authz, req(A, 'watch', 'nodes', '', 'node-a')), true);
    assert.equal(authz.authorize(req(A, 'get', 'nodes', '', 'node-b')).reason, "node 'node-a' cannot read 'node-b', only its own Node object");
    assert.equal(authz.authorize(req(A, 'list', 'nodes', '', '')).reason, "node 'node-a' cannot read all nodes, only its own Node object");
    assert.equal(allowed(authz, req(A, 'patch', 'nodes', '', 'node-b', { subresource: 'status' })), true);
    assert.equal(allowed(authz, req(A, 'delete', 'nodes', '', 'node-a')), false);
  });

  it('lets a node list pods only by its own spec.nodeName and read only its pods', () => {
    const { authz } = cluster();
    assert.equal(allowed(authz, req(A, 'watch', 'pods', '', '', { fieldSelector: 'spec.nodeName=node-a' })), true);
    assert.equal(allowed(authz, req(A, 'list', 'pods', '', '', { fieldSelector: 'spec.nodeName==node-a,metadata.namespace=ns' })), true);
    assert.equal(authz.authorize(req(A, 'list', 'pods', '', '', { fieldSelector: 'spec.nodeName=node-b' })).reason, 'can only list/watch pods with spec.nodeName field selector');
    assert.equal(allowed(authz, req(A, 'list', 'pods', '', '', { fieldSelector: 'spec.nodeName!=node-a' })), false);
    assert.equal(allowed(authz, req(A, 'list', 'pods', '', '')), false);
    assert.equal(allowed(authz, req(A, 'get', 'pods', 'ns', 'pa')), true);
    assert.equal(allowed(authz, req(A, 'get', 'pods', 'ns', 'pb')), false);
    assert.equal(allowed(authz, req(A, 'update', 'pods', 'ns', 'pb', { subresource: 'status' })), true);
    assert.equal(allowed(authz, req(A, 'update', 'pods', 'ns', 'pa')), false);
  });

  it('confines leases to kube-node-lease and the node\'s own name', () => {
    const { authz } = cluster();
    const lease = (verb: string, ns: string, name: string): Attributes => req(A, verb, 'leases', ns, name, { apiGroup: 'coordination.k8s.io' });
    assert.equal(allowed(authz, lease('update', 'kube-node-lease', 'node-a')), true);
    assert.equal(allowed(authz, lease('create', 'kube-node-lease', '')), true);
    assert.equal(allowed(authz, lease('update', 'kube-node-lease', 'node-b')), false);
    assert.equal(allowed(authz, lease('get', 'kube-system', 'node-a')), false);
    assert.equal(allowed(authz, lease('list', 'kube-node-lease', '')), false);
  });

  it('decides the rest by the fixed node rules, and has no opinion on other users', () => {
    const { authz } = cluster();
    assert.equal(allowed(authz, req(A, 'create', 'events', 'ns', '')), true);
    assert.equal(allowed(authz, req(A, 'list', 'services', '', '')), true);
    assert.equal(allowed(authz, req(A, 'create', 'tokenreviews', '', '', { apiGroup: 'authentication.k8s.io' })), true);
    assert.equal(allowed(authz, req(A, 'create', 'deployments', 'ns', '', { apiGroup: 'apps' })), false);
    assert.deepEqual(authz.authorize(req({ name: 'alice', groups: [] }, 'get', 'secrets', 'ns', 's-a')), { decision: 'noOpinion', reason: '' });
    assert.deepEqual(authz.rulesFor(A), { resourceRules: [], nonResourceRules: [], incomplete: true, errors: ['node authorizer does not support user rule resolution'] });
  });
});
