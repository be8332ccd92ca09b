import { strict as assert } from 'node:assert';
import { findByResource } from '../../api/resources.js';
import { EmbeddedStorage } from '../storage/embedded.js';
import { Registry } from './index.js';
import { ObjectCache } from './object-cache.js';
import type { Obj } from './object.js';
import type { ObjectWatch, Store, WatchOut } from './store.js';

const ns = (name: string): Obj => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

describe('ObjectCache and Store.lookup (admission reads from memory)', () => {
  let db: EmbeddedStorage;
  let registry: Registry;
  let namespaces: Store;
  beforeEach(() => {
    db = new EmbeddedStorage({ path: ':memory:' });
    registry = new Registry(db, { clock: { now: () => new Date() }, admission: [] });
    namespaces = registry.store(findByResource('', 'v1', 'namespaces')!);
  });
  afterEach(async () => {
    registry.close();
    await db.close();
  });

  it('lookup sees every write of this server at once: create, graceful delete, removal', async () => {
    for (let i = 0; i < 20; i++) {
      const name = `n${i}`;
      assert.equal(await namespaces.lookup('', name), undefined);
      await namespaces.create('', ns(name));
      assert.equal((await namespaces.lookup('', name))?.metadata.name, name);
      // A namespace delete first marks it Terminating (its finalizer stays until the content is gone).
      await namespaces.delete('', name);
      assert.ok((await namespaces.lookup('', name))?.metadata.deletionTimestamp, `n${i} looked up as terminating`);
      await namespaces.update('', name, (cur) => ({ ...cur!, spec: { finalizers: [] } }), { subresource: 'finalize' });
      assert.equal(await namespaces.lookup('', name), undefined);
    }
  });

  it('answers from memory once synced, and not before it has caught up with a given revision', async () => {
    await namespaces.create('', ns('a'));
    let synced!: () => void;
    const ready = new Promise<void>((r) => (synced = r));
    // The source as the store builds it, noticing when the cache has taken the initial-events-end bookmark.
    const source = (): ObjectWatch => {
      const w = namespaces.watch('', { sendInitialEvents: true, allowWatchBookmarks: true });
      async function* seen(): AsyncGenerator<WatchOut> {
        for await (const ev of w) {
          yield ev;
          if (ev.type === 'BOOKMARK') synced();
        }
      }
      const gen = seen();
      return { [Symbol.asyncIterator]: () => gen, close: () => w.close() };
    };
    const cache = new ObjectCache(source);
    try {
      assert.equal(cache.snapshot(0), undefined, 'nothing before the first list');
      await ready;
      assert.deepEqual([...(cache.snapshot(0)?.keys() ?? [])].filter((k) => k === '/a'), ['/a']);
      const b = await namespaces.create('', ns('b'));
      const rev = Number(b.metadata.resourceVersion);
      // Behind the write: no answer (the caller reads storage) until the event is in.
      const early = cache.snapshot(rev);
      assert.ok(early === undefined || early.has('/b'));
      for await (const ev of namespaces.watch('', { resourceVersion: String(rev - 1) })) if (ev.type === 'ADDED') break;
      let snap = cache.snapshot(rev);
      for (let i = 0; !snap && i < 100; i++) {
        await new Promise<void>((r) => setImmediate(r));
        snap = cache.snapshot(rev);
      }
      assert.ok(snap?.has('/b'), 'the cache caught up with its own event');
    } finally {
      cache.close();
    }
  });
});
