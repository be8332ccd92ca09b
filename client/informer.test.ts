import assert from 'node:assert/strict';
import { Indexer } from './informer.js';
import type { ObjectLike } from './rest.js';

type Thing = ObjectLike & { metadata: { name: string; namespace: string; labels?: Record<string, string> } };
const thing = (name: string, labels?: Record<string, string>): Thing => ({ metadata: { name, namespace: 'ns', ...(labels ? { labels } : {}) } });

describe('Indexer', () => {
  const byLabel = (t: Thing): string[] => Object.entries(t.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`);

  it('moves an object between index values when an update changes them', () => {
    const ix = new Indexer<Thing>();
    ix.addIndexer('label', byLabel);
    ix.set(thing('a', { app: 'x' }));
    ix.set(thing('a', { app: 'y' }));
    assert.deepEqual(ix.byIndex('label', 'app=x'), []);
    assert.equal(ix.countByIndex('label', 'app=x'), 0);
    assert.deepEqual(ix.byIndex('label', 'app=y').map((t) => t.metadata.name), ['a']);
    assert.equal(ix.countByIndex('label', 'app=y'), 1);
    assert.equal(ix.countByIndex('namespace', 'ns'), 1);
    assert.equal(ix.countByIndex('nothing', 'ns'), 0);
  });

  it('leaves an index alone when its check says an update keeps its values, and reindexes when it does not', () => {
    const ix = new Indexer<Thing>();
    let calls = 0;
    ix.addIndexer(
      'label',
      (t) => {
        calls++;
        return byLabel(t);
      },
      (a, b) => a.metadata.labels === b.metadata.labels,
    );
    const labels = { app: 'x' };
    ix.set(thing('a', labels));
    ix.set(thing('b', labels));
    assert.equal(calls, 2);
    // The same labels object on both sides: no call, the object stays under its value.
    ix.set(thing('a', labels));
    assert.equal(calls, 2);
    assert.deepEqual(ix.byIndex('label', 'app=x').map((t) => t.metadata.name).sort(), ['a', 'b']);
    // Other labels: the old state's values are dropped and the new ones added.
    ix.set(thing('a', { app: 'z' }));
    assert.equal(calls, 4);
    assert.deepEqual(ix.byIndex('label', 'app=x').map((t) => t.metadata.name), ['b']);
    assert.deepEqual(ix.byIndex('label', 'app=z').map((t) => t.metadata.name), ['a']);
    ix.delete('ns/a');
    assert.equal(ix.countByIndex('label', 'app=z'), 0);
    assert.equal(ix.countByIndex('namespace', 'ns'), 1);
  });

  it('indexes what it held before an index was added, with the check applying from then on', () => {
    const ix = new Indexer<Thing>();
    const labels = { tier: 'web' };
    ix.set(thing('a', labels));
    ix.addIndexer('label', byLabel, (a, b) => a.metadata.labels === b.metadata.labels);
    assert.equal(ix.countByIndex('label', 'tier=web'), 1);
    ix.set(thing('a', labels));
    assert.equal(ix.countByIndex('label', 'tier=web'), 1);
  });
});
