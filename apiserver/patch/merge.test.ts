import { strict as assert } from 'node:assert';
import { mergePatch, strategicMergePatch } from './merge.js';

describe('mergePatch (RFC 7386)', () => {
  it('merges objects, deletes on null and replaces arrays', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { b: { c: null, e: 4 }, l: [3] }), { a: 1, b: { d: 3, e: 4 }, l: [3] });
    assert.deepEqual(mergePatch({ a: 1 }, 'x'), 'x');
  });
});

describe('strategicMergePatch', () => {
  const pod = {
    metadata: { finalizers: ['a'], labels: { x: '1' } },
    spec: {
      containers: [
        { name: 'app', image: 'app:1', ports: [{ containerPort: 80 }, { containerPort: 81 }], env: [{ name: 'A', value: '1' }] },
        { name: 'side', image: 'side:1' },
      ],
      volumes: [{ name: 'v1', emptyDir: {} }],
      tolerations: [{ key: 't1' }],
      args: ['a', 'b'],
    },
  };

  it('merges lists of objects by their merge key', () => {
    const out = strategicMergePatch(pod, { spec: { containers: [{ name: 'app', image: 'app:2', ports: [{ containerPort: 81, name: 'x' }] }] } }) as typeof pod;
    assert.equal(out.spec.containers.length, 2);
    assert.equal(out.spec.containers[0]?.image, 'app:2');
    assert.deepEqual(out.spec.containers[0]?.ports, [{ containerPort: 80 }, { containerPort: 81, name: 'x' }]);
    assert.equal(out.spec.containers[1]?.image, 'side:1');
  });

  it('replaces atomic lists and unions set lists', () => {
    const out = strategicMergePatch(pod, { metadata: { finalizers: ['b'] }, spec: { tolerations: [{ key: 't2' }], args: ['c'] } }) as typeof pod;
    assert.deepEqual(out.spec.tolerations, [{ key: 't2' }]);
    assert.deepEqual(out.spec.args, ['c']);
    assert.deepEqual(out.metadata.finalizers, ['a', 'b']);
  });

  it('honours $patch delete/replace, $retainKeys, $deleteFromPrimitiveList and $setElementOrder', () => {
    const out = strategicMergePatch(pod, {
      metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], labels: { $patch: 'replace', y: '2' } },
      spec: {
        containers: [{ name: 'side', $patch: 'delete' }, { name: 'new', image: 'n' }],
        '$setElementOrder/containers': [{ name: 'new' }, { name: 'app' }],
        volumes: [{ name: 'v1', hostPath: { path: '/x' }, $retainKeys: ['name', 'hostPath'] }],
      },
    }) as typeof pod & { spec: { volumes: unknown[] } };
    assert.deepEqual(out.metadata.finalizers, []);
    assert.deepEqual(out.metadata.labels, { y: '2' });
    assert.deepEqual(out.spec.containers.map((c) => c.name), ['new', 'app']);
    assert.deepEqual(out.spec.volumes, [{ name: 'v1', hostPath: { path: '/x' } }]);
  });

  it('replaces a whole merge list with a $patch: replace item, and deletes keys set to null', () => {
    const out = strategicMergePatch(pod, { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'o' }], args: null } }) as typeof pod;
    assert.deepEqual(out.spec.containers, [{ name: 'only', image: 'o' }]);
    assert.equal(out.spec.args, undefined);
  });

  it('rejects list items without the merge key and unknown directives', () => {
    assert.throws(() => strategicMergePatch(pod, { spec: { containers: [{ image: 'x' }] } }), /merge key: name/);
    assert.throws(() => strategicMergePatch(pod, { spec: { $bogus: 1 } }), /unknown directive/);
    assert.throws(() => strategicMergePatch(pod, [1]), /must be a JSON object/);
  });

  it('does not modify its inputs', () => {
    const before = JSON.stringify(pod);
    strategicMergePatch(pod, { spec: { containers: [{ name: 'app', image: 'z' }] } });
    assert.equal(JSON.stringify(pod), before);
  });
});
