// /openapi/v2 against a real API server: the Swagger 2.0 JSON (with custom resources), ETags, and the protobuf form
// that kubectl's client-side validation reads (kubectl create -f of a review kind, which has no PATCH to validate by).
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { startHarness, type Harness } from './harness.js';
import { kubectl } from '../support/kubectl.js';
import { waitFor } from '../support/util.js';
import { widgetCrd } from '../support/crds.js';

describe('OpenAPI v2', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.stop());

  it('serves Swagger 2.0 JSON with kube definition names, $refs to #/definitions and an ETag', async () => {
    const r = await h.call('GET', '/openapi/v2');
    assert.equal(r.status, 200, r.text.slice(0, 200));
    assert.equal(r.json.swagger, '2.0');
    const defs = r.json.definitions as Record<string, Record<string, unknown>>;
    const pod = defs['io.k8s.api.core.v1.Pod'];
    assert.deepEqual(pod?.['x-kubernetes-group-version-kind'], [{ group: '', version: 'v1', kind: 'Pod' }]);
    assert.equal((pod?.properties as Record<string, { $ref?: string }>).metadata?.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
    const paths = r.json.paths as Record<string, Record<string, { parameters?: { in: string }[] }>>;
    assert.equal(paths['/api/v1/namespaces/{namespace}/pods']?.post?.parameters?.[0]?.in, 'body');
    const etag = String(r.headers.etag);
    const again = await h.call('GET', '/openapi/v2', { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
  });

  it('serves the protobuf form to kubectl, whose client-side validation of a review kind now works', async () => {
    const pb = await h.call('GET', '/openapi/v2', { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
    assert.equal(pb.status, 200);
    assert.equal(pb.headers['content-type'], 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'get', resource: 'pods' } } };
    const ok = await kubectl(h.api.adminKubeconfigPath, ['create', '-f', '-', '-o', 'jsonpath={.status.allowed}'], stringify(review));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'true');
    const bad = await kubectl(h.api.adminKubeconfigPath, ['create', '-f', '-'], stringify({ ...review, spec: { resourceAttributes: { verbb: 'get' } } }));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown field "verbb"|unknown field "spec.resourceAttributes.verbb"/);
  });

  it('includes custom resource schemas once their CRD is established', async () => {
    await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: widgetCrd() });
    await waitFor(async () => {
      const r = await h.call('GET', '/openapi/v2');
      const w = (r.json.definitions as Record<string, { properties?: Record<string, unknown> }>)['dev.ketch.example.v1.Widget'];
      return !!w?.properties?.spec;
    }, { what: 'Widget in /openapi/v2' });
  });
});
