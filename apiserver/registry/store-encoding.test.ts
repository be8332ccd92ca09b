import { strict as assert } from 'node:assert';
import { findByResource } from '../../api/resources.js';
import { EmbeddedStorage } from '../storage/embedded.js';
import { trackUpdate } from '../patch/managed-fields.js';
import { Registry } from './index.js';
import type { Obj } from './object.js';
import type { Store } from './store.js';
import { InstrumentedStorage } from '../../test/support/instrumented-storage.js';

const pod = (name: string): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'web' }, annotations: { note: 'ünïcode ✓' } },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
});

const parse = (json: Buffer | string): unknown => JSON.parse(json.toString());

describe('Store encodes each object once (answers reuse the stored bytes)', () => {
  let db: EmbeddedStorage;
  let registry: Registry;
  let pods: Store;
  beforeEach(() => {
    db = new EmbeddedStorage({ path: ':memory:' });
    registry = new Registry(db, { clock: { now: () => new Date() }, admission: [], trackFields: trackUpdate });
    pods = registry.store(findByResource('', 'v1', 'pods')!);
  });
  afterEach(async () => {
    registry.close();
    await db.close();
  });

  it('json() of a create or update result is the object with its resourceVersion', async () => {
    const created = await pods.create('default', pod('a'), { fieldManager: 'test', owned: true });
    assert.ok(created.metadata.resourceVersion);
    assert.deepEqual(parse(pods.json(created)), JSON.parse(JSON.stringify(created)));
    assert.deepEqual(parse(pods.json(created)), await pods.get('default', 'a'));
    const { obj } = await pods.update('default', 'a', (cur) => ({ ...cur!, status: { phase: 'Running' } }), { subresource: 'status', fieldManager: 'agent' });
    assert.equal((obj.status as { phase: string }).phase, 'Running');
    assert.deepEqual(parse(pods.json(obj)), await pods.get('default', 'a'));
  });

  it('kept bytes are buffers of their own size (a slice of the shared 8 KB pool would keep its whole slab alive)', async () => {
    const first = await pods.create('default', pod('first'));
    const w = pods.watch('default', { resourceVersion: first.metadata.resourceVersion! });
    const created = await pods.create('default', pod('kept'));
    const stored = await db.get(pods.key('default', 'kept'));
    assert.equal(stored!.value.byteLength, stored!.value.buffer.byteLength, 'stored bytes');
    for await (const ev of w) {
      if (ev.type !== 'ADDED' || !ev.json) continue;
      const json = ev.json();
      // The change's JSON lies in its watch line, a buffer of exactly the line's size.
      assert.equal(Buffer.from(json.buffer).toString(), `{"type":"ADDED","object":${json.toString()}}\n`, 'a change\'s JSON in the watch cache');
      assert.deepEqual(parse(json), JSON.parse(JSON.stringify(created)));
      break;
    }
    w.close();
  });

  it('getJson splices the resourceVersion into the stored bytes and equals get()', async () => {
    await pods.create('default', pod('b'));
    const viaGet = await pods.get('default', 'b');
    const raw = await pods.getJson('default', 'b');
    assert.ok(Buffer.isBuffer(raw), 'bytes in the store form are spliced, not re-serialized');
    assert.deepEqual(parse(raw), viaGet);
    await assert.rejects(pods.getJson('default', 'missing'), /not found/);
  });

  it('getJson decodes bytes stored in another layout (older writes)', async () => {
    const key = pods.key('default', 'old');
    // Key order of an older encoding, and a stale resourceVersion that must not win over the revision.
    await db.create(key, Buffer.from(JSON.stringify({ metadata: { name: 'old', namespace: 'default', resourceVersion: '1' }, spec: { containers: [] }, kind: 'Pod', apiVersion: 'v1' })));
    const viaGet = await pods.get('default', 'old');
    const raw = await pods.getJson('default', 'old');
    assert.equal(typeof raw, 'string');
    assert.deepEqual(parse(raw), viaGet);
    assert.notEqual(viaGet.metadata.resourceVersion, '1');
  });

  it('an owned create input is used in place; a borrowed one is left as it was', async () => {
    const borrowed = pod('c');
    const before = structuredClone(borrowed);
    await pods.create('default', borrowed);
    assert.deepEqual(borrowed, before);
    const generated: Obj = { ...pod(''), metadata: { generateName: 'g-' } };
    const out = await pods.create('default', generated, { owned: true });
    assert.match(out.metadata.name ?? '', /^g-/);
    assert.equal(generated.metadata.name, undefined, 'a generated name is retried from the input as it came');
  });

  it('status and binding writes leave the previous object (shared with watchers) untouched', async () => {
    const created = await pods.create('default', pod('d'), { fieldManager: 'test' });
    const snapshot = structuredClone(created);
    const bound = await pods.update(
      'default',
      'd',
      (cur) => ({ ...cur!, spec: { ...(cur!.spec as object), nodeName: 'n1' } }),
      { subresource: 'binding', currentReadOnly: true },
    );
    assert.equal((bound.obj.spec as { nodeName: string }).nodeName, 'n1');
    const status = await pods.update('default', 'd', () => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'd' }, status: { phase: 'Running' } }), {
      subresource: 'status',
      fieldManager: 'agent',
      currentReadOnly: true,
    });
    assert.equal((status.obj.spec as { nodeName: string }).nodeName, 'n1');
    assert.deepEqual(created, snapshot);
    assert.deepEqual(parse(pods.json(status.obj)), await pods.get('default', 'd'));
    // The same status again changes nothing and writes nothing.
    const again = await pods.update('default', 'd', () => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'd' }, status: { phase: 'Running' } }), {
      subresource: 'status',
      fieldManager: 'agent',
      currentReadOnly: true,
    });
    assert.equal(again.obj.metadata.resourceVersion, status.obj.metadata.resourceVersion);
  });

  it('listJson() is the list that list() gives, item for item, with and without selectors, paged, and for other layouts', async () => {
    for (const name of ['a', 'b', 'c', 'd']) await pods.create('default', { ...pod(name), metadata: { ...pod(name).metadata, labels: { app: name < 'c' ? 'web' : 'db' } } }, { fieldManager: 'test', owned: true });
    // Bytes in another layout (a resourceVersion stored inside) take the decode path.
    await db.create('/registry/core/pods/default/e', Buffer.from(JSON.stringify({ ...pod('e'), metadata: { ...pod('e').metadata, namespace: 'default', resourceVersion: '1' } })));
    const asList = async (p: Parameters<Store['list']>[1]) => {
      const out = await pods.list('default', p);
      return { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: out.resourceVersion, ...(out.continue ? { continue: out.continue } : {}), ...(out.remainingItemCount !== undefined ? { remainingItemCount: out.remainingItemCount } : {}) }, items: out.items };
    };
    for (const p of [{}, { labelSelector: 'app=web' }, { fieldSelector: 'metadata.name=d' }, { limit: 2 }]) {
      const json = await pods.listJson('default', p, 'PodList');
      assert.deepEqual(parse(json), JSON.parse(JSON.stringify(await asList(p))), JSON.stringify(p));
    }
    const first = parse(await pods.listJson('default', { limit: 2 }, 'PodList')) as { metadata: { continue: string; remainingItemCount: number }; items: Obj[] };
    assert.deepEqual(first.items.map((o) => o.metadata.name), ['a', 'b']);
    assert.equal(first.metadata.remainingItemCount, 3);
    const rest = parse(await pods.listJson('default', { continue: first.metadata.continue }, 'PodList')) as { items: Obj[] };
    assert.deepEqual(rest.items.map((o) => [o.metadata.name, o.metadata.resourceVersion !== undefined]), [['c', true], ['d', true], ['e', true]]);
  });

  it('resourceVersion=0 lists and gets are answered from the in-memory cache, without reading storage', async () => {
    const counted = new InstrumentedStorage(db);
    const reg = new Registry(counted.storage, { clock: { now: () => new Date() }, admission: [], trackFields: trackUpdate });
    const store = reg.store(findByResource('', 'v1', 'pods')!);
    try {
      const labelled = (name: string, app: string, ns = 'default'): Obj => ({ ...pod(name), metadata: { ...pod(name).metadata, namespace: ns, labels: { app } } });
      await store.create('default', labelled('a', 'web'), { fieldManager: 'test', owned: true });
      await store.create('default', labelled('b', 'db'), { fieldManager: 'test', owned: true });
      await store.create('other', labelled('c', 'web', 'other'), { fieldManager: 'test', owned: true });
      await store.list('default', { resourceVersion: '0' });
      // The cache follows later writes.
      const d = await store.create('default', labelled('d', 'web'), { fieldManager: 'test', owned: true });
      const deadline = Date.now() + 5000;
      let names: string[] = [];
      while (!names.includes('d') && Date.now() < deadline) {
        names = (await store.list('default', { resourceVersion: '0' })).items.map((o) => o.metadata.name ?? '');
        await new Promise((r) => setImmediate(r));
      }
      assert.deepEqual(names, ['a', 'b', 'd']);
      counted.reads = { get: 0, list: 0 };
      const web = await store.list('default', { resourceVersion: '0', labelSelector: 'app=web', limit: 1 });
      assert.deepEqual(web.items.map((o) => o.metadata.name), ['a', 'd'], 'selector applied; limit not applied to a cached list');
      assert.ok(Number(web.resourceVersion) >= Number(d.metadata.resourceVersion));
      assert.deepEqual((await store.list('', { resourceVersion: '0' })).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`), ['default/a', 'default/b', 'default/d', 'other/c']);
      assert.deepEqual(parse(await store.listJson('other', { resourceVersion: '0' }, 'PodList')), JSON.parse(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: (await store.list('other', { resourceVersion: '0' })).resourceVersion }, items: [await store.getRecent('other', 'c')] })));
      assert.deepEqual(await store.getRecent('default', 'a'), (await store.list('default', { resourceVersion: '0', fieldSelector: 'metadata.name=a' })).items[0]);
      await assert.rejects(store.getRecent('default', 'zz'), (err: unknown) => (err as { code?: number }).code === 404);
      assert.deepEqual(counted.reads, { get: 0, list: 0 }, 'no storage read');
      // Without resourceVersion=0 the same reads go to storage.
      await store.list('default', {});
      await store.get('default', 'a');
      assert.deepEqual(counted.reads, { get: 1, list: 1 });
    } finally {
      reg.close();
    }
  });
});
