import assert from 'node:assert/strict';
import { createdMeta } from './created-meta.js';

describe('createdMeta', () => {
  const fromParse = (text: string): { name: string; uid: string; resourceVersion: string } => {
    const m = (JSON.parse(text) as { metadata?: Record<string, string> }).metadata ?? {};
    return { name: m.name ?? '', uid: m.uid ?? '', resourceVersion: m.resourceVersion ?? '' };
  };

  it('reads name, uid and resourceVersion as JSON.parse does, whatever the order and spacing', () => {
    const pod = {
      kind: 'Pod',
      apiVersion: 'v1',
      status: { message: 'a "quoted" {brace} [bracket], \\ and a comma' },
      metadata: {
        generateName: 'j-0-',
        labels: { 'a"b': '}{', name: 'not-this' },
        managedFields: [{ manager: 'x', fieldsV1: { 'f:metadata': { 'f:name': {} } } }],
        name: 'j-0-abcde',
        annotations: { uid: 'not-this-either' },
        uid: '1f2e-\u00e9\u4e2d',
        creationTimestamp: null,
        deletionGracePeriodSeconds: 30,
        finalizers: ['batch.kubernetes.io/job-tracking'],
        resourceVersion: '42',
      },
      spec: { containers: [{ name: 'c', args: ['"metadata":{"name":"evil"}'] }] },
    };
    for (const text of [JSON.stringify(pod), JSON.stringify(pod, null, 2), JSON.stringify({ metadata: pod.metadata, kind: 'Pod' })]) {
      assert.deepEqual(createdMeta(text), { name: 'j-0-abcde', uid: '1f2e-\u00e9\u4e2d', resourceVersion: '42' });
      assert.deepEqual(createdMeta(text), fromParse(text));
    }
  });

  it('decodes escaped keys and values', () => {
    const text = '{"kind":"Pod","meta\\u0064ata":{"n\\u0061me":"a\\"b\\\\c","uid":"u","resourceVersion":"7"}}';
    assert.deepEqual(createdMeta(text), { name: 'a"b\\c', uid: 'u', resourceVersion: '7' });
    assert.deepEqual(createdMeta(text), fromParse(text));
  });

  it('leaves out what metadata lacks, and falls back to a whole decode for text it cannot walk', () => {
    assert.deepEqual(createdMeta('{"kind":"Pod","metadata":{"name":"p"}}'), { name: 'p', uid: '', resourceVersion: '' });
    assert.deepEqual(createdMeta('{"kind":"Pod"}'), { name: '', uid: '', resourceVersion: '' });
    assert.deepEqual(createdMeta('{"kind":"Pod","metadata":{}}'), { name: '', uid: '', resourceVersion: '' });
    assert.deepEqual(createdMeta(' { "metadata" : { "name" : "p" , "uid" : "u" , "resourceVersion" : "1" } } '), { name: 'p', uid: 'u', resourceVersion: '1' });
    assert.throws(() => createdMeta('{"kind":"Pod","metadata":{"name":"p",'), SyntaxError);
    assert.throws(() => createdMeta('not json'), SyntaxError);
  });
});
