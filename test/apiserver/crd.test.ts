// CustomResourceDefinitions against a real API server and the real kubectl: served at once, validated, defaulted and
// pruned as kube does, CEL rules (and transition rules), printer columns, explain, scale, categories, deletion.
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { startHarness, type Harness } from './harness.js';
import { kubectl } from '../support/kubectl.js';
import { waitFor } from '../support/util.js';
import { established, widgetCrd } from '../support/crds.js';

const widget = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({ apiVersion: 'example.ketch.dev/v1', kind: 'Widget', metadata: { name }, spec });


describe('CustomResourceDefinitions', function () {
  this.timeout(60_000);
  let h: Harness;
  let kc: string;
  const base = '/apis/example.ketch.dev/v1/namespaces/default/widgets';

  before(async () => {
    h = await startHarness();
    kc = h.api.adminKubeconfigPath;
    const r = await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: widgetCrd() });
    assert.equal(r.status, 201, r.text);
    // Served within a second of creation, with no restart.
    await established(h, 'widgets.example.ketch.dev');
  });
  after(async () => h.stop());

  it('reports NamesAccepted and Established, the cleanup finalizer and the stored version', async () => {
    const r = await h.call('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.ketch.dev');
    const status = r.json.status as { conditions: { type: string; status: string; reason: string }[]; acceptedNames: { kind: string; listKind: string }; storedVersions: string[] };
    assert.deepEqual(status.conditions.map((c) => [c.type, c.status, c.reason]), [
      ['NamesAccepted', 'True', 'NoConflicts'],
      ['Established', 'True', 'InitialNamesAccepted'],
    ]);
    assert.equal(status.acceptedNames.listKind, 'WidgetList');
    assert.deepEqual(status.storedVersions, ['v1']);
    assert.deepEqual((r.json.metadata as { finalizers: string[] }).finalizers, ['customresourcecleanup.apiextensions.k8s.io']);
  });

  it('lists the resource in legacy and aggregated discovery', async () => {
    const legacy = await h.call('GET', '/apis/example.ketch.dev/v1');
    const res = (legacy.json.resources as { name: string; shortNames?: string[]; categories?: string[] }[]).map((r) => r.name);
    assert.deepEqual(res, ['widgets', 'widgets/status', 'widgets/scale']);
    const agg = await h.call('GET', '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' });
    const group = (agg.json.items as { metadata: { name: string }; versions: { version: string; resources: { resource: string; categories?: string[] }[] }[] }[]).find((g) => g.metadata.name === 'example.ketch.dev');
    assert.equal(group?.versions[0]?.resources[0]?.resource, 'widgets');
    assert.deepEqual(group?.versions[0]?.resources[0]?.categories, ['all']);
  });

  it('defaults, prunes unknown fields and tracks generation', async () => {
    const r = await h.call('POST', base, { body: widget('defaults', { color: 'red', bogus: 1, extra: { anything: { goes: true } }, note: null, code: null }) });
    assert.equal(r.status, 201, r.text);
    const spec = r.json.spec as Record<string, unknown>;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.maxReplicas, 10);
    assert.equal(spec.bogus, undefined);
    assert.deepEqual(spec.extra, { anything: { goes: true } });
    // A null is kept where the schema says nullable, dropped elsewhere.
    assert.equal(spec.note, null);
    assert.ok(!('code' in spec));
    assert.match(String(r.headers.warning), /unknown field \\"spec.bogus\\"/);
    assert.equal((r.json.metadata as { generation: number }).generation, 1);
    const strict = await h.call('POST', `${base}?fieldValidation=Strict`, { body: widget('strict', { color: 'red', bogus: 1 }) });
    assert.equal(strict.status, 400);
    assert.match(String(strict.json.message), /strict decoding error: unknown field "spec.bogus"/);
  });

  it('refuses invalid objects with kube messages', async () => {
    const r = await h.call('POST', base, { body: widget('bad', { color: 'pink', replicas: 'three', code: 'ABC', port: true, created: 'yesterday', tags: ['a', 'a'] }) });
    assert.equal(r.status, 422, r.text);
    const msg = String(r.json.message);
    assert.match(msg, /^Widget.example.ketch.dev "bad" is invalid: /);
    assert.ok(msg.includes('spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'), msg);
    assert.ok(msg.includes('spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'), msg);
    assert.ok(msg.includes('spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"'), msg);
    assert.ok(msg.includes(`spec.code: Invalid value: "ABC": spec.code in body should match '^[a-z]+$'`), msg);
    assert.ok(msg.includes('spec.created: Invalid value: "yesterday": spec.created in body must be of type date-time: "yesterday"'), msg);
    assert.ok(msg.includes('spec.tags[1]: Duplicate value: "a"'), msg);
    const missing = await h.call('POST', base, { body: widget('missing', { replicas: 1 }) });
    assert.ok(String(missing.json.message).includes('spec.color: Required value'), missing.text);
  });

  it('runs CEL rules, and transition rules on update only', async () => {
    const bad = await h.call('POST', base, { body: widget('too-many', { color: 'red', replicas: 20, maxReplicas: 5 }) });
    assert.equal(bad.status, 422, bad.text);
    assert.ok(String(bad.json.message).includes('spec: Invalid value: "object": replicas must not exceed maxReplicas'), bad.text);
    const ok = await h.call('POST', base, { body: widget('immutable', { color: 'red' }) });
    assert.equal(ok.status, 201, ok.text);
    const upd = await h.call('PATCH', `${base}/immutable`, { body: { spec: { color: 'blue' } }, contentType: 'application/merge-patch+json' });
    assert.equal(upd.status, 422, upd.text);
    assert.ok(String(upd.json.message).includes('spec: Invalid value: "object": color is immutable'), upd.text);
    const smp = await h.call('PATCH', `${base}/immutable`, { body: { spec: { replicas: 3 } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(smp.status, 415, smp.text);
    const fine = await h.call('PATCH', `${base}/immutable`, { body: { spec: { replicas: 3 } }, contentType: 'application/merge-patch+json' });
    assert.equal(fine.status, 200, fine.text);
    assert.equal((fine.json.metadata as { generation: number }).generation, 2);
  });

  it('merges list-type=map lists by key in server-side apply, with conflicts on shared fields', async () => {
    const apply = (manager: string, spec: Record<string, unknown>, force = false) =>
      h.call('PATCH', `${base}/ssa?fieldManager=${manager}${force ? '&force=true' : ''}`, { raw: JSON.stringify(widget('ssa', spec)), contentType: 'application/apply-patch+yaml' });
    assert.equal((await apply('alice', { color: 'red', ports: [{ name: 'http', port: 80 }] })).status, 201);
    const bob = await apply('bob', { color: 'red', ports: [{ name: 'metrics', port: 9090 }] });
    assert.equal(bob.status, 200, bob.text);
    assert.deepEqual((bob.json.spec as { ports: unknown[] }).ports, [{ name: 'http', port: 80 }, { name: 'metrics', port: 9090 }]);
    const conflict = await apply('bob', { color: 'red', ports: [{ name: 'http', port: 8080 }] });
    assert.equal(conflict.status, 409, conflict.text);
    assert.match(String(conflict.json.message), /conflict with "alice"/);
  });

  it('refuses a CRD whose schema cannot be compiled (a pattern that is no regular expression)', async () => {
    const crd = widgetCrd({ group: 'regex.ketch.dev' }) as { spec: { versions: { schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }[] } };
    crd.spec.versions[0]!.schema.openAPIV3Schema.properties.bad = { type: 'string', pattern: '([a-z' };
    const r = await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(r.status, 422, r.text);
    assert.match(String(r.json.message), /spec.versions\[0\].schema.openAPIV3Schema: Invalid value: "object": cannot be compiled: .*Invalid regular expression/);
  });

  it('refuses a CRD whose rules cannot compile or cost too much, and one that is not structural', async () => {
    const crd = widgetCrd({ group: 'bad.ketch.dev' }) as { spec: { versions: { schema: { openAPIV3Schema: Record<string, unknown> } }[] } };
    const root = crd.spec.versions[0]!.schema.openAPIV3Schema as { properties: Record<string, Record<string, unknown>> };
    root.properties.spec!['x-kubernetes-validations'] = [{ rule: 'self.replicas <=' }];
    root.properties.list = { type: 'array', items: { type: 'array', items: { type: 'string' } }, 'x-kubernetes-validations': [{ rule: 'self.all(x, x.all(y, self.all(z, z.size() > 0)))' }] };
    root.properties.untyped = { properties: { a: { type: 'string' } } };
    // Patterns that backtrack without bound in JavaScript's engine (kube's RE2 has none) are refused.
    root.properties.evil = { type: 'string', pattern: '^(a+)+$', 'x-kubernetes-validations': [{ rule: "self.matches('(x*)*y')" }] };
    const r = await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(r.status, 422, r.text);
    const msg = String(r.json.message);
    assert.match(msg, /x-kubernetes-validations\[0\]\.rule: Invalid value: "self.replicas <=": compilation failed/);
    assert.match(msg, /properties\[list\]\.x-kubernetes-validations\[0\]\.rule: Forbidden: estimated rule cost exceeds budget by factor of/);
    assert.match(msg, /properties\[untyped\]\.type: Required value: must not be empty for specified object fields/);
    assert.match(msg, /properties\[evil\]\.pattern: Forbidden: may backtrack without bound/);
    assert.match(msg, /properties\[evil\]\.x-kubernetes-validations\[0\]\.rule: Invalid value: .*compilation failed: the pattern "\(x\*\)\*y" may backtrack without bound/);
  });

  it('serves kubectl: get with printer columns, field selectors, explain, scale, get all', async () => {
    const apply = await kubectl(kc, ['apply', '-f', '-'], stringify(widget('kw', { color: 'green', replicas: 2 })));
    assert.equal(apply.code, 0, apply.stderr);
    const get = await kubectl(kc, ['get', 'widgets']);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^NAME\s+REPLICAS\s+COLOR\s+AGE\n/);
    assert.match(get.stdout, /\nkw\s+2\s+green\s+\d+s\n/);
    const byShort = await kubectl(kc, ['get', 'wd', 'kw', '-o', 'jsonpath={.spec.color}']);
    assert.equal(byShort.stdout, 'green', byShort.stderr);
    const sel = await kubectl(kc, ['get', 'widgets', '--field-selector', 'spec.color=green', '-o', 'name']);
    assert.equal(sel.stdout.trim(), 'widget.example.ketch.dev/kw', sel.stderr);
    const explain = await kubectl(kc, ['explain', 'widgets.spec.color']);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /The color of the widget\./);
    const scale = await kubectl(kc, ['scale', 'widget/kw', '--replicas=4']);
    assert.equal(scale.code, 0, scale.stderr);
    const after = await h.call('GET', `${base}/kw`);
    assert.equal((after.json.spec as { replicas: number }).replicas, 4);
    const sc = await h.call('GET', `${base}/kw/scale`);
    assert.deepEqual(sc.json.spec, { replicas: 4 });
    const all = await kubectl(kc, ['get', 'all']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /widget\.example\.ketch\.dev\/kw/);
    const bad = await kubectl(kc, ['apply', '-f', '-'], stringify(widget('kbad', { color: 'red', replicas: 'x' })));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"/);
  });

  it('writes status only through /status and watches', async () => {
    const w = await h.watch(`${base}?watch=true&fieldSelector=metadata.name%3Dwatched`);
    await h.call('POST', base, { body: { ...widget('watched', { color: 'blue' }), status: { replicas: 9 } } });
    const added = await w.next(5000);
    assert.equal(added?.type, 'ADDED');
    assert.equal((added?.object as { status?: unknown }).status, undefined);
    const st = await h.call('PATCH', `${base}/watched/status`, { body: { status: { replicas: 2 } }, contentType: 'application/merge-patch+json' });
    assert.equal(st.status, 200, st.text);
    const mod = await w.next(5000);
    assert.equal(mod?.type, 'MODIFIED');
    assert.deepEqual((mod?.object as { status?: unknown }).status, { replicas: 2 });
    w.close();
  });

  it('a status patch leaves the rest as stored, a field the schema has since dropped included', async () => {
    // Patches are applied to the stored object without a copy of it; pruning the patched object must not reach into
    // what it shares with the stored one.
    const group = 'pruned.ketch.dev';
    const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`;
    const created = await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: widgetCrd({ group }) });
    assert.equal(created.status, 201, created.text);
    await established(h, `widgets.${group}`);
    const path = `/apis/${group}/v1/namespaces/default/widgets`;
    const w = await h.call('POST', path, { body: { ...widget('kept', { color: 'red', code: 'abc' }), apiVersion: `${group}/v1` } });
    assert.equal(w.status, 201, w.text);
    // The schema drops spec.code; the stored object keeps it.
    const crd = (await h.call('GET', crdPath)).json as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }[] } };
    delete crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.code;
    const put = await h.call('PUT', crdPath, { body: crd });
    assert.equal(put.status, 200, put.text);
    await waitFor(
      async () => {
        const probe = await h.call('POST', `${path}?dryRun=All`, { body: { ...widget('probe', { color: 'red', code: 'abc' }), apiVersion: `${group}/v1` } });
        return probe.status === 201 && (probe.json.spec as Record<string, unknown>).code === undefined;
      },
      { timeoutMs: 5000, what: 'the schema without spec.code served' },
    );
    const before = (await h.call('GET', `${path}/kept`)).json.spec;
    const st = await h.call('PATCH', `${path}/kept/status`, { body: { status: { replicas: 3 } }, contentType: 'application/merge-patch+json' });
    assert.equal(st.status, 200, st.text);
    assert.deepEqual((st.json.status as Record<string, unknown>).replicas, 3);
    assert.deepEqual(st.json.spec, before);
    for (const q of ['', '?resourceVersion=0']) assert.deepEqual((await h.call('GET', `${path}/kept${q}`)).json.spec, before, `GET${q}`);
    const main = await h.call('PATCH', `${path}/kept`, { body: { spec: { replicas: 2 } }, contentType: 'application/merge-patch+json' });
    assert.equal(main.status, 200, main.text);
    assert.equal((main.json.spec as Record<string, unknown>).code, undefined, 'a write of the object drops the field');
    assert.equal((main.json.spec as Record<string, unknown>).replicas, 2);
    await h.call('DELETE', crdPath);
  });

  it('refuses a CRD whose names another CRD holds', async () => {
    const crd = widgetCrd() as { metadata: { name: string }; spec: { names: { plural: string; kind: string } } };
    crd.metadata.name = 'gadgets.example.ketch.dev';
    crd.spec.names.plural = 'gadgets';
    const r = await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(r.status, 201, r.text);
    await waitFor(async () => {
      const g = await h.call('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.ketch.dev');
      const c = ((g.json.status as { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined)?.conditions ?? []).find((x) => x.type === 'NamesAccepted');
      return c?.status === 'False' && c.reason === 'KindConflict' && c.message === '"Widget" is already in use';
    }, { what: 'KindConflict' });
    const notServed = await h.call('GET', '/apis/example.ketch.dev/v1/namespaces/default/gadgets');
    assert.equal(notServed.status, 404);
  });

  it('deletes the objects of a deleted CRD first, then the CRD, then stops serving', async () => {
    await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: widgetCrd({ group: 'gone.ketch.dev' }) });
    await established(h, 'widgets.gone.ketch.dev');
    const path = '/apis/gone.ketch.dev/v1/namespaces/default/widgets';
    for (const n of ['a', 'b']) assert.equal((await h.call('POST', path, { body: { ...widget(n, { color: 'red' }), apiVersion: 'gone.ketch.dev/v1' } })).status, 201);
    const del = await h.call('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.gone.ketch.dev');
    assert.ok(del.status === 200 || del.status === 202, del.text);
    await waitFor(async () => (await h.call('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.gone.ketch.dev')).status === 404, { what: 'CRD gone' });
    assert.equal((await h.call('GET', path)).status, 404);
    const keys = await h.storage.list('/registry/gone.ketch.dev/');
    assert.equal(keys.items.length, 0);
  });
});
