import assert from 'node:assert/strict';
import type { PersistentVolumeClaim, StorageClass } from '../../../api/index.js';
import { volumeFor } from '../persistentvolume/provisioning.js';
import { LocalPathControllerService } from './controller-service.js';

const claim: PersistentVolumeClaim = {
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'data', namespace: 'shop', uid: '0e4b7a9e-1111-2222-3333-444455556666', resourceVersion: '42' },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } }, storageClassName: 'local-path', volumeMode: 'Filesystem' },
};
const cls = (parameters: Record<string, string> = {}): StorageClass => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: 'local-path' },
  provisioner: 'rancher.io/local-path',
  parameters,
  reclaimPolicy: 'Delete',
  volumeBindingMode: 'WaitForFirstConsumer',
});
const request = (parameters: Record<string, string>, node?: string) => ({
  name: 'pvc-0e4b7a9e-1111-2222-3333-444455556666',
  capacityRange: { requiredBytes: 2 * 1024 ** 3 },
  volumeCapabilities: { accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem' as const },
  parameters: { ...parameters, 'csi.storage.k8s.io/pvc/name': 'data', 'csi.storage.k8s.io/pvc/namespace': 'shop' },
  ...(node ? { accessibilityRequirements: { requisite: [{ 'kubernetes.io/hostname': node }], preferred: [{ 'kubernetes.io/hostname': node }] } } : {}),
});

describe('local-path Controller side', () => {
  const driver = new LocalPathControllerService('/var/lib/ketch/storage');

  it('places the volume in <root>/pvc-<uid>_<namespace>_<claim> on the selected node', async () => {
    const vol = await driver.createVolume(request({}, 'node-a'));
    assert.deepEqual(vol, {
      volumeId: 'pvc-0e4b7a9e-1111-2222-3333-444455556666',
      capacityBytes: 2 * 1024 ** 3,
      volumeContext: { path: '/var/lib/ketch/storage/pvc-0e4b7a9e-1111-2222-3333-444455556666_shop_data', node: 'node-a', type: 'hostPath' },
      accessibleTopology: [{ 'kubernetes.io/hostname': 'node-a' }],
    });
    const other = await driver.createVolume(request({ nodePath: '/data/volumes' }, 'node-b'));
    assert.equal(other.volumeContext.path, '/data/volumes/pvc-0e4b7a9e-1111-2222-3333-444455556666_shop_data');
  });

  it('refuses without a node, with a relative or unnormalized nodePath, and for Block volumes', async () => {
    await assert.rejects(driver.createVolume(request({})), /no node was specified/);
    await assert.rejects(driver.createVolume(request({ nodePath: 'relative' }, 'a')), /must be an absolute, normalized path/);
    await assert.rejects(driver.createVolume(request({ nodePath: '/data/../etc' }, 'a')), /must be an absolute, normalized path/);
    await assert.rejects(driver.createVolume({ ...request({}, 'a'), volumeCapabilities: { accessModes: ['ReadWriteOnce'], volumeMode: 'Block' } }), /volumeMode Block is not supported/);
  });

  it('gives the PV a hostPath (or local) source, the node affinity, the cleanup finalizer, and a claimRef to the claim', async () => {
    const vol = await driver.createVolume(request({}, 'node-a'));
    const pv = volumeFor(claim, cls(), driver, vol);
    assert.equal(pv.metadata.name, 'pvc-0e4b7a9e-1111-2222-3333-444455556666');
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'rancher.io/local-path');
    assert.deepEqual(pv.metadata.finalizers, ['local-path.ketch.io/cleanup']);
    assert.deepEqual(pv.spec?.hostPath, { path: vol.volumeContext.path, type: 'DirectoryOrCreate' });
    assert.equal(pv.spec?.csi, undefined);
    assert.deepEqual(pv.spec?.capacity, { storage: '2Gi' }, 'the requested quantity, as written');
    assert.deepEqual(pv.spec?.claimRef, { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'shop', name: 'data', uid: claim.metadata?.uid, resourceVersion: '42' });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, 'Delete');
    assert.deepEqual(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms, [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }] }]);
    const local = volumeFor(claim, cls({ volumeType: 'local' }), driver, await driver.createVolume(request({ volumeType: 'local' }, 'node-a')));
    assert.deepEqual(local.spec?.local, { path: vol.volumeContext.path });
    assert.equal(local.spec?.hostPath, undefined);
  });

  it('expands by recording the size, with nothing for the node to do', async () => {
    assert.deepEqual(await driver.controllerExpandVolume({ capacityRange: { requiredBytes: 5 } }), { capacityBytes: 5, nodeExpansionRequired: false });
  });
});
