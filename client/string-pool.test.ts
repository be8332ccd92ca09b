import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { StringPool, StructurePool } from './string-pool.js';

describe('StringPool (one copy of the strings cached objects repeat)', () => {
  it('keeps the value of every string in nested objects and arrays, and nothing else changes', () => {
    const pool = new StringPool();
    const json = '{"a":"x","b":["y",{"c":"z","n":1,"t":true,"u":null}],"d":{"e":[["w"]]}}';
    const o = pool.share(JSON.parse(json) as unknown);
    assert.equal(JSON.stringify(o), json);
    assert.equal(pool.share(5), 5);
    assert.equal(pool.share(null), null);
  });

  it('holds one copy of a repeated value: 20,000 parsed objects take a fraction of the memory', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const json = JSON.stringify({ image: 'registry.example/some/long/image/name:v1.2.3-'.padEnd(100, 'x'), ts: '2026-12-05T13:22:20Z'.padEnd(60, '.') });
    // The heap also holds whatever the rest of the suite is doing between the two gc() calls: enough objects that
    // their share dwarfs it, and the least of three measurements of each.
    const heldBytes = (pool?: StringPool): number => {
      gc();
      const before = process.memoryUsage().heapUsed;
      const kept = Array.from({ length: 20_000 }, () => (pool ? pool.share(JSON.parse(json) as unknown) : (JSON.parse(json) as unknown)));
      gc();
      const bytes = process.memoryUsage().heapUsed - before;
      assert.equal(kept.length, 20_000);
      return bytes;
    };
    const least = (measure: () => number): number => Math.min(measure(), measure(), measure());
    const plain = least(() => heldBytes());
    const shared = least(() => heldBytes(new StringPool()));
    assert.ok(shared < plain * 0.6, `${shared} bytes shared against ${plain} plain`);
  });

  it("does not pool an object's own values: uid, resourceVersion, its metadata's name, a pod's IP, container ids", () => {
    const pool = new StringPool();
    const pod = (i: number): unknown => ({
      metadata: { name: `web-${i}`, namespace: 'default', uid: `uid-${i}`, resourceVersion: `${100 + i}`, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f', uid: 'rs-uid' }] },
      spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'nginx' }] },
      status: { podIP: `10.0.0.${i}`, containerStatuses: [{ name: 'c', containerID: `fake://${i}` }] },
    });
    for (let i = 0; i < 50; i++) {
      const p = pool.share(pod(i));
      assert.deepEqual(p, pod(i), 'the values as they were');
    }
    // Pooled: default, ReplicaSet, web-7d9f (an owner's name: its object has no resourceVersion), node-1, c, nginx.
    assert.equal(pool.size, 6);
  });

  it('leaves long strings out and starts over once full, still answering with an equal string', () => {
    const pool = new StringPool();
    const long = 'x'.repeat(200);
    assert.equal(pool.get(long), long);
    for (let i = 0; i < 100_001; i++) assert.equal(pool.get(`s${i}`), `s${i}`);
  });
});

describe('StructurePool (one copy of the small structures cached pods repeat)', () => {
  it('answers equal structures with one frozen object, and leaves large ones and non-objects as they are', () => {
    const pool = new StructurePool();
    const a = pool.get({ app: 'web', tier: 'x', nested: { k: ['v'] } });
    const b = pool.get({ app: 'web', tier: 'x', nested: { k: ['v'] } });
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.nested) && Object.isFrozen(a.nested.k));
    assert.throws(() => {
      (a as { app: string }).app = 'changed';
    }, TypeError);
    assert.notEqual(pool.get({ app: 'web', tier: 'y', nested: { k: ['v'] } }), a);
    const large = { s: 'x'.repeat(600) };
    assert.equal(pool.get(large), large);
    assert.ok(!Object.isFrozen(large));
    assert.equal(pool.get(undefined), undefined);
    assert.equal(pool.get('s'), 's');
  });

  it('pools the elements of an array, then the array', () => {
    const pool = new StructurePool();
    const one = pool.elements([{ type: 'Ready', status: 'True' }, { type: 'PodScheduled', status: 'True' }])!;
    const two = pool.elements([{ type: 'Ready', status: 'True' }, { type: 'Initialized', status: 'True' }])!;
    assert.notEqual(one, two);
    assert.equal(one[0], two[0]);
    assert.equal(pool.elements([{ type: 'Ready', status: 'True' }, { type: 'PodScheduled', status: 'True' }]), one);
  });
});
