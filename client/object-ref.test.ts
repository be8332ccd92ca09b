import assert from 'node:assert/strict';
import { objectReference, ownerReference } from './object-ref.js';

describe('object references', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: 'default', uid: 'u-1', resourceVersion: '42', labels: { a: 'b' } } };

  it('takes apiVersion, kind, namespace, name, uid and resourceVersion from the object', () => {
    assert.deepEqual(objectReference(pod), { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'web-0', uid: 'u-1', resourceVersion: '42' });
  });

  it('takes the kind from the caller when given, and leaves out what the object lacks', () => {
    const node = { metadata: { name: 'n1' } };
    assert.deepEqual(objectReference(node, { apiVersion: 'v1', kind: 'Node' }), { apiVersion: 'v1', kind: 'Node', name: 'n1' });
    assert.deepEqual(objectReference({}), {});
  });

  it('builds owner references, with controller and blockOwnerDeletion for a managing controller', () => {
    const gvk = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
    const rs = { metadata: { name: 'web-abc', namespace: 'default', uid: 'u-rs' } };
    assert.deepEqual(ownerReference(rs, gvk), { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u-rs' });
    assert.deepEqual(ownerReference(rs, gvk, { controller: true }), { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u-rs', controller: true, blockOwnerDeletion: true });
  });
});
