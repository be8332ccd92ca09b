import { strict as assert } from 'node:assert';
import type { Obj } from '../registry/object.js';
import { applyConfig, fieldSet, fieldsV1Of, formatPath, fromFieldsV1, toFieldsV1, trackUpdate } from './managed-fields.js';

const ref = (manager: string) => ({ manager, apiVersion: 'apps/v1', time: '2025-01-01T00:00:00Z' });
const deploy = (replicas: number, image = 'nginx'): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', labels: { app: 'd' } },
  spec: { replicas, template: { spec: { containers: [{ name: 'app', image }] } } },
});

describe('managed fields', () => {
  it('lists leaf fields in FieldsV1 form, with keyed list items', () => {
    const set = fieldSet(deploy(2));
    const v1 = toFieldsV1(set);
    const want = {
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': {
        'f:replicas': {},
        'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } },
      },
    };
    assert.deepEqual(v1, want);
    // Sorted keys at every level, as kube-apiserver serializes FieldsV1.
    assert.equal(JSON.stringify(v1), JSON.stringify(want));
    assert.deepEqual([...fromFieldsV1(v1)].sort(), [...set].sort());
  });

  it('gives changed fields to the updating manager and takes them from others', () => {
    const created = deploy(2);
    trackUpdate(undefined, created, ref('creator'));
    assert.equal(created.metadata.managedFields?.length, 1);
    const next = structuredClone(created);
    (next.spec as { replicas: number }).replicas = 3;
    trackUpdate(created, next, ref('scaler'));
    const byManager = Object.fromEntries((next.metadata.managedFields ?? []).map((m) => [m.manager, JSON.stringify(m.fieldsV1)]));
    assert.ok(byManager.scaler?.includes('f:replicas'));
    assert.ok(!byManager.creator?.includes('f:replicas'));
  });

  it('builds a whole object\'s FieldsV1 in one walk, as the path set gives it', () => {
    const odd: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', uid: 'u', finalizers: ['b', 'a', 'b'], labels: {}, annotations: { z: 'z', a: 'a' } },
      spec: {
        // Items with equal keys merge; an empty keyed list adds nothing, an empty object is a leaf.
        containers: [{ name: 'c', env: {} }, { name: 'c', env: { b: 1 }, ports: [] }, { name: 'a', ports: [{ containerPort: 80 }, { containerPort: 81, protocol: 'UDP' }] }],
        volumes: [1, { name: 'v' }],
        initContainers: [],
        nested: { a: { b: {} }, c: null },
      },
      status: { conditions: [{ type: 'Ready', status: 'True' }], phase: 'Running' },
    };
    for (const obj of [deploy(2), odd, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] } } as Obj]) {
      for (const scope of ['main', 'status'] as const) {
        const set = fieldSet(obj, undefined, scope);
        const got = fieldsV1Of(obj, undefined, scope);
        assert.equal(got === undefined ? undefined : JSON.stringify(got), set.size ? JSON.stringify(toFieldsV1(set)) : undefined, `${scope} of ${JSON.stringify(obj)}`);
        // A built tree is never changed afterwards: its leaves are one frozen object, which says so by refusing.
        for (const tree of [got, set.size ? toFieldsV1(set) : undefined]) for (const leaf of leaves(tree)) assert.ok(Object.isFrozen(leaf));
      }
    }
  });

  it('gives a created object one Update entry owning every field', () => {
    const created = deploy(2);
    trackUpdate(undefined, created, { ...ref('creator'), subresource: 'status' });
    assert.equal(created.metadata.managedFields, undefined, 'a create through status owns no status fields here');
    trackUpdate(undefined, created, ref('creator'));
    assert.equal(
      JSON.stringify(created.metadata.managedFields),
      JSON.stringify([{ manager: 'creator', operation: 'Update', apiVersion: 'apps/v1', time: '2025-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(fieldSet(deploy(2))) }]),
    );
  });

  it('keeps managedFields untouched when nothing changed', () => {
    const a = deploy(2);
    trackUpdate(undefined, a, ref('x'));
    const b = structuredClone(a);
    trackUpdate(a, b, ref('y'));
    assert.deepEqual(b.metadata.managedFields, a.metadata.managedFields);
  });

  it('applies: shares equal values, conflicts on different ones, forces, and drops fields no longer applied', () => {
    const live = applyConfig(undefined, deploy(2), ref('alice'), false);
    const shared = applyConfig(live, deploy(2), ref('bob'), false);
    assert.equal(shared.metadata.managedFields?.length, 2);
    assert.throws(
      () => applyConfig(shared, deploy(3), ref('bob'), false),
      (err: { status?: { code: number; message: string } }) => err.status?.code === 409 && /conflict with "alice" using apps\/v1: \.spec\.replicas/.test(err.status.message),
    );
    const forced = applyConfig(shared, deploy(3), ref('bob'), true);
    assert.equal((forced.spec as { replicas: number }).replicas, 3);
    const alice = (forced.metadata.managedFields ?? []).find((m) => m.manager === 'alice');
    assert.ok(!JSON.stringify(alice?.fieldsV1).includes('f:replicas'));
    const noLabels = deploy(3);
    delete noLabels.metadata.labels;
    const bobOnly = applyConfig(forced, noLabels, ref('bob'), false);
    assert.deepEqual(bobOnly.metadata.labels, { app: 'd' }, 'alice still owns the label');
    const aliceDrops = deploy(3);
    delete aliceDrops.metadata.labels;
    const gone = applyConfig(bobOnly, { ...aliceDrops, spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx' }] } } } }, ref('alice'), false);
    assert.equal(gone.metadata.labels?.app, undefined, 'nobody owns the label any more');
  });

  it('formats paths as kube-apiserver prints them', () => {
    const [p] = [...fieldSet({ metadata: {}, spec: { containers: [{ name: 'a', image: 'x' }] } })].filter((s) => s.endsWith('f:image'));
    assert.equal(formatPath(p ?? ''), '.spec.containers[name="a"].image');
  });
});

/** The leaves ({}) of a FieldsV1 tree. */
function leaves(tree: unknown): object[] {
  if (typeof tree !== 'object' || tree === null) return [];
  const kids = Object.values(tree);
  return kids.length ? kids.flatMap(leaves) : [tree];
}
