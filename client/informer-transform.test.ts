import assert from 'node:assert/strict';
import { hasFastProperties } from '../test/support/v8-shape.js';
import type { Pod } from '../api/index.js';
import { cachedForm, stripManagedFields } from './informer.js';
import { controllerPodForm } from './informer-transform.js';
import type { ObjectLike } from './rest.js';

describe('stripManagedFields (the controllers\' and the scheduler\'s informer transform)', () => {
  // As an object arrives: parsed, with managedFields amid the other metadata fields.
  const parsed = (): ObjectLike =>
    JSON.parse('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","managedFields":[{"manager":"m","operation":"Update"}],"uid":"u","labels":{"a":"b"}}}') as ObjectLike;

  it('drops field ownership and keeps the rest', () => {
    const o = stripManagedFields(parsed());
    assert.deepEqual(o.metadata, { name: 'p', namespace: 'ns', uid: 'u', labels: { a: 'b' } });
  });

  it('leaves the metadata in V8 fast mode (a delete would turn it into a dictionary, per cached object)', () => {
    assert.ok(hasFastProperties(stripManagedFields(parsed()).metadata!));
  });

  it('cachedForm: the same object without field ownership, in fast mode', () => {
    const o = cachedForm(parsed());
    assert.deepEqual(o, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u', labels: { a: 'b' } } });
    assert.ok(hasFastProperties(o.metadata!));
  });
});

describe("controllerPodForm (the controller manager's pods)", () => {
  const pod = (name: string, node: string): Pod =>
    JSON.parse(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'ns', uid: `uid-${name}`, labels: { app: 'a' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid', controller: true }], managedFields: [{ manager: 'm' }] },
        spec: {
          nodeName: node,
          tolerations: [{ key: 'k', operator: 'Exists' }],
          volumes: [{ name: 'token', projected: { sources: [] } }, { name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
          containers: [{ name: 'c', image: 'img', env: [{ name: 'A', value: 'b' }], ports: [{ containerPort: 80 }], resources: { requests: { cpu: '10m' } }, volumeMounts: [{ name: 'data', mountPath: '/d' }] }],
        },
        status: {
          phase: 'Running',
          podIP: '10.0.0.1',
          podIPs: [{ ip: '10.0.0.1' }],
          hostIP: '192.168.0.1',
          hostIPs: [{ ip: '192.168.0.1' }],
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
          containerStatuses: [{ name: 'c', ready: true, restartCount: 2, image: 'img', imageID: 'sha', containerID: `cri://${name}`, started: true, state: { running: { startedAt: '2026-01-01T00:00:00Z' } }, lastState: {} }],
        },
      }),
    ) as Pod;

  it('keeps what controllers read and drops the rest', () => {
    const p = controllerPodForm(pod('p', 'n1'));
    assert.equal(p.metadata.managedFields, undefined);
    assert.deepEqual(p.metadata.labels, { app: 'a' });
    assert.equal(p.spec.nodeName, 'n1');
    assert.deepEqual(p.spec.tolerations, [{ key: 'k', operator: 'Exists' }]);
    assert.deepEqual(p.spec.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]);
    assert.deepEqual(p.spec.containers, [{ name: 'c', image: 'img', resources: { requests: { cpu: '10m' } }, ports: [{ containerPort: 80 }] }]);
    assert.deepEqual(p.status, {
      phase: 'Running',
      podIP: '10.0.0.1',
      podIPs: [{ ip: '10.0.0.1' }],
      hostIP: '192.168.0.1',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
      containerStatuses: [{ name: 'c', ready: true, restartCount: 2, image: 'img', imageID: 'sha', state: { running: { startedAt: '2026-01-01T00:00:00Z' } }, started: true }],
    });
    for (const o of [p.metadata, p.spec, p.status!]) assert.ok(hasFastProperties(o));
  });

  it("shares the parts a workload's pods repeat (frozen) and keeps each pod's own", () => {
    const a = controllerPodForm(pod('a', 'n1'));
    const b = controllerPodForm(pod('b', 'n2'));
    assert.equal(a.metadata.labels, b.metadata.labels);
    assert.equal(a.metadata.ownerReferences, b.metadata.ownerReferences);
    assert.equal(a.spec.containers, b.spec.containers);
    assert.equal(a.status?.conditions, b.status?.conditions);
    assert.ok(Object.isFrozen(a.spec.containers[0]));
    assert.notEqual(a.spec, b.spec);
    assert.deepEqual([a.metadata.uid, b.metadata.uid, a.spec.nodeName, b.spec.nodeName], ['uid-a', 'uid-b', 'n1', 'n2']);
  });
});
