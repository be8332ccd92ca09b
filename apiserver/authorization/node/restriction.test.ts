import assert from 'node:assert/strict';
import { ApiError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/schemas/meta.js';
import type { AdmissionRequest, UserInfo } from '../types.js';
import { forbiddenLabels, nodeRestriction } from './restriction.js';

const A: UserInfo = { name: 'system:node:node-a', groups: ['system:nodes'] };
const pods: Record<string, KubeObject> = {
  'ns/pa': { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'pa', uid: 'u-pa' }, spec: { nodeName: 'node-a' } },
  'ns/pb': { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'pb', uid: 'u-pb' }, spec: { nodeName: 'node-b' } },
};
const nodes: Record<string, KubeObject> = { 'node-a': { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', uid: 'node-a-uid' } } };
const admit = nodeRestriction({ getPod: async (ns, n) => pods[`${ns}/${n}`], getNode: async (n) => nodes[n] });

const base = (o: Partial<AdmissionRequest>): AdmissionRequest => ({ user: A, operation: 'update', group: '', resource: 'pods', subresource: '', namespace: 'ns', name: '', ...o });
const node = (name: string, spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec });

async function refused(req: AdmissionRequest): Promise<string> {
  try {
    await admit(req);
  } catch (err) {
    if (err instanceof ApiError) return `${err.code} ${err.message}`;
    throw err;
  }
  assert.fail('expected a refusal');
}

describe('NodeRestriction admission', () => {
  it('leaves other users alone and refuses unnamed nodes', async () => {
    await admit(base({ user: { name: 'alice', groups: [] }, resource: 'nodes', name: 'node-b', obj: node('node-b') }));
    assert.equal(await refused(base({ user: { name: 'system:node:', groups: ['system:nodes'] }, name: 'pa' })), '403 pods "pa" is forbidden: could not determine node from user "system:node:"');
  });

  it('lets a node change only its own Node, not its taints, pod CIDR or restricted labels', async () => {
    const old = node('node-a', { taints: [{ key: 'k', effect: 'NoSchedule' }], podCIDR: '10.42.1.0/24', podCIDRs: ['10.42.1.0/24'] }, { 'kubernetes.io/hostname': 'node-a' });
    const upd = (next: KubeObject): AdmissionRequest => base({ resource: 'nodes', namespace: '', name: 'node-a', obj: next, old });
    await admit(upd({ ...old, metadata: { ...old.metadata, labels: { 'kubernetes.io/hostname': 'node-a', 'example.com/rack': 'r1', 'node.kubernetes.io/instance-type': 'big' } } }));
    assert.equal(await refused(base({ resource: 'nodes', namespace: '', name: 'node-b', obj: node('node-b'), old: node('node-b') })), '403 nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"');
    assert.equal(await refused(upd({ ...old, spec: { ...(old.spec as object), taints: [] } })), '403 nodes "node-a" is forbidden: node "node-a" is not allowed to modify taints');
    assert.equal(
      await refused(upd({ ...old, metadata: { ...old.metadata, labels: { 'kubernetes.io/hostname': 'node-a', 'node-restriction.kubernetes.io/zone': 'secure', 'foo.k8s.io/x': 'y' } } })),
      '403 nodes "node-a" is forbidden: is not allowed to modify labels: foo.k8s.io/x, node-restriction.kubernetes.io/zone',
    );
    assert.equal(await refused(upd({ ...old, spec: { ...(old.spec as object), podCIDR: '10.0.0.0/8', podCIDRs: ['10.0.0.0/8'] } })), '403 nodes "node-a" is forbidden: node "node-a" is not allowed to modify spec.podCIDR or spec.podCIDRs');
  });

  it('checks what a node registers itself with', async () => {
    const create = (n: KubeObject): AdmissionRequest => base({ operation: 'create', resource: 'nodes', namespace: '', name: '', obj: n });
    await admit(create(node('node-a', { taints: [{ key: 'k', effect: 'NoSchedule' }] }, { 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': 'z' })));
    assert.match(await refused(create(node('node-a', {}, { 'node-role.kubernetes.io/control-plane': '' }))), /is not allowed to set the following labels: node-role.kubernetes.io\/control-plane$/);
    assert.match(await refused(create(node('node-a', { podCIDR: '10.42.9.0/24' }))), /is not allowed to set spec.podCIDR or spec.podCIDRs$/);
    assert.match(await refused(create(node('node-b'))), /is not allowed to modify node "node-b"/);
  });

  it('finds forbidden label changes, additions and removals', () => {
    assert.deepEqual(forbiddenLabels({ 'a.node-restriction.kubernetes.io/x': '1' }, {}), ['a.node-restriction.kubernetes.io/x']);
    assert.deepEqual(forbiddenLabels({}, { 'kubernetes.io/role': 'x' }), ['kubernetes.io/role']);
    assert.deepEqual(forbiddenLabels({ 'kubelet.kubernetes.io/x': '1', 'a.node.kubernetes.io/y': '2', other: 'z' }, {}), []);
  });

  it('lets a node update the status of its own pods only, without relabelling them', async () => {
    const pa = pods['ns/pa']!;
    const status = (old: KubeObject, next: KubeObject): AdmissionRequest => base({ subresource: 'status', name: old.metadata.name ?? '', obj: next, old });
    await admit(status(pa, { ...pa, status: { phase: 'Running' } }));
    assert.match(await refused(status(pods['ns/pb']!, pods['ns/pb']!)), /node "node-a" can only update pod status for pods with spec.nodeName set to itself$/);
    assert.match(await refused(status(pa, { ...pa, metadata: { ...pa.metadata, labels: { a: 'b' } } })), /cannot update labels through pod status$/);
  });

  it('lets a node delete and evict only its own pods', async () => {
    await admit(base({ operation: 'delete', name: 'pa' }));
    assert.match(await refused(base({ operation: 'delete', name: 'pb' })), /can only delete pods with spec.nodeName set to itself$/);
    await admit(base({ operation: 'create', subresource: 'eviction', name: 'pa', obj: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'pa' } } }));
    assert.match(await refused(base({ operation: 'create', subresource: 'eviction', name: 'pb' })), /node node-a can only evict pods with spec.nodeName set to itself$/);
    assert.equal(await refused(base({ operation: 'delete', name: 'gone' })), '404 pods "gone" not found');
    assert.match(await refused(base({ subresource: 'exec', name: 'pa' })), /unexpected pod subresource "exec"/);
  });

  it('lets a node create only mirror pods of its own that name nothing else', async () => {
    const mirror = (spec: Record<string, unknown> = {}, owner: Record<string, unknown> = {}): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'ns', name: 'static-node-a', annotations: { 'kubernetes.io/config.mirror': 'h' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'node-a-uid', controller: true, ...owner }] },
      spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'i' }], ...spec },
    });
    const create = (p: KubeObject): AdmissionRequest => base({ operation: 'create', obj: p });
    await admit(create(mirror()));
    assert.match(await refused(create({ ...mirror(), metadata: { namespace: 'ns', name: 'x' } })), /pod does not have "kubernetes.io\/config.mirror" annotation, node "node-a" can only create mirror pods$/);
    assert.match(await refused(create(mirror({ nodeName: 'node-b' }))), /can only create pods with spec.nodeName set to itself$/);
    assert.match(await refused(create(mirror({}, { uid: 'other' }))), /node node-a UID mismatch: expected other got node-a-uid$/);
    assert.match(await refused(create(mirror({}, { controller: false }))), /with a controller owner reference set to itself$/);
    assert.match(await refused(create(mirror({ serviceAccountName: 'default' }))), /can not create pods that reference a service account$/);
    assert.match(await refused(create(mirror({ volumes: [{ name: 'v', secret: { secretName: 's' } }] }))), /can not create pods that reference secrets$/);
    assert.match(await refused(create(mirror({ volumes: [{ name: 'v', configMap: { name: 'c' } }] }))), /can not create pods that reference configmaps$/);
    assert.match(await refused(create(mirror({ volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'c' } }] }))), /can not create pods that reference persistentvolumeclaims$/);
  });

  it('confines leases to the node\'s own in kube-node-lease', async () => {
    const lease = (o: Partial<AdmissionRequest>): AdmissionRequest => base({ group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', ...o });
    await admit(lease({ operation: 'create', obj: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'node-a' } } }));
    await admit(lease({ name: 'node-a' }));
    assert.match(await refused(lease({ operation: 'create', obj: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'node-b' } } })), /can only access node lease with the same name as the requesting node$/);
    assert.match(await refused(lease({ namespace: 'kube-system', name: 'node-a' })), /can only access leases in the "kube-node-lease" system namespace$/);
  });

  it('lets a node request tokens only bound to its own pods', async () => {
    const token = (ref: Record<string, unknown> | undefined): AdmissionRequest =>
      base({ operation: 'create', resource: 'serviceaccounts', subresource: 'token', name: 'default', obj: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {}, spec: ref ? { boundObjectRef: ref } : {} } });
    await admit(token({ apiVersion: 'v1', kind: 'Pod', name: 'pa', uid: 'u-pa' }));
    assert.match(await refused(token(undefined)), /node requested token not bound to a pod$/);
    assert.match(await refused(token({ apiVersion: 'v1', kind: 'Pod', name: 'pa' })), /node requested token with a pod binding without a uid$/);
    assert.match(await refused(token({ apiVersion: 'v1', kind: 'Pod', name: 'pa', uid: 'old' })), /does not match the UID in record/);
    assert.match(await refused(token({ apiVersion: 'v1', kind: 'Pod', name: 'pb', uid: 'u-pb' })), /node requested token bound to a pod scheduled on a different node$/);
  });

  it('lets a node change only the status capacity and conditions of claims', async () => {
    const pvc: KubeObject = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { namespace: 'ns', name: 'c', resourceVersion: '1' }, spec: {}, status: { phase: 'Bound' } };
    const req = (next: KubeObject, sub = 'status'): AdmissionRequest => base({ resource: 'persistentvolumeclaims', subresource: sub, name: 'c', obj: next, old: pvc });
    await admit(req({ ...pvc, metadata: { ...pvc.metadata, resourceVersion: '2' }, status: { phase: 'Bound', capacity: { storage: '1Gi' }, conditions: [] } }));
    assert.match(await refused(req({ ...pvc, status: { phase: 'Lost' } })), /is not allowed to update fields other than status.capacity and status.conditions$/);
    assert.match(await refused(req(pvc, '')), /may only update PVC status$/);
  });

  it('lets a node only remove the local-path cleanup finalizer of a deleted volume pinned to it', async () => {
    const FIN = 'local-path.ketch.io/cleanup';
    const pinned = (...hosts: string[]) => ({ required: { nodeSelectorTerms: hosts.map((h) => ({ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [h] }] })) } });
    const pv = (hosts: string[], more: Partial<KubeObject['metadata']> = {}): KubeObject => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'pv-1', resourceVersion: '7', deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['kubernetes.io/pv-protection', FIN], ...more },
      spec: { hostPath: { path: '/var/lib/ketch/storage/pvc-1' }, nodeAffinity: pinned(...hosts) },
    });
    const upd = (old: KubeObject, next: KubeObject): AdmissionRequest => base({ resource: 'persistentvolumes', namespace: '', name: 'pv-1', old, obj: next });
    const drop = (o: KubeObject): KubeObject => ({ ...o, metadata: { ...o.metadata, resourceVersion: '', finalizers: ['kubernetes.io/pv-protection'] } });
    const mine = pv(['node-a']);
    await admit(upd(mine, drop(mine)));
    // Other users are not limited here.
    await admit({ ...upd(mine, { ...mine, spec: {} }), user: { name: 'alice', groups: [] } });
    const msg = (why: string): string => `403 persistentvolumes "pv-1" is forbidden: node "node-a" is not allowed to modify persistentvolume "pv-1": ${why}`;
    const notPinned = msg('the volume is not pinned to node "node-a" by its kubernetes.io/hostname node affinity');
    assert.equal(await refused(upd(pv(['node-b']), drop(pv(['node-b'])))), notPinned);
    assert.equal(await refused(upd(pv(['node-a', 'node-b']), drop(pv(['node-a', 'node-b'])))), notPinned);
    assert.equal(await refused(upd(pv([]), drop(pv([])))), notPinned);
    const live = pv(['node-a'], { deletionTimestamp: undefined });
    delete live.metadata.deletionTimestamp;
    assert.equal(await refused(upd(live, drop(live))), msg(`nodes may only remove the ${FIN} finalizer of a volume being deleted`));
    const nothingElse = msg(`nodes may only remove the ${FIN} finalizer, and change nothing else`);
    const moved = drop(mine);
    moved.spec = { ...(mine.spec as object), hostPath: { path: '/etc' } };
    assert.equal(await refused(upd(mine, moved)), nothingElse);
    assert.equal(await refused(upd(mine, { ...drop(mine), metadata: { ...drop(mine).metadata, labels: { a: 'b' } } })), nothingElse);
    assert.equal(await refused(upd(mine, { ...mine, metadata: { ...mine.metadata, finalizers: [FIN] } })), nothingElse);
    assert.equal(await refused(upd(mine, { ...mine, metadata: { ...mine.metadata, finalizers: [...(mine.metadata.finalizers ?? []), 'x/y'] } })), nothingElse);
    const without = pv(['node-a'], { finalizers: ['kubernetes.io/pv-protection'] });
    assert.equal(await refused(upd(without, { ...without, metadata: { ...without.metadata, finalizers: [] } })), nothingElse);
    assert.equal(
      await refused(base({ operation: 'create', resource: 'persistentvolumes', namespace: '', name: '', obj: mine })),
      `403 persistentvolumes "pv-1" is forbidden: node "node-a" is not allowed to create persistentvolume "pv-1": nodes may only remove the ${FIN} finalizer`,
    );
    assert.match(await refused(base({ operation: 'delete', resource: 'persistentvolumes', namespace: '', name: 'pv-1', old: mine })), /node "node-a" is not allowed to delete persistentvolume "pv-1"/);
    assert.match(await refused(base({ resource: 'persistentvolumes', subresource: 'status', namespace: '', name: 'pv-1', old: mine, obj: mine })), /not allowed to modify persistentvolume "pv-1": nodes may only remove/);
  });
});
