// @kubernetes/client-node's ApiextensionsV1Api and CustomObjectsApi on a custom resource: create the CRD, then create,
// get, list, patch, scale and delete Widgets, and watch them with Watch.
import { strict as assert } from 'node:assert';
import type * as K8s from '@kubernetes/client-node';
import { startHarness, type Harness } from './harness.js';
import { widgetCrd } from '../support/crds.js';
import { waitFor } from '../support/util.js';

describe('@kubernetes/client-node CustomObjectsApi', function () {
  this.timeout(30_000);
  let h: Harness;
  let k8s: typeof K8s;
  let kc: K8s.KubeConfig;
  const group = 'example.ketch.dev';
  const version = 'v1';
  const plural = 'widgets';
  before(async () => {
    k8s = await import('@kubernetes/client-node');
    h = await startHarness();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(h.api.adminKubeconfigPath);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    // Created as JSON: client-node's model would drop the x-kubernetes-* keys written in their JSON spelling.
    const r = await h.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: widgetCrd() });
    assert.equal(r.status, 201, r.text);
    await waitFor(async () => {
      const crd = await ext.readCustomResourceDefinition({ name: 'widgets.example.ketch.dev' });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    }, { what: 'established' });
  });
  after(async () => {
    await h?.stop();
  });

  it('creates, reads, lists, patches, scales and deletes custom objects, and refuses invalid ones', async () => {
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const created = (await api.createNamespacedCustomObject({ group, version, plural, namespace: 'default', body: { apiVersion: `${group}/${version}`, kind: 'Widget', metadata: { name: 'w1' }, spec: { color: 'red' } } })) as { spec: { replicas: number } };
    assert.equal(created.spec.replicas, 1);
    const got = (await api.getNamespacedCustomObject({ group, version, plural, namespace: 'default', name: 'w1' })) as { spec: { color: string } };
    assert.equal(got.spec.color, 'red');
    const list = (await api.listNamespacedCustomObject({ group, version, plural, namespace: 'default' })) as { items: { metadata: { name: string } }[] };
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['w1']);
    const patched = (await api.patchNamespacedCustomObject(
      { group, version, plural, namespace: 'default', name: 'w1', body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] },
    )) as { spec: { replicas: number } };
    assert.equal(patched.spec.replicas, 3);
    const scale = (await api.getNamespacedCustomObjectScale({ group, version, plural, namespace: 'default', name: 'w1' })) as { spec: { replicas: number } };
    assert.equal(scale.spec.replicas, 3);
    await assert.rejects(
      api.createNamespacedCustomObject({ group, version, plural, namespace: 'default', body: { apiVersion: `${group}/${version}`, kind: 'Widget', metadata: { name: 'bad' }, spec: { color: 'red', replicas: 'x' } } }),
      (err: { code?: number; body?: string }) => err.code === 422 && String(err.body).includes('spec.replicas in body must be of type integer'),
    );
    await api.deleteNamespacedCustomObject({ group, version, plural, namespace: 'default', name: 'w1' });
    await assert.rejects(api.getNamespacedCustomObject({ group, version, plural, namespace: 'default', name: 'w1' }), (err: { code?: number }) => err.code === 404);
  });

  it('watches custom objects with Watch', async () => {
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const ctl = await watch.watch(`/apis/${group}/${version}/namespaces/default/${plural}`, {}, (phase, obj: { metadata?: { name?: string } }) => events.push(`${phase}:${obj.metadata?.name ?? ''}`), () => undefined);
    try {
      await api.createNamespacedCustomObject({ group, version, plural, namespace: 'default', body: { apiVersion: `${group}/${version}`, kind: 'Widget', metadata: { name: 'watched' }, spec: { color: 'blue' } } });
      await api.patchNamespacedCustomObject({ group, version, plural, namespace: 'default', name: 'watched', body: [{ op: 'replace', path: '/spec/replicas', value: 2 }] });
      await api.deleteNamespacedCustomObject({ group, version, plural, namespace: 'default', name: 'watched' });
      await waitFor(() => events.length >= 3, { what: `three events, saw ${events.join(',')}` });
      assert.deepEqual(events, ['ADDED:watched', 'MODIFIED:watched', 'DELETED:watched']);
    } finally {
      ctl.abort();
    }
  });
});
