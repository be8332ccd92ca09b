import assert from 'node:assert/strict';
import { DIAGNOSIS_ANNOTATION } from '../../api/annotations.js';
import type { Pod } from '../../api/index.js';
import { hasFastProperties } from '../../test/support/v8-shape.js';
import { slimPod } from './slim-pod.js';

describe('slimPod (the scheduler cache keeps what scheduling reads)', () => {
  const full = (): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u',
      labels: { app: 'a' },
      annotations: { 'other/x': 'y', [DIAGNOSIS_ANNOTATION]: '{}' },
      managedFields: [{ manager: 'm', operation: 'Update' }],
    },
    spec: {
      nodeSelector: { disk: 'ssd' },
      tolerations: [{ key: 'k', operator: 'Exists' }],
      volumes: [{ name: 'v', emptyDir: {} }, { name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
      initContainers: [{ name: 'init', image: 'i', restartPolicy: 'Always', command: ['sh'], resources: { requests: { cpu: '1' } } }],
      containers: [{ name: 'c', image: 'busybox', env: [{ name: 'A', value: 'b' }], ports: [{ containerPort: 80, hostPort: 8080 }], resources: { requests: { memory: '1Gi' } }, volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
    },
    status: {
      phase: 'Pending',
      startTime: '2024-01-01T00:00:00Z',
      nominatedNodeName: 'n1',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }, { type: 'Ready', status: 'False' }],
      containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: 'busybox', imageID: '' }],
    },
  });

  it('keeps labels, scheduling fields, requests, ports, images, phase, PodScheduled, the nomination, the start time and the diagnosis', () => {
    const p = slimPod(full());
    assert.deepEqual(p.metadata?.labels, { app: 'a' });
    assert.deepEqual(p.metadata?.annotations, { [DIAGNOSIS_ANNOTATION]: '{}' });
    assert.deepEqual(p.spec.nodeSelector, { disk: 'ssd' });
    assert.equal(p.spec.tolerations?.length, 1);
    assert.deepEqual(p.spec.containers, [{ name: 'c', image: 'busybox', ports: [{ containerPort: 80, hostPort: 8080 }], resources: { requests: { memory: '1Gi' } } }]);
    assert.deepEqual(p.spec.initContainers, [{ name: 'init', image: 'i', restartPolicy: 'Always', resources: { requests: { cpu: '1' } } }]);
    assert.deepEqual(p.status, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }], nominatedNodeName: 'n1', startTime: '2024-01-01T00:00:00Z' });
  });

  it('keeps the volumes that name a claim (VolumeBinding, VolumeRestrictions) and no others', () => {
    assert.deepEqual(slimPod(full()).spec.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]);
    const noClaims = full();
    noClaims.spec.volumes = [{ name: 'v', emptyDir: {} }];
    assert.equal(slimPod(noClaims).spec.volumes, undefined);
  });

  it('drops field ownership, other annotations, other volumes, and the rest of the status', () => {
    const p = slimPod(full());
    assert.equal(p.metadata?.managedFields, undefined);
    assert.ok(JSON.stringify(p).length < JSON.stringify(full()).length * 0.7);
  });

  it('leaves no object in V8 dictionary mode (no delete): 30,000 cached pods cost ~0.5 KB more each otherwise', () => {
    // As a pod arrives: parsed, the dropped fields amid the kept ones (deleting the last one added would not show it).
    const parsed = (): Pod => {
      const f = full();
      const { name, managedFields, annotations, ...m } = f.metadata!;
      const { volumes, ...spec } = f.spec;
      return JSON.parse(JSON.stringify({ ...f, metadata: { name, managedFields, annotations, ...m }, spec: { volumes, ...spec } })) as Pod;
    };
    const p = slimPod(parsed());
    for (const o of [p, p.metadata!, p.spec, p.status!, ...p.spec.containers]) assert.ok(hasFastProperties(o), JSON.stringify(o).slice(0, 80));
    const bare = parsed();
    bare.metadata!.annotations = { 'other/x': 'y' };
    bare.spec.volumes = [{ name: 'v', emptyDir: {} }];
    const q = slimPod(bare);
    assert.equal(q.metadata?.annotations, undefined);
    assert.equal(q.spec.volumes, undefined);
    assert.ok(hasFastProperties(q.metadata!) && hasFastProperties(q.spec));
  });
});
