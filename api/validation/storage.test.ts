import assert from 'node:assert/strict';
import { applyDefaults } from '../defaults.js';
import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../schemas/meta.js';
import { validateObject } from './index.js';

const create = (obj: object): StatusCause[] => validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'create' });
const update = (obj: object, old: object): StatusCause[] =>
  validateObject(applyDefaults(structuredClone(obj) as KubeObject), { operation: 'update', old: applyDefaults(structuredClone(old) as KubeObject) });
const status = (obj: object, old: object): StatusCause[] =>
  validateObject(structuredClone(obj) as KubeObject, { operation: 'update', old: structuredClone(old) as KubeObject, subresource: 'status' });
const lines = (causes: StatusCause[]): string[] => causes.map((c) => `${c.field}: ${c.message}`).sort();

const pv = (spec: object = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name: 'pv1' },
  spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/data/pv1' }, ...spec },
});
const pvc = (spec: object = {}, st?: object) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'data', namespace: 'default' },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
  ...(st ? { status: st } : {}),
});
const sc = (o: object = {}) => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'fast' }, provisioner: 'rancher.io/local-path', ...o });

describe('storage validation', () => {
  it('accepts valid objects and defaults them as Kubernetes does', () => {
    assert.deepEqual(create(pv()), []);
    assert.deepEqual(create(pvc()), []);
    assert.deepEqual(create(sc()), []);
    const v = applyDefaults(structuredClone(pv()) as KubeObject) as ReturnType<typeof pv> & { spec: Record<string, unknown>; status: { phase: string } };
    assert.equal(v.spec.persistentVolumeReclaimPolicy, 'Retain');
    assert.equal(v.spec.volumeMode, 'Filesystem');
    assert.equal(v.status.phase, 'Pending');
    const c = applyDefaults(structuredClone(sc()) as KubeObject) as unknown as { reclaimPolicy: string; volumeBindingMode: string };
    assert.deepEqual([c.reclaimPolicy, c.volumeBindingMode], ['Delete', 'Immediate']);
  });

  it('checks a volume: access modes, capacity, one source, local needs node affinity', () => {
    assert.deepEqual(lines(create(pv({ accessModes: [], capacity: {} }))), [
      'spec.accessModes: Required value',
      'spec.capacity: Required value',
      'spec.capacity: Unsupported value: {}: supported values: "storage"',
    ]);
    assert.deepEqual(lines(create(pv({ capacity: { storage: '0' }, accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'] }))), [
      'spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes',
      'spec.capacity[storage]: Invalid value: "0": must be greater than zero',
    ]);
    assert.deepEqual(lines(create(pv({ hostPath: undefined, local: { path: '/mnt/disk' } }))), ['spec.nodeAffinity: Required value: Local volume requires node affinity']);
    assert.deepEqual(lines(create(pv({ nfs: { server: 'x', path: '/e' } }))), ['spec.nfs: Forbidden: may not specify more than 1 volume type']);
    assert.deepEqual(lines(create(pv({ hostPath: undefined }))), ['spec: Required value: must specify a volume type']);
    assert.deepEqual(lines(create(pv({ persistentVolumeReclaimPolicy: 'Keep', accessModes: ['ReadWriteSometimes'] }))), [
      'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
      'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"',
    ]);
  });

  it('keeps a volume source, mode and node affinity fixed, but lets claimRef and capacity change', () => {
    assert.deepEqual(update(pv({ claimRef: { namespace: 'default', name: 'data' }, capacity: { storage: '2Gi' } }), pv()), []);
    assert.deepEqual(lines(update(pv({ hostPath: { path: '/elsewhere' } }), pv())), ['spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation']);
    const aff = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['a'] }] }] } };
    const moved = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['b'] }] }] } };
    assert.deepEqual(update(pv({ nodeAffinity: aff }), pv()), [], 'affinity may be set once');
    assert.equal(lines(update(pv({ nodeAffinity: moved }), pv({ nodeAffinity: aff })))[0]?.startsWith('nodeAffinity: Invalid value'), true);
  });

  it('checks a claim: modes, a positive storage request, class name, volume mode', () => {
    assert.deepEqual(lines(create(pvc({ accessModes: [], resources: {} }))), [
      'spec.accessModes: Required value: at least 1 access mode is required',
      'spec.resources[storage]: Required value',
    ]);
    assert.deepEqual(lines(create(pvc({ resources: { requests: { storage: '-1Gi' } }, storageClassName: 'Bad_Name', volumeMode: 'Raw' }))), [
      'spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero',
      `spec.storageClassName: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"',
    ]);
  });

  it('lets a claim get its volumeName once and grow only while bound', () => {
    assert.deepEqual(update(pvc({ volumeName: 'pv1' }), pvc()), []);
    const changed = lines(update(pvc({ volumeName: 'pv2' }), pvc({ volumeName: 'pv1' })));
    assert.equal(changed.length, 1);
    assert.match(changed[0]!, /^spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n {2}volumeName: "pv1" -> "pv2"$/);
    const grow = { resources: { requests: { storage: '2Gi' } } };
    assert.equal(update(pvc(grow), pvc()).length, 1, 'an unbound claim cannot grow');
    const bound = { phase: 'Bound', capacity: { storage: '1Gi' } };
    assert.deepEqual(update(pvc(grow, bound), pvc({}, bound)), []);
    assert.deepEqual(lines(update(pvc({ resources: { requests: { storage: '1Gi' } } }, bound), pvc(grow, bound))), [
      'spec.resources.requests.storage: Forbidden: field can not be less than status.capacity',
    ]);
    assert.deepEqual(update(pvc({ resources: { requests: { storage: '3Gi' } } }, bound), pvc({ resources: { requests: { storage: '4Gi' } } }, bound)), [], 'back down to above the capacity');
    assert.equal(lines(update(pvc({ storageClassName: 'other' }), pvc({ storageClassName: 'fast' })))[0]?.includes('storageClassName: "fast" -> "other"'), true);
    assert.deepEqual(update(pvc({ storageClassName: 'fast' }), pvc()), [], 'a claim without a class may get one while unbound');
    assert.equal(update(pvc({ storageClassName: 'fast', volumeName: 'pv1' }), pvc({ volumeName: 'pv1' })).length, 1, 'not once it names a volume');
  });

  it('checks claim status: allocatedResources and resize statuses', () => {
    const old = pvc({}, { phase: 'Bound' });
    assert.deepEqual(status(pvc({}, { phase: 'Bound', allocatedResources: { storage: '2Gi' }, allocatedResourceStatuses: { storage: 'NodeResizePending' } }), old), []);
    assert.deepEqual(lines(status(pvc({}, { allocatedResources: { cpu: '1' }, allocatedResourceStatuses: { storage: 'Stuck' } }), old)), [
      'status.allocatedResourceStatuses[storage]: Unsupported value: "Stuck": supported values: "ControllerResizeInProgress", "ControllerResizeInfeasible", "NodeResizePending", "NodeResizeInProgress", "NodeResizeInfeasible"',
      'status.allocatedResources: Unsupported value: "cpu": supported values: "storage"',
    ]);
  });

  it('validates ephemeral volumes of pods with the claim rules', () => {
    const pod = (vol: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [vol] } });
    assert.deepEqual(create(pod({ name: 'scratch', ephemeral: { volumeClaimTemplate: { metadata: { labels: { a: 'b' } }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } })), []);
    assert.deepEqual(lines(create(pod({ name: 'scratch', ephemeral: { volumeClaimTemplate: { metadata: { name: 'x' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } }))), [
      'spec.volumes[0].ephemeral.volumeClaimTemplate.metadata.name: Forbidden: cannot be set for an ephemeral volume',
    ]);
    assert.deepEqual(lines(create(pod({ name: 'scratch', ephemeral: {} }))), ['spec.volumes[0].ephemeral.volumeClaimTemplate: Required value']);
  });

  it('checks a StorageClass and keeps its provisioner, parameters, reclaim policy and binding mode fixed', () => {
    assert.deepEqual(lines(create(sc({ provisioner: '', reclaimPolicy: 'Recycle', volumeBindingMode: 'Later' }))), [
      'provisioner: Required value',
      'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
      'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
    ]);
    assert.deepEqual(update(sc({ allowVolumeExpansion: true, metadata: { name: 'fast', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } }), sc()), []);
    assert.deepEqual(lines(update(sc({ provisioner: 'other.io/x', parameters: { a: 'b' }, reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer' }), sc())), [
      'parameters: Forbidden: updates to parameters are forbidden.',
      'provisioner: Forbidden: updates to provisioner are forbidden.',
      'reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.',
      'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ]);
  });

  it('checks CSIDriver and CSINode', () => {
    const driver = { apiVersion: 'storage.k8s.io/v1', kind: 'CSIDriver', metadata: { name: 'rancher.io.local-path' }, spec: {} };
    assert.deepEqual(create(driver), []);
    assert.deepEqual(lines(create({ ...driver, spec: { fsGroupPolicy: 'Sometimes', volumeLifecycleModes: ['Forever'] } })), [
      'spec.fsGroupPolicy: Unsupported value: "Sometimes": supported values: "ReadWriteOnceWithFSType", "File", "None"',
      'spec.volumeLifecycleModes: Unsupported value: "Forever": supported values: "Persistent", "Ephemeral"',
    ]);
    const csiNode = (drivers: object[]) => ({ apiVersion: 'storage.k8s.io/v1', kind: 'CSINode', metadata: { name: 'n1' }, spec: { drivers } });
    assert.deepEqual(create(csiNode([{ name: 'rancher.io.local-path', nodeID: 'n1', topologyKeys: ['kubernetes.io/hostname'] }])), []);
    assert.deepEqual(lines(create(csiNode([{ name: 'd.io', nodeID: '' }, { name: 'd.io', nodeID: 'n1', allocatable: { count: -1 } }]))), [
      'spec.drivers[0].nodeID: Required value',
      'spec.drivers[1].allocatable.count: Invalid value: -1: must be greater than or equal to 0',
      'spec.drivers[1].name: Duplicate value: "d.io"',
    ]);
  });
});
