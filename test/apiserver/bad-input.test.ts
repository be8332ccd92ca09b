// Bad input with a precise answer: wrong verbs (405), unacceptable media types (406), list options kube-apiserver
// refuses (422) or cannot serve yet (504 ResourceVersionTooLarge), DeleteOptions of the wrong types (400), bodies
// nested too deep (400, checked before any recursive step or the YAML parser sees them), objects whose shape would
// trip a strategy (422 from validation, never a 500), and long bad values cut short in messages.
import { strict as assert } from 'node:assert';
import { podManifest, startHarness, type Harness } from './harness.js';

type J = Record<string, unknown>;
const CM = '/api/v1/namespaces/default/configmaps';
const PODS = '/api/v1/namespaces/default/pods';
const cm = (name: string): J => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' } });
const causes = (o: unknown): { reason: string; field: string }[] => ((o as J).details as { causes?: { reason: string; field: string }[] } | undefined)?.causes ?? [];

describe('bad input', function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    assert.equal((await h.call('POST', CM, { body: cm('there') })).status, 201);
  });
  after(async () => {
    await h.stop();
  });

  it('answers 405 to a create on an object and a change to a collection, creating nothing', async () => {
    const post = await h.call('POST', `${CM}/there`, { body: cm('other') });
    assert.equal(post.status, 405, post.text);
    assert.equal(post.json.reason, 'MethodNotAllowed');
    assert.equal((await h.call('GET', `${CM}/other`)).status, 404);
    assert.equal((await h.call('PUT', CM, { body: cm('x') })).status, 405);
    assert.equal((await h.call('PATCH', CM, { body: {}, contentType: 'application/merge-patch+json' })).status, 405);
  });

  it('answers 406 when the client accepts nothing it can be sent, and JSON to JSON, YAML and wildcards', async () => {
    for (const accept of ['application/xml', 'application/vnd.kubernetes.protobuf', 'text/html, image/png']) {
      const r = await h.call('GET', `${CM}/there`, { accept });
      assert.equal(r.status, 406, accept);
      assert.equal(r.json.reason, 'NotAcceptable');
    }
    for (const accept of ['application/json', 'application/yaml', '*/*', 'application/*', 'application/vnd.kubernetes.protobuf, application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io']) {
      assert.equal((await h.call('GET', `${CM}/there`, { accept })).status, 200, accept);
    }
  });

  it('refuses resourceVersionMatch where kube-apiserver does, and says a future version is too large', async () => {
    const current = Number(((await h.call('GET', CM)).json.metadata as J).resourceVersion);
    const bad = ['resourceVersionMatch=NotOlderThan', 'resourceVersionMatch=Exact&resourceVersion=0', 'resourceVersionMatch=Sometimes&resourceVersion=1'];
    for (const q of bad) {
      const r = await h.call('GET', `${CM}?${q}`);
      assert.equal(r.status, 422, `${q}: ${r.text}`);
      assert.deepEqual(causes(r.json).map((c) => c.field), ['resourceVersionMatch']);
    }
    for (const q of [`resourceVersionMatch=Exact&resourceVersion=${current + 1000}`, `resourceVersionMatch=NotOlderThan&resourceVersion=${current + 1000}`, `resourceVersion=${current + 1000}&limit=5`]) {
      const r = await h.call('GET', `${CM}?${q}`);
      assert.equal(r.status, 504, `${q}: ${r.text}`);
      assert.deepEqual(causes(r.json).map((c) => c.reason), ['ResourceVersionTooLarge']);
    }
    const exact = await h.call('GET', `${CM}?resourceVersionMatch=Exact&resourceVersion=${current}`);
    assert.equal(exact.status, 200, exact.text);
    assert.equal((exact.json.metadata as J).resourceVersion, String(current));
  });

  it('answers 400 to DeleteOptions of the wrong types, and deletes nothing', async () => {
    for (const body of [{ gracePeriodSeconds: 'x' }, { preconditions: 5 }, { propagationPolicy: 3 }, { orphanDependents: 'yes' }, { dryRun: ['Some'] }, [1]]) {
      const r = await h.call('DELETE', `${CM}/there`, { body });
      assert.equal(r.status, 400, JSON.stringify(body));
    }
    assert.equal((await h.call('GET', `${CM}/there`)).status, 200);
  });

  it('answers 400 to bodies nested deeper than 100 levels, as JSON, YAML or patch, and takes 100', async () => {
    const deep = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    const json = await h.call('POST', CM, { raw: `{"metadata":{"name":"deep"},"data":${deep(100)}}`, contentType: 'application/json' });
    assert.equal(json.status, 400, json.text);
    assert.match(String(json.json.message), /deeper than 100 levels/);
    // The YAML parser itself would overflow its stack on these (and a few overflows abort the process).
    for (let i = 0; i < 5; i++) {
      for (const yaml of ['['.repeat(50_000), `a: ${'['.repeat(2000)}`, `${'- '.repeat(3000)}x`, Array.from({ length: 500 }, (_, d) => `${' '.repeat(d)}k${d}:`).join('\n')]) {
        const r = await h.call('POST', CM, { raw: yaml, contentType: 'application/yaml' });
        assert.equal(r.status, 400, r.text.slice(0, 200));
      }
    }
    const patch = await h.call('PATCH', `${CM}/there`, { raw: `{"data":${deep(200)}}`, contentType: 'application/merge-patch+json' });
    assert.equal(patch.status, 400);
    const apply = await h.call('PATCH', `${CM}/there?fieldManager=t`, { raw: `data: ${'['.repeat(150)}${']'.repeat(150)}`, contentType: 'application/apply-patch+yaml' });
    assert.equal(apply.status, 400);
    // 100 levels are accepted by the parser (validation then says what is wrong with the value).
    const ok = await h.call('POST', CM, { raw: `{"metadata":{"name":"deep99"},"data":{"a":${'['.repeat(98)}${']'.repeat(98)}}}`, contentType: 'application/json' });
    assert.equal(ok.status, 422, ok.text);
    assert.equal((await h.call('GET', '/healthz')).status, 200);
  });

  it('answers 422, not 500, to objects of a shape the kind strategy cannot read', async () => {
    for (const spec of [undefined, 'x', [], { containers: 'x' }, { containers: [1] }, { containers: [{ name: 'c', image: 'i', resources: 'x' }] }]) {
      const body: J = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'shape' } };
      if (spec !== undefined) body.spec = spec;
      const r = await h.call('POST', PODS, { body });
      assert.equal(r.status, 422, `${JSON.stringify(spec)}: ${r.text.slice(0, 300)}`);
    }
    const svc = await h.call('POST', '/api/v1/namespaces/default/services', { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: 'x' } } });
    assert.equal(svc.status, 422, svc.text.slice(0, 300));
    const created = await h.call('POST', PODS, { body: podManifest('typed') });
    assert.equal(created.status, 201);
    const put = await h.call('PUT', `${PODS}/typed`, { body: { ...created.json, spec: 'x' } });
    assert.equal(put.status, 422, put.text.slice(0, 300));
  });

  it('cuts long bad values short in error messages', async () => {
    const name = 'x'.repeat(200_000);
    const r = await h.call('POST', CM, { body: cm(name) });
    assert.equal(r.status, 422);
    assert.ok(r.text.length < 20_000, `a ${r.text.length}-byte answer for a ${name.length}-character name`);
    assert.match(String(r.json.message), /200000 characters, truncated/);
    const label = await h.call('POST', CM, { body: { ...cm('labelled'), metadata: { name: 'labelled', labels: { a: 'y'.repeat(100_000) } } } });
    assert.equal(label.status, 422);
    assert.ok(label.text.length < 20_000);
  });
});
