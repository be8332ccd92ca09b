import assert from 'node:assert/strict';
import { openapiV3, openapiV3Paths } from './openapi.js';
import { isNotFound } from './errors.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

/** Every `$ref` anywhere in the value. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('openapiV3', () => {
  for (const gv of ['v1', 'apps/v1', 'batch/v1', 'coordination.k8s.io/v1']) {
    it(`builds a ${gv} document whose $refs all resolve`, () => {
      const doc = openapiV3(gv) as Doc;
      assert.equal(doc.openapi, '3.0.0');
      const all = refs(doc);
      assert.ok(all.length > 10);
      for (const r of all) {
        assert.match(r, /^#\/components\/schemas\//);
        assert.ok(doc.components.schemas[r.slice('#/components/schemas/'.length)], `unresolved ${r}`);
      }
      assert.ok(!JSON.stringify(doc).includes('"const"'), 'OpenAPI 3.0 has no const');
    });
  }

  it('names definitions like Kubernetes and carries the GVK extension', () => {
    const doc = openapiV3('v1') as Doc;
    const pod = doc.components.schemas['io.k8s.api.core.v1.Pod'];
    assert.ok(pod);
    assert.deepEqual(pod['x-kubernetes-group-version-kind'], [{ group: '', version: 'v1', kind: 'Pod' }]);
    assert.deepEqual((pod.properties as Record<string, unknown>).metadata, { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' });
    assert.ok(doc.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
    assert.ok(doc.components.schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString']?.['x-kubernetes-int-or-string']);
    const apps = openapiV3('apps/v1') as Doc;
    assert.deepEqual(apps.components.schemas['io.k8s.api.apps.v1.Deployment']?.['x-kubernetes-group-version-kind'], [{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
    assert.ok(apps.components.schemas['io.k8s.api.core.v1.PodSpec'], 'shared core types come along');
    assert.ok(apps.components.schemas['io.k8s.api.autoscaling.v1.Scale'], 'the scale subresource body');
    assert.equal(apps.components.schemas['io.k8s.api.core.v1.Pod'], undefined, 'other group kinds stay out');
  });

  it('keeps strategic merge patch metadata for kubectl apply', () => {
    const spec = (openapiV3('v1') as Doc).components.schemas['io.k8s.api.core.v1.PodSpec'];
    const containers = (spec?.properties as Record<string, Record<string, unknown>>).containers;
    assert.equal(containers?.['x-kubernetes-patch-merge-key'], 'name');
    assert.equal(containers?.['x-kubernetes-patch-strategy'], 'merge');
    assert.deepEqual(spec?.required, ['containers']);
  });

  it('describes the REST paths of each resource', () => {
    const doc = openapiV3('apps/v1') as Doc;
    const item = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'];
    assert.ok(item?.get && item.put && item.patch && item.delete);
    assert.equal((item.get as { operationId: string }).operationId, 'readAppsV1NamespacedDeployment');
    assert.ok(doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale']);
    assert.ok(doc.paths['/apis/apps/v1/deployments']);
    const core = openapiV3('v1') as Doc;
    assert.ok(core.paths['/api/v1/nodes/{name}/status']);
    assert.ok(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/binding']?.post);
  });

  it('is cached, frozen, and 404s for unknown group-versions', () => {
    assert.equal(openapiV3('v1'), openapiV3('v1'));
    assert.ok(Object.isFrozen(openapiV3('v1')));
    assert.throws(() => openapiV3('nope/v9'), isNotFound);
  });

  it('indexes the documents for /openapi/v3', () => {
    const paths = openapiV3Paths();
    assert.deepEqual(Object.keys(paths).sort(), [
      'api/v1',
      'apis/admissionregistration.k8s.io/v1',
      'apis/apiextensions.k8s.io/v1',
      'apis/apiregistration.k8s.io/v1',
      'apis/apps/v1',
      'apis/authentication.k8s.io/v1',
      'apis/authorization.k8s.io/v1',
      'apis/autoscaling/v1',
      'apis/autoscaling/v2',
      'apis/batch/v1',
      'apis/certificates.k8s.io/v1',
      'apis/coordination.k8s.io/v1',
      'apis/discovery.k8s.io/v1',
      'apis/policy/v1',
      'apis/rbac.authorization.k8s.io/v1',
      'apis/scheduling.k8s.io/v1',
      'apis/storage.k8s.io/v1',
    ]);
    assert.match(paths['apis/apps/v1']?.serverRelativeURL ?? '', /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]{128}$/);
  });
});
