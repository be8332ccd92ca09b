// A CRD with two versions: conversion None (one stored form under both apiVersions) and conversion by a webhook (a
// test HTTPS server answering ConversionReviews, reached by URL with its caBundle): both versions are served.
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.js';
import { startWebhookServer, type WebhookServer } from '../support/webhook-server.js';
import { kubectl } from '../support/kubectl.js';
import { established } from '../support/crds.js';

const spec = (props: Record<string, unknown>) => ({ openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: props } } } });

function twoVersions(group: string, conversion: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `things.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'things', singular: 'thing', kind: 'Thing' },
      conversion,
      versions: [
        { name: 'v1', served: true, storage: true, schema: spec({ color: { type: 'string' } }) },
        { name: 'v2', served: true, storage: false, schema: spec({ colour: { type: 'string' } }), additionalPrinterColumns: [{ name: 'Colour', type: 'string', jsonPath: '.spec.colour' }] },
      ],
    },
  };
}


describe('CRD versions and conversion', function () {
  this.timeout(60_000);
  let h: Harness;
  let wh: WebhookServer;
  before(async () => {
    h = await startHarness();
    wh = await startWebhookServer();
    // v1 spec.color <-> v2 spec.colour.
    wh.handle('/convert', (review) => {
      const req = review.request as { uid: string; desiredAPIVersion: string; objects: { apiVersion: string; spec?: Record<string, unknown> }[] };
      const convertedObjects = req.objects.map((o) => {
        const s = { ...(o.spec ?? {}) };
        if (req.desiredAPIVersion.endsWith('/v2')) {
          s.colour = s.color;
          delete s.color;
        } else {
          s.color = s.colour;
          delete s.colour;
        }
        return { ...o, apiVersion: req.desiredAPIVersion, spec: s };
      });
      return { apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview', response: { uid: req.uid, convertedObjects, result: { status: 'Success' } } };
    });
  });
  after(async () => {
    await h.stop();
    await wh.close();
  });

  it('conversion None serves the stored objects under either apiVersion', async () => {
    await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: twoVersions('none.ketch.dev', { strategy: 'None' }) });
    await established(h, 'things.none.ketch.dev', 10_000);
    const c = await h.call('POST', '/apis/none.ketch.dev/v1/namespaces/default/things', { body: { apiVersion: 'none.ketch.dev/v1', kind: 'Thing', metadata: { name: 'a' }, spec: { color: 'red' } } });
    assert.equal(c.status, 201, c.text);
    const v2 = await h.call('GET', '/apis/none.ketch.dev/v2/namespaces/default/things/a');
    assert.equal(v2.json.apiVersion, 'none.ketch.dev/v2', v2.text);
    const group = await h.call('GET', '/apis/none.ketch.dev');
    assert.equal((group.json.preferredVersion as { version: string }).version, 'v2');
  });

  it('conversion by webhook: writes in either version are stored in v1, reads in v2 come converted, watches too', async () => {
    const crd = twoVersions('conv.ketch.dev', { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: wh.url('/convert'), caBundle: wh.caBundle } } });
    const r = await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(r.status, 201, r.text);
    await established(h, 'things.conv.ketch.dev', 10_000);
    const base = (v: string) => `/apis/conv.ketch.dev/${v}/namespaces/default/things`;
    const w = await h.watch(`${base('v2')}?watch=true`);
    const c1 = await h.call('POST', base('v1'), { body: { apiVersion: 'conv.ketch.dev/v1', kind: 'Thing', metadata: { name: 'one' }, spec: { color: 'red' } } });
    assert.equal(c1.status, 201, c1.text);
    const got = await h.call('GET', `${base('v2')}/one`);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json.spec, { colour: 'red' });
    assert.equal(got.json.apiVersion, 'conv.ketch.dev/v2');
    const ev = await w.next(5000);
    assert.equal(ev?.type, 'ADDED');
    assert.deepEqual((ev?.object as { spec: unknown }).spec, { colour: 'red' });
    w.close();

    const c2 = await h.call('POST', base('v2'), { body: { apiVersion: 'conv.ketch.dev/v2', kind: 'Thing', metadata: { name: 'two' }, spec: { colour: 'blue' } } });
    assert.equal(c2.status, 201, c2.text);
    assert.deepEqual(c2.json.spec, { colour: 'blue' });
    const stored = await h.storage.get('/registry/conv.ketch.dev/things/default/two');
    assert.deepEqual((JSON.parse(Buffer.from(stored!.value).toString('utf8')) as { spec: unknown }).spec, { color: 'blue' });
    const asV1 = await h.call('GET', `${base('v1')}/two`);
    assert.deepEqual(asV1.json.spec, { color: 'blue' });

    const list = await h.call('GET', base('v2'));
    assert.deepEqual((list.json.items as { spec: unknown }[]).map((i) => i.spec), [{ colour: 'red' }, { colour: 'blue' }]);
    const upd = await h.call('PATCH', `${base('v2')}/one`, { body: { spec: { colour: 'green' } }, contentType: 'application/merge-patch+json' });
    assert.equal(upd.status, 200, upd.text);
    assert.deepEqual((await h.call('GET', `${base('v1')}/one`)).json.spec, { color: 'green' });
    const k = await kubectl(h.api.adminKubeconfigPath, ['get', 'things.v2.conv.ketch.dev', 'one', '--no-headers']);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, /^one\s+green\s*$/m);
    assert.ok((wh.calls.get('/convert') ?? 0) > 0);
  });
});
