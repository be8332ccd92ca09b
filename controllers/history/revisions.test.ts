import assert from 'node:assert/strict';
import type { ControllerRevision, PodTemplateSpec } from '../framework/types.js';
import * as h from './revisions.js';

const template: PodTemplateSpec = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };

function cr(name: string, revision: number, image = 'nginx:1', created = '2026-01-01T00:00:00Z'): ControllerRevision {
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: { name, namespace: 'ns', creationTimestamp: created },
    data: h.templatePatch({ ...template, spec: { containers: [{ name: 'c', image }] } }),
    revision,
  };
}

describe('controller revisions', () => {
  it('stores a template as the patch kubectl rollout undo applies, and reads it back', () => {
    const patch = h.templatePatch(template);
    assert.deepEqual(patch, { spec: { template: { ...template, $patch: 'replace' } } });
    assert.deepEqual(h.templateOfRevision({ data: patch }), template);
    assert.equal(h.templateOfRevision({ data: { spec: {} } }), undefined);
    assert.equal(h.templateOfRevision({}), undefined);
  });

  it('names revisions parent-hash, the parent cut to 223 characters', () => {
    assert.equal(h.revisionName('web', 'abc'), 'web-abc');
    assert.equal(h.revisionName('x'.repeat(300), 'abc'), `${'x'.repeat(223)}-abc`);
  });

  it('hashes the data and the collision count into the name and the hash label', () => {
    const parent = { metadata: { name: 'web', namespace: 'ns', uid: 'u1' } };
    const a = h.newRevision(parent, { apiVersion: 'apps/v1', kind: 'StatefulSet' }, template.metadata?.labels, h.templatePatch(template), 1, 0);
    const b = h.newRevision(parent, { apiVersion: 'apps/v1', kind: 'StatefulSet' }, template.metadata?.labels, h.templatePatch(template), 1, 1);
    assert.notEqual(a.metadata.name, b.metadata.name);
    assert.equal(a.metadata.name, `web-${a.metadata.labels?.[h.REVISION_HASH_LABEL]}`);
    assert.equal(a.metadata.labels?.app, 'web');
    assert.equal(a.metadata.ownerReferences?.[0]?.uid, 'u1');
    assert.equal(a.metadata.ownerReferences?.[0]?.controller, true);
  });

  it('sorts by revision, then age, then name; finds equal ones; numbers the next', () => {
    const list = [cr('c', 2), cr('b', 1, 'nginx:2', '2026-01-02T00:00:00Z'), cr('a', 1, 'nginx:2', '2026-01-02T00:00:00Z'), cr('z', 1, 'nginx:1', '2026-01-01T00:00:00Z')];
    const sorted = h.sortRevisions(list);
    assert.deepEqual(sorted.map((x) => x.metadata.name), ['z', 'a', 'b', 'c']);
    assert.deepEqual(h.findEqualRevisions(sorted, cr('new', 9, 'nginx:2')).map((x) => x.metadata.name), ['a', 'b']);
    assert.equal(h.nextRevision(sorted), 3);
    assert.equal(h.nextRevision([]), 1);
    assert.equal(h.maxRevision(list), 2);
    assert.ok(h.equalRevision(cr('x', 1), cr('y', 5)));
    assert.ok(!h.equalRevision(cr('x', 1), cr('y', 1, 'nginx:3')));
  });
});
